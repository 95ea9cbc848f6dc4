"""The demo logs, prompts and programs the headless tests script their agents with."""

LOGS = ("3b3570b4-7b0b-3268-a571-b0889dbf40b6", "3bffdcff-c3a7-38b6-a0f2-64196d130958")
STOPPED = "stopped car"
BICYCLE = "vehicle with a bicycle to its right"


def program(body: str) -> str:
    return body + "output_scenario(found, description, log_dir, output_dir)\n"


STOPPED_PROGRAM = program(
    "cars = get_objects_of_category(log_dir, category='REGULAR_VEHICLE')\n"
    "found = scenario_or([has_velocity(cars, log_dir, min_velocity=0, max_velocity=0.5), stationary(cars, log_dir)])\n"
)  # Timestamp BA 1.0 on the demo's ground truth
BICYCLES_PROGRAM = program(
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "bicycles = get_objects_of_category(log_dir, category='BICYCLE')\n"
    "found = get_objects_in_relative_direction(vehicles, bicycles, log_dir, direction='right', within_distance=10)\n"
)  # Timestamp BA 0.68
VEHICLES_PROGRAM = program("found = get_objects_of_category(log_dir, category='VEHICLE')\n")
BROKEN_PROGRAM = program("found = undefined_helper(log_dir)\n")
CHEATING_PROGRAM = program(
    "cars = get_objects_of_category(log_dir, category='REGULAR_VEHICLE')\n"
    "found = {k: v for k, v in cars.items() if k == 'a2f5a1a4-1a2b-4c3d-8e9f-0123456789ab'}\n"
)
