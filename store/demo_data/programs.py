"""Example scenario programs that ``avmine demo`` runs through the sandboxed executor.

The first two answer the demo's ground-truth prompts (so the demo can score them); the others
are RefAV's own examples. Each refers the object its prompt mentions first, RefAV's convention (its
README: a REFERRED_OBJECT is "the object referenced first in the prompt"). The demo's ground truth for
"vehicle with a bicycle to its right" is av2's evaluation fixture, which deviates from it (it refers 5
bicycles and 2 vehicles), so the convention's program scores lower there than one that refers the bicycles.
"""

PROGRAMS = {
    "vehicle with a bicycle to its right": """
vehicles = get_objects_of_category(log_dir, category='VEHICLE')
bicycles = get_objects_of_category(log_dir, category='BICYCLE')
vehicles_with_bicycle_right = has_objects_in_relative_direction(vehicles, bicycles, log_dir, direction='right',
                                                                within_distance=10)
output_scenario(vehicles_with_bicycle_right, description, log_dir, output_dir)
""",
    "stopped car": """
cars = get_objects_of_category(log_dir, category='REGULAR_VEHICLE')
stopped = scenario_or([has_velocity(cars, log_dir, min_velocity=0, max_velocity=0.5), stationary(cars, log_dir)])
output_scenario(stopped, description, log_dir, output_dir)
""",
    "vehicle turning left": """
vehicles = get_objects_of_category(log_dir, category='VEHICLE')
output_scenario(turning(vehicles, log_dir, direction='left'), description, log_dir, output_dir)
""",
    "jaywalking pedestrian": """
peds = get_objects_of_category(log_dir, category='PEDESTRIAN')
peds_on_road = on_road(peds, log_dir)
jaywalking_peds = scenario_not(at_pedestrian_crossing)(peds_on_road, log_dir)
output_scenario(jaywalking_peds, description, log_dir, output_dir)
""",
}
