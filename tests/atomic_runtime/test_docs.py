"""The docs registry is generated from the functions and complete enough for an agent to write programs."""

from __future__ import annotations

import inspect

from avmine import atomic
from avmine.atomic import docs


def test_every_function_has_complete_docs() -> None:
    registry = docs.registry()
    assert set(registry) == set(atomic.FUNCTIONS)
    for name, entry in registry.items():
        assert entry.summary, name
        assert entry.summary.endswith("."), name
        for parameter, meaning in entry.parameters.items():
            assert meaning and not meaning.startswith("default"), f"{name}.{parameter} has no meaning"
        assert entry.example or entry.kind in ("combinator", "wrapper"), f"{name} has no example"


def test_signatures_are_refav_signatures() -> None:
    registry = docs.registry()
    assert registry["near_objects"].signature == (
        "near_objects(track_uuid, candidate_uuids, log_dir, distance_thresh=10, min_objects=1, include_self=False)"
    )
    assert registry["get_objects_of_category"].signature == "get_objects_of_category(log_dir, category)"
    assert registry["turning"].kind.startswith("filter")
    assert registry["being_crossed_by"].kind.startswith("relational")
    assert list(inspect.signature(atomic.FUNCTIONS["has_velocity"]).parameters)[:2] == ["track_candidates", "log_dir"]


def test_examples_call_the_function_they_document() -> None:
    for name, entry in docs.registry().items():
        if entry.example:
            assert name in entry.example, name


def test_search_finds_by_meaning_words() -> None:
    assert "being_crossed_by" in [d.name for d in docs.search("crossed in front")[:2]]
    assert docs.search("pedestrian crossing")[0].name == "at_pedestrian_crossing"
    assert "near_objects" in [d.name for d in docs.search("near multiple objects")[:3]]
    assert docs.search("zzzz") == []


def test_search_puts_the_named_function_first_however_spelt() -> None:
    import avmine.vlm.program_functions  # noqa: F401  (the VLM functions are listed too, as the server lists them)

    for query in ("u-turn", "u turn", "U_Turn", "uturn"):
        assert docs.search(query)[0].name == "u_turn", query
    for query in ("has_velocity", "has velocity", "has-velocity"):
        assert docs.search(query)[0].name == "has_velocity", query
    assert docs.search("three point turn")[0].name == "three_point_turn"
    assert docs.search("changing lanes")[0].name == "changing_lanes"


def test_search_finds_common_phrasings() -> None:
    import avmine.vlm.program_functions  # noqa: F401

    expected = {
        "stopped car": "has_velocity",
        "parked car": "stationary",
        "lane change": "changing_lanes",
        "vehicle turning left": "turning",
        "vehicle with a bicycle to its right": "has_objects_in_relative_direction",
        "pedestrian crossing in front of a car": "being_crossed_by",
        "car in the same lane": "in_same_lane",
        "stop sign": "at_stop_sign",
        "braking": "braking",
        "fast": "has_velocity",
        "jaywalking": "at_pedestrian_crossing",
        "near multiple objects": "near_objects",
        "ego vehicle": "get_objects_of_category",
        "police car": "is_specific_object_type",
    }
    for query, name in expected.items():
        found = [d.name for d in docs.search(query)]
        assert found[0] == name, (query, found)
    vision = {n for n, d in docs.registry().items() if d.kind.startswith("vision")}
    assert vision and not vision & {d.name for d in docs.search("stopped car")[:3]}
    for said, names in docs.SYNONYMS.items():
        assert set(names) <= set(atomic.FUNCTIONS), said


def test_categories_listed_once_with_meanings() -> None:
    cats = docs.categories()
    assert len(cats) == 33
    assert "PEDESTRIAN" in cats and "VEHICLE" in cats and all(cats.values())
