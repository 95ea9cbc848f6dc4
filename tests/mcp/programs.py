"""The log and programs the MCP tests call tools with."""

LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"
TURNING_TRACK = "7bd6176d-1b50-4df6-833d-231f735f3b96"  # turns left in the demo log (RefAV agrees)
LEFT_TURNS = (
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "output_scenario(turning(vehicles, log_dir, direction='left'), description, log_dir, output_dir)\n"
)
BICYCLE_PROMPT = "vehicle with a bicycle to its right"
BICYCLES = (
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "bicycles = get_objects_of_category(log_dir, category='BICYCLE')\n"
    "found = get_objects_in_relative_direction(vehicles, bicycles, log_dir, direction='right', within_distance=10)\n"
    "output_scenario(found, description, log_dir, output_dir)\n"
)
SPIN = "n = 0\nwhile n >= 0:\n    n += 1\n"
"""Prepended to a program: it runs until stopped."""


def of_category(category: str) -> str:
    """A program referring to every object of a category."""
    return (
        f"found = get_objects_of_category(log_dir, category={category!r})\n"
        "output_scenario(found, description, log_dir, output_dir)\n"
    )
