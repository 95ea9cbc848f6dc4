import copy
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from avmine.atomic.scenario import (
    Scenario,
    ScenarioValue,
    as_scenario,
    copy_value,
    is_empty,
    prune,
    prune_in_place,
    restrict,
    timestamps,
    to_scenario_dict,
    track_dict,
)
from avmine.atomic.timelines import StaticTimelines, Timelines, resolve_context, set_context_resolver
from tests.atomic._support import LOG_DIR, FakeLog, scenarios, time_sets, values

# ---------------------------------------------------------------- timestamps


def test_timestamps_of_a_list_or_set_is_the_value_itself() -> None:
    unsorted = [5, 1, 5, 3]
    as_set = {2, 1}
    assert timestamps(unsorted) is unsorted
    assert timestamps(as_set) is as_set


def test_timestamps_of_a_dict_is_the_sorted_deduplicated_union_at_every_depth() -> None:
    value: ScenarioValue = {"p1": [4, 3, 4], "p2": {"c": {7, 3}, "d": {"e": [9]}}, "self": [], "x": {}}
    assert timestamps(value) == [3, 4, 7, 9]
    assert timestamps({}) == []


def test_timestamps_includes_a_self_key() -> None:
    assert timestamps({"a": [1, 2], "b": [5]}) == [1, 2, 5]


# ---------------------------------------------------------------- restrict


def test_restrict_a_list_or_set_gives_a_sorted_deduplicated_list() -> None:
    assert restrict([5, 1, 5, 3], [3, 5, 8]) == [3, 5]
    assert restrict({5, 1, 3}, {1, 5}) == [1, 5]
    assert restrict([], [1]) == []
    assert restrict([1, 2], []) == []


def test_restrict_a_dict_drops_children_left_empty_at_every_depth() -> None:
    value: ScenarioValue = {"p1": [1, 2], "p2": [5], "p3": {"c": [2, 9], "d": [7]}, "p4": {"e": {"f": [7]}}}
    assert restrict(value, [2, 3]) == {"p1": [2], "p3": {"c": [2]}}
    assert restrict(value, [42]) == {}


def test_restrict_accepts_any_iterable_of_timestamps_and_copies() -> None:
    value: ScenarioValue = {"p1": [1, 2, 3]}
    before = copy.deepcopy(value)
    out = restrict(value, (t for t in [2, 3]))
    assert out == {"p1": [2, 3]}
    assert value == before
    assert isinstance(out, dict) and out["p1"] is not value["p1"]


def test_restrict_spec_example() -> None:
    assert restrict({"p1": [1, 2], "p2": [5]}, [2, 3]) == {"p1": [2]}


# ---------------------------------------------------------------- prune


def test_prune_drops_keys_without_timestamps_at_every_depth() -> None:
    scenario: Scenario = {"a": [], "b": {"x": [], "y": [1]}, "c": {}, "d": {"e": {"f": []}}, "g": set(), "h": {2}}
    before = copy.deepcopy(scenario)
    assert prune(scenario) == {"b": {"y": [1]}, "h": {2}}
    assert scenario == before


def test_prune_keeps_unsorted_lists_and_self_keys_as_they_are() -> None:
    scenario: Scenario = {"a": {"a": [3, 1, 3], "b": []}}
    assert prune(scenario) == {"a": {"a": [3, 1, 3]}}


def test_prune_returns_new_objects() -> None:
    scenario: Scenario = {"a": {"b": [1]}, "c": [2]}
    out = prune(scenario)
    assert out is not scenario and out["a"] is not scenario["a"] and out["c"] is not scenario["c"]


def test_prune_in_place_mutates_the_argument_and_returns_none() -> None:
    scenario: Scenario = {"a": [], "b": {"x": [], "y": [1]}, "c": {}}
    inner = scenario["b"]
    prune_in_place(scenario)  # returns None by signature
    assert scenario == {"b": {"y": [1]}}
    assert scenario["b"] is inner


# ---------------------------------------------------------------- is_empty


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ({}, True),
        ({"a": []}, True),
        ({"a": {}}, True),
        ({"a": {"b": []}}, True),
        ({"a": {"b": {"c": []}}}, True),
        ({"a": [1]}, False),
        ({"a": [], "b": {"c": [1]}}, False),
        ({"a": {"b": {"c": [1]}}}, False),
        # RefAV's quirk: sets are not looked at.
        ({"a": {1, 2}}, True),
        ({"a": {"b": {3}}}, True),
        ({"a": {1}, "b": [2]}, False),
    ],
)
def test_is_empty(scenario: Scenario, expected: bool) -> None:
    assert is_empty(scenario) is expected


# ---------------------------------------------------------------- track_dict


def test_track_dict_keeps_top_level_uuids_with_timestamps() -> None:
    scenario: Scenario = {"a": [3, 1, 3], "b": [], "c": {"x": [2], "y": {"z": [1]}}, "d": {"x": []}, "e": {4}}
    out = track_dict(scenario)
    assert out == {"a": [3, 1, 3], "c": [1, 2], "e": {4}}
    assert out["a"] is not scenario["a"] and out["e"] is not scenario["e"]


# ---------------------------------------------------------------- to_scenario_dict

TIMELINES = StaticTimelines({"v1": [3, 1, 2], "v2": [2, 4], "p1": [4]})


def test_static_timelines_satisfy_the_protocol() -> None:
    assert isinstance(TIMELINES, Timelines)
    assert isinstance(FakeLog(tracks={}), Timelines)
    assert TIMELINES.uuids() == ["v1", "v2", "p1"]
    assert TIMELINES.timeline("v1") == [1, 2, 3]
    assert TIMELINES.timeline("nope") == []
    assert TIMELINES.uuids_at(4) == ["v2", "p1"]


def test_dict_input_is_deep_copied() -> None:
    source: Scenario = {"a": {"b": [1, 2]}, "c": {3}}
    out = to_scenario_dict(source, TIMELINES)
    assert out == source
    assert out["a"] is not source["a"]
    out["a"]["b"].append(9)
    assert source == {"a": {"b": [1, 2]}, "c": {3}}


def test_list_and_array_of_uuids_get_full_timelines() -> None:
    assert to_scenario_dict(["v2", "v1"], TIMELINES) == {"v2": [2, 4], "v1": [1, 2, 3]}
    out = to_scenario_dict(np.array(["v1", "p1"]), TIMELINES)
    assert out == {"v1": [1, 2, 3], "p1": [4]}
    assert all(type(key) is str for key in out)


def test_one_uuid_string() -> None:
    assert to_scenario_dict("v2", TIMELINES) == {"v2": [2, 4]}


def test_unknown_uuid_gets_an_empty_timeline_and_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    assert to_scenario_dict(["v1", "ghost"], TIMELINES) == {"v1": [1, 2, 3], "ghost": []}
    assert "ghost" in capsys.readouterr().out
    assert to_scenario_dict("ghost", TIMELINES) == {"ghost": []}


def test_int_timestamp_gives_every_uuid_present_then(capsys: pytest.CaptureFixture[str]) -> None:
    assert to_scenario_dict(2, TIMELINES) == {"v1": [2], "v2": [2]}
    assert capsys.readouterr().out == ""
    assert to_scenario_dict(99, TIMELINES) == {}
    assert "99" in capsys.readouterr().out


@pytest.mark.parametrize("other", [None, ("v1",), {"v1"}, 2.0, np.int64(2)])
def test_anything_else_warns_and_gives_every_object(other: object, capsys: pytest.CaptureFixture[str]) -> None:
    # np.int64 included: RefAV checks `isinstance(x, int)`, which numpy integers fail.
    assert to_scenario_dict(other, TIMELINES) == {"v1": [1, 2, 3], "v2": [2, 4], "p1": [4]}
    assert "all objects" in capsys.readouterr().out


def test_timelines_handed_out_are_copies() -> None:
    shared = [1, 2]

    class Cached:
        def uuids(self) -> list[str]:
            return ["a"]

        def timeline(self, uuid: str) -> list[int]:
            return shared

        def uuids_at(self, timestamp_ns: int) -> list[str]:
            return ["a"]

    out = to_scenario_dict("a", Cached())
    out["a"].append(3)
    assert shared == [1, 2]


def test_as_scenario_needs_no_log_for_a_dict() -> None:
    previous = set_context_resolver(None)
    try:
        assert as_scenario({"a": [1]}, LOG_DIR) == {"a": [1]}
        with pytest.raises(RuntimeError, match="resolver"):
            as_scenario(["a"], LOG_DIR)
    finally:
        set_context_resolver(previous)


def test_resolve_context_converts_strings_to_paths() -> None:
    seen: list[object] = []

    def resolver(log_dir: Path) -> Timelines:
        seen.append(log_dir)
        return TIMELINES

    previous = set_context_resolver(resolver)
    try:
        assert resolve_context("/logs/x") is TIMELINES
        assert seen == [Path("/logs/x")]
    finally:
        set_context_resolver(previous)


# ---------------------------------------------------------------- properties


@given(values, time_sets)
def test_restrict_is_idempotent_and_restricts_timestamps(value: ScenarioValue, keep: set[int]) -> None:
    once = restrict(value, keep)
    assert restrict(once, keep) == once
    assert set(timestamps(once)) == set(timestamps(value)) & keep


@given(values, time_sets)
def test_restrict_does_not_mutate(value: ScenarioValue, keep: set[int]) -> None:
    before = copy.deepcopy(value)
    restrict(value, keep)
    assert value == before


def _check_pruned(original: Scenario, pruned: Scenario) -> None:
    assert list(pruned) == [key for key, value in original.items() if len(timestamps(value)) > 0]
    for key, value in pruned.items():
        assert set(timestamps(value)) == set(timestamps(original[key]))
        if isinstance(value, dict):
            child = original[key]
            assert isinstance(child, dict)
            _check_pruned(child, value)
        else:
            assert value == original[key]


@given(scenarios)
def test_prune_removes_exactly_the_empty_keys(scenario: Scenario) -> None:
    before = copy.deepcopy(scenario)
    pruned = prune(scenario)
    assert scenario == before
    _check_pruned(scenario, pruned)
    assert prune(pruned) == pruned
    prune_in_place(scenario)
    assert scenario == pruned


@given(scenarios)
def test_track_dict_matches_timestamps(scenario: Scenario) -> None:
    out = track_dict(scenario)
    assert list(out) == [key for key, value in scenario.items() if len(timestamps(value)) > 0]
    for key, ts in out.items():
        assert set(ts) == set(timestamps(scenario[key]))


@given(scenarios)
def test_copy_value_is_equal_and_shares_nothing(scenario: Scenario) -> None:
    copied = copy_value(scenario)
    assert copied == scenario

    def ids(value: object) -> set[int]:
        found = {id(value)}
        if isinstance(value, dict):
            for child in value.values():
                found |= ids(child)
        return found

    assert not (ids(copied) & ids(scenario))


@given(st.lists(st.sampled_from(["v1", "v2", "p1", "zz"]), max_size=5))
def test_list_input_keys_follow_the_input(uuids: list[str]) -> None:
    out = to_scenario_dict(uuids, TIMELINES)
    assert list(out) == list(dict.fromkeys(uuids))
    for uuid in out:
        assert out[uuid] == TIMELINES.timeline(uuid)
