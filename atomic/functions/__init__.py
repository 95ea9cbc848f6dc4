"""The RefAV-compatible atomic functions, grouped by what they look at.

``FUNCTIONS`` maps each public name to its function, in the order the docs list them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from atomic.algebra import reverse_relationship, scenario_and, scenario_not, scenario_or
from atomic.functions.behaviours import (
    being_overtaken,
    braking,
    cutting_in,
    getting_in,
    getting_out,
    overtaking,
    passing,
    reversing,
    sustained,
    three_point_turn,
    u_turn,
    yielding,
)
from atomic.functions.carrying import moved_by_person
from atomic.functions.lane_splitting import lane_splitting
from atomic.functions.map import (
    at_pedestrian_crossing,
    at_stop_sign,
    changing_lanes,
    following,
    in_drivable_area,
    in_same_lane,
    near_intersection,
    on_intersection,
    on_lane_type,
    on_relative_side_of_road,
    on_road,
)
from atomic.functions.motion import accelerating, has_lateral_acceleration, has_velocity, stationary, turning
from atomic.functions.objects import get_objects_of_category, is_category, is_color
from atomic.functions.relations import (
    being_crossed_by,
    facing_toward,
    get_objects_in_relative_direction,
    has_objects_in_relative_direction,
    heading_in_relative_direction_to,
    heading_toward,
    near_objects,
)
from atomic.functions.road_rules import (
    double_parked,
    entering_drivable_area,
    leaving_drivable_area,
    merging,
    special_stopping,
    wrong_way,
)
from atomic.functions.roadside import on_shoulder, on_turn_only_lane, parallel_parking
from atomic.functions.robust import robust_accelerating, robust_has_velocity, robust_stationary, robust_turning
from atomic.functions.robust_relations import (
    robust_being_crossed_by,
    robust_changing_lanes,
    robust_facing_toward,
    robust_following,
    robust_get_objects_in_relative_direction,
    robust_has_objects_in_relative_direction,
    robust_heading_in_relative_direction_to,
    robust_heading_toward,
    robust_near_objects,
    robust_on_relative_side_of_road,
)
from atomic.output import output_scenario

FUNCTIONS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        has_objects_in_relative_direction,
        get_objects_in_relative_direction,
        get_objects_of_category,
        is_category,
        is_color,
        turning,
        changing_lanes,
        has_lateral_acceleration,
        facing_toward,
        heading_toward,
        accelerating,
        has_velocity,
        at_pedestrian_crossing,
        on_lane_type,
        near_intersection,
        on_intersection,
        being_crossed_by,
        near_objects,
        following,
        heading_in_relative_direction_to,
        stationary,
        at_stop_sign,
        in_drivable_area,
        on_road,
        in_same_lane,
        on_relative_side_of_road,
        scenario_and,
        scenario_or,
        reverse_relationship,
        scenario_not,
        output_scenario,
    )
}


EXTENSION_KINDS: dict[str, str] = {}
"""Functions added by higher layers (``register_functions``), with the kind the docs show for them."""


def register_functions(functions: dict[str, Callable[..., Any]], kind: str) -> None:
    """Add functions from a higher layer (the VLM functions) to every program's scope and to the docs.

    Raises:
        ValueError: a name that another function already has (each name is declared once), or a key
            that is not its function's name.
    """
    misnamed = sorted(name for name, func in functions.items() if getattr(func, "__name__", name) != name)
    if misnamed:
        raise ValueError(f"register each function under its own name: {', '.join(misnamed)}")
    taken = sorted(name for name, func in functions.items() if name in FUNCTIONS and FUNCTIONS[name] is not func)
    if taken:
        kinds = {name: EXTENSION_KINDS.get(name, "RefAV") for name in taken}
        raise ValueError(f"cannot replace {', '.join(f'{kinds[n]} function {n}' for n in taken)}: names are unique")
    FUNCTIONS.update(functions)
    EXTENSION_KINDS.update(dict.fromkeys(functions, kind))


register_functions(
    {f.__name__: f for f in (robust_turning, robust_changing_lanes, robust_has_velocity, robust_accelerating,
                             robust_stationary, robust_has_objects_in_relative_direction,
                             robust_get_objects_in_relative_direction, robust_heading_in_relative_direction_to,
                             robust_heading_toward, robust_facing_toward, robust_being_crossed_by,
                             robust_near_objects, robust_following, robust_on_relative_side_of_road, sustained)},
    "robust",
)  # fmt: skip
register_functions(
    {f.__name__: f for f in (u_turn, three_point_turn, braking, overtaking, being_overtaken, passing, wrong_way,
                             special_stopping, entering_drivable_area, leaving_drivable_area, cutting_in, getting_in,
                             getting_out, merging, yielding, reversing, double_parked, parallel_parking,
                             on_turn_only_lane, on_shoulder, moved_by_person, lane_splitting)},
    "behaviour",
)  # fmt: skip

__all__ = sorted(FUNCTIONS)
