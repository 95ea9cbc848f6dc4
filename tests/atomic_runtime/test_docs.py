"""The docs registry is generated from the functions and complete enough for an agent to write programs."""

from __future__ import annotations

import inspect

import atomic
from atomic import docs


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


def test_categories_listed_once_with_meanings() -> None:
    cats = docs.categories()
    assert len(cats) == 33
    assert "PEDESTRIAN" in cats and "VEHICLE" in cats and all(cats.values())
