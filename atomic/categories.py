"""Object categories: the one list of names and meanings, and RefAV's super-categories."""

from __future__ import annotations

import re

CATEGORIES: dict[str, str] = {
    "REGULAR_VEHICLE": "Ordinary passenger vehicle: car, van, pickup, SUV.",
    "PEDESTRIAN": "Person not riding a vehicle: walking, standing, sitting or lying.",
    "BOLLARD": "Short post that controls traffic.",
    "CONSTRUCTION_CONE": "Movable traffic cone.",
    "CONSTRUCTION_BARREL": "Movable traffic barrel.",
    "STOP_SIGN": "Red octagonal stop sign.",
    "BICYCLE": "The bicycle itself (human powered), with or without a rider.",
    "LARGE_VEHICLE": "Large motor vehicle not covered elsewhere: RV, fire truck, extended van.",
    "WHEELED_DEVICE": "Skateboard, scooter, segway, golf cart and similar.",
    "BUS": "Standard city bus.",
    "BOX_TRUCK": "Chassis-cab truck with a rigid box cargo area.",
    "SIGN": "Official traffic sign that is not a stop sign.",
    "TRUCK": "Other truck: delivery, mail, garbage, utility, ambulance, dump truck.",
    "MOTORCYCLE": "The motorcycle itself.",
    "BICYCLIST": "Person riding a bicycle.",
    "VEHICULAR_TRAILER": "Unpowered trailer towed by a vehicle.",
    "TRUCK_CAB": "Tractor or semi cab, the front of an articulated truck.",
    "MOTORCYCLIST": "Person riding a motorcycle or moped.",
    "DOG": "A dog.",
    "SCHOOL_BUS": "School bus.",
    "WHEELED_RIDER": "Person riding or carried by a wheeled device.",
    "STROLLER": "Push-cart for a baby.",
    "ARTICULATED_BUS": "Bendable city bus.",
    "MESSAGE_BOARD_TRAILER": "Trailer carrying an electronic message sign.",
    "MOBILE_PEDESTRIAN_SIGN": "Movable pedestrian-crossing sign.",
    "WHEELCHAIR": "Wheelchair or mobility scooter.",
    "RAILED_VEHICLE": "Train, tram or subway car.",
    "OFFICIAL_SIGNALER": "Person directing traffic.",
    "TRAFFIC_LIGHT_TRAILER": "Portable traffic-light unit.",
    "ANIMAL": "Another animal large enough to matter.",
}
"""AV2's object categories, most frequent first, with their meanings."""

PSEUDO_CATEGORIES: dict[str, str] = {
    "EGO_VEHICLE": "The data-collection car itself.",
    "ANY": "Every object in the log, the ego included.",
    "VEHICLE": "Any vehicle: EGO_VEHICLE, ARTICULATED_BUS, BOX_TRUCK, BUS, LARGE_VEHICLE, MOTORCYCLE, "
    "RAILED_VEHICLE, REGULAR_VEHICLE, SCHOOL_BUS, TRUCK, TRUCK_CAB.",
}
"""Names that select several categories (or the ego)."""

VEHICLE_MEMBERS = (
    "EGO_VEHICLE", "ARTICULATED_BUS", "BOX_TRUCK", "BUS", "LARGE_VEHICLE", "CAR", "MOTORCYCLE",
    "RAILED_VEHICLE", "REGULAR_VEHICLE", "SCHOOL_BUS", "TRUCK", "TRUCK_CAB",
)  # fmt: skip
"""What ``VEHICLE`` means in RefAV's code, in its order (``CAR`` is a nuScenes name, absent from AV2)."""

FREE_WILL = frozenset(
    {
        "ANIMAL", "OFFICIAL_SIGNALER", "RAILED_VEHICLE", "ARTICULATED_BUS", "WHEELED_RIDER", "SCHOOL_BUS",
        "MOTORCYCLIST", "TRUCK_CAB", "VEHICULAR_TRAILER", "BICYCLIST", "MOTORCYCLE", "TRUCK", "BOX_TRUCK",
        "BUS", "LARGE_VEHICLE", "PEDESTRIAN", "REGULAR_VEHICLE", "EGO_VEHICLE",
    }
)  # fmt: skip
"""Categories that move on their own (RefAV's ``has_free_will``)."""


def members(category: str) -> tuple[str, ...] | None:
    """The row categories a category name selects, in RefAV's order; None means every object."""
    if category == "ANY":
        return None
    if category == "VEHICLE":
        return VEHICLE_MEMBERS
    return (category,)


CATEGORY_COLOURS: dict[str, str] = {
    "EGO_VEHICLE": "#d62728",
    "REGULAR_VEHICLE": "#1f77b4",
    "PEDESTRIAN": "#ff7f0e",
    "BOLLARD": "#784b5a",
    "CONSTRUCTION_CONE": "#788778",
    "CONSTRUCTION_BARREL": "#96d296",
    "STOP_SIGN": "#c30087",
    "BICYCLE": "#69a569",
    "LARGE_VEHICLE": "#a50f2d",
    "WHEELED_DEVICE": "#9687a5",
    "BUS": "#78784b",
    "BOX_TRUCK": "#875a00",
    "SIGN": "#7800d2",
    "TRUCK": "#96b496",
    "MOTORCYCLE": "#1e6978",
    "BICYCLIST": "#4b694b",
    "VEHICULAR_TRAILER": "#d2c3e1",
    "TRUCK_CAB": "#b4b45a",
    "MOTORCYCLIST": "#698787",
    "DOG": "#e15a0f",
    "SCHOOL_BUS": "#2d78f0",
    "WHEELED_RIDER": "#f0b4ff",
    "STROLLER": "#786969",
    "ARTICULATED_BUS": "#875a96",
    "MESSAGE_BOARD_TRAILER": "#f04b96",
    "MOBILE_PEDESTRIAN_SIGN": "#c3d278",
    "WHEELCHAIR": "#b4d2b4",
    "RAILED_VEHICLE": "#b4874b",
    "OFFICIAL_SIGNALER": "#c378c3",
    "TRAFFIC_LIGHT_TRAILER": "#962d69",
    "ANIMAL": "#e178ff",
}
"""Each category's drawing colour (bird's-eye views, synthetic camera images): every category its own.

Chosen together with the map's and the highlight's colours (``avmine.server.render.bev``) so that any two differ
by a CIEDE2000 of at least 6, as seen with normal vision and as simulated for protanopia, deuteranopia and
tritanopia (tests/render/test_bev_colours.py), and stand out from the light drivable area.
"""
OTHER_COLOUR = "#2d1eff"
"""A category name outside AV2's (another dataset's): drawn in this colour and listed under its own name."""

_CATEGORY_WORDS: list[tuple[str, str]] = [
    (r"ego( vehicle| car)?", "EGO_VEHICLE"),
    (r"school bus(es)?", "SCHOOL_BUS"),
    (r"articulated bus(es)?", "ARTICULATED_BUS"),
    (r"bus(es)?", "BUS"),
    (r"box trucks?", "BOX_TRUCK"),
    (r"(semi|tractor)([- ]?(trucks?|cabs?))?|semis", "TRUCK_CAB"),
    (r"trucks?", "TRUCK"),
    (r"trailers?", "VEHICULAR_TRAILER"),
    (r"(bi)?cyclists?", "BICYCLIST"),
    (r"(bicycles?|bikes?)", "BICYCLE"),
    (r"motorcyclists?", "MOTORCYCLIST"),
    (r"motorcycles?", "MOTORCYCLE"),
    (r"(pedestrians?|persons?|people|jaywalk\w*|walkers?|m[ae]n|wom[ae]n|child(ren)?|kids?)", "PEDESTRIAN"),
    (r"strollers?", "STROLLER"),
    (r"wheelchairs?", "WHEELCHAIR"),
    (r"dogs?", "DOG"),
    (r"(construction )?cones?", "CONSTRUCTION_CONE"),
    (r"(construction )?barrels?", "CONSTRUCTION_BARREL"),
    (r"bollards?", "BOLLARD"),
    (r"stop signs?", "STOP_SIGN"),
    (r"(cars?|sedans?|suvs?)", "REGULAR_VEHICLE"),
    (r"vehicles?", "VEHICLE"),
]


def category_spans(text: str) -> list[tuple[int, int, str]]:
    """Where a text names categories: (start, end, category), in order, the longest phrase at a position.

    "pedestrian near a school bus" -> [(0, 10, PEDESTRIAN), (18, 28, SCHOOL_BUS)].
    """
    text = text.lower()
    hits: list[tuple[int, int, str]] = []
    for words, category in _CATEGORY_WORDS:
        hits += [(m.start(), -len(m.group(0)), category) for m in re.finditer(rf"\b{words}\b", text)]
    spans: list[tuple[int, int, str]] = []
    covered_until = -1
    for start, negative_length, category in sorted(hits):
        if start > covered_until:  # a shorter phrase inside a longer one ("bus" in "school bus") is not another object
            spans.append((start, start - negative_length, category))
            covered_until = start - negative_length - 1
    return spans


def prompt_categories(prompt: str) -> list[str]:
    """The categories a prompt names, in the order it names them (the longest phrase wins at a position).

    "vehicle with a bicycle to its right" -> [VEHICLE, BICYCLE].
    """
    return list(dict.fromkeys(category for *_, category in category_spans(prompt)))


def referred_category(prompt: str) -> str | None:
    """The category of the first object a prompt mentions (its referred objects), or None if it names none.

    "vehicle with a bicycle to its right" -> VEHICLE; "pedestrian near a bus" -> PEDESTRIAN.
    """
    named = prompt_categories(prompt)
    return named[0] if named else None
