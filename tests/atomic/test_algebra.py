import copy
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avmine.atomic import algebra
from avmine.atomic.algebra import (
    register_function,
    resolve_function,
    reverse_relationship,
    scenario_and,
    scenario_not,
    scenario_or,
    set_compat_mutation,
)
from avmine.atomic.lifting import relational
from avmine.atomic.scenario import Scenario, ScenarioValue, timestamps, track_dict
from tests.atomic._support import LOG_DIR, UUIDS, FakeLog, leaves, near_objects, scenarios, stationary

# ---------------------------------------------------------------- scenario_and (refAV/atomic_functions.py)


def test_and_spec_example_flat() -> None:
    out = scenario_and([{"a": [1, 2, 3, 4], "b": [1, 2], "c": []}, {"a": [3, 4, 5], "b": [7], "d": [1]}])
    assert out == {"a": {3, 4}, "b": set()}
    assert isinstance(out["a"], set)


def test_and_spec_example_list_then_dict_gives_a_self_key() -> None:
    out = scenario_and([{"a": [1, 2, 3, 4]}, {"a": {"x": [2, 3], "y": [4]}}])
    assert out == {"a": {"x": [2, 3], "y": [4], "a": [2, 3, 4]}}


def test_and_spec_example_dict_and_dict() -> None:
    out = scenario_and([{"a": {"x": [2, 3], "y": [4]}}, {"a": {"x": [3, 9], "w": [3]}}])
    assert out == {"a": {"x": {3}, "w": [3]}}


def test_and_dict_then_list_gives_a_self_key() -> None:
    assert scenario_and([{"a": {"x": [2, 3]}}, {"a": [2, 3, 4]}]) == {"a": {"x": [2, 3], "a": [2, 3]}}


def test_and_with_no_common_timestamps_keeps_an_empty_entry_in_refav_shape() -> None:
    assert scenario_and([{"a": [1]}, {"a": {"x": [2]}}]) == {"a": {"a": []}}
    assert scenario_and([{"a": {"x": [1]}}, {"a": {"y": [2]}}]) == {"a": {}}


def test_and_keeps_nested_structure_and_relationships_of_one_operand() -> None:
    out = scenario_and([{"a": {"x": {"y": [1, 2]}}}, {"a": [2]}])
    assert out == {"a": {"x": {"y": [2]}, "a": [2]}}


def test_and_key_with_no_timestamps_counts_as_absent() -> None:
    assert scenario_and([{"a": [1], "b": [1]}, {"a": [1], "b": []}]) == {"a": {1}}
    assert scenario_and([{"a": [1], "b": {"x": []}}, {"a": [1], "b": [1]}]) == {"a": {1}}


def test_and_of_three_and_of_one() -> None:
    assert scenario_and([{"a": [1, 2, 3]}, {"a": [2, 3]}, {"a": [3, 4]}]) == {"a": {3}}
    assert scenario_and([{"a": [3, 1, 3], "b": [], "c": {"x": [], "y": [2]}}]) == {"a": [1, 3], "c": {"y": [2]}}


def test_and_varargs_and_empty() -> None:
    a: Scenario = {"a": [1, 2]}
    b: Scenario = {"a": [2, 3]}
    assert scenario_and(a, b) == scenario_and([a, b]) == scenario_and((a, b)) == {"a": {2}}
    assert scenario_and([]) == {}
    with pytest.raises(TypeError):
        scenario_and([a], b)


# ---------------------------------------------------------------- scenario_or (refAV/atomic_functions.py)


def test_or_spec_example() -> None:
    out = scenario_or([{"a": [1, 2, 3, 4], "b": [1, 2], "c": []}, {"a": [3, 4, 5], "b": [7], "d": [1]}])
    assert out == {"a": {1, 2, 3, 4, 5}, "b": {1, 2, 7}, "c": [], "d": [1]}


def test_or_merges_dicts_recursively_and_lists_with_dicts_through_self_keys() -> None:
    first: Scenario = {"a": {"x": [1], "y": {"z": [2]}}, "b": [1], "c": {"p": [5]}}
    second: Scenario = {"a": {"x": [2], "y": {"z": [3], "w": [4]}}, "b": {"q": [2]}, "c": [6]}
    assert scenario_or([first, second]) == {
        "a": {"x": {1, 2}, "y": {"z": {2, 3}, "w": [4]}},
        "b": {"q": [2], "b": [1]},
        "c": {"p": [5], "c": [6]},
    }


def test_or_varargs_and_empty() -> None:
    assert scenario_or({"a": [1]}, {"b": [2]}) == {"a": [1], "b": [2]}
    assert scenario_or([]) == {}
    assert scenario_or([{"a": [2, 1]}]) == {"a": [2, 1]}


def test_or_does_not_mutate_or_share_with_its_inputs() -> None:
    tracks: Scenario = {"a": [1, 2], "n": [7]}
    relations: Scenario = {"a": {"x": [3]}, "m": {"y": [4]}}
    before = copy.deepcopy([tracks, relations])
    out = scenario_or([tracks, relations])
    assert out == {"a": {"x": [3], "a": [1, 2]}, "n": [7], "m": {"y": [4]}}
    assert [tracks, relations] == before
    out["m"]["z"] = [9]
    out["a"]["x"].append(8)
    assert [tracks, relations] == before


@pytest.fixture
def compat() -> Iterator[None]:
    previous = set_compat_mutation(True)
    try:
        yield
    finally:
        set_compat_mutation(previous)


@pytest.mark.usefixtures("compat")
def test_or_compat_mode_reproduces_refav_mutation_and_sharing() -> None:
    tracks: Scenario = {"a": [1, 2]}
    relations: Scenario = {"a": {"x": [3]}, "m": {"y": [4]}}
    out = scenario_or([tracks, relations])
    assert relations["a"] == {"x": [3], "a": [1, 2]}  # the later operand received a self-key
    assert out["a"] is relations["a"] and out["m"] is relations["m"]
    assert tracks == {"a": [1, 2]}  # the first operand is deep-copied


# ---------------------------------------------------------------- reverse_relationship (refAV/atomic_functions.py)


def test_reverse_wrapper_is_named_wrapper_and_has_refav_parameters() -> None:
    wrapped = reverse_relationship(near_objects)
    assert wrapped.__name__ == "wrapper"
    assert list(inspect.signature(wrapped).parameters)[:3] == ["track_candidates", "related_candidates", "log_dir"]


def _fixed(result: Scenario) -> Callable[..., Scenario]:
    def fixed(track_candidates: Scenario, related_candidates: Scenario, log_dir: Path) -> Scenario:
        return copy.deepcopy(result)

    return fixed


def test_reverse_keeps_carried_over_relationships_and_drops_the_related_structure() -> None:
    tracks: Scenario = {"v1": {"old": [1, 2, 3]}, "v2": [1, 2, 3]}
    related: Scenario = {"p1": {"kid": [2, 3]}, "p2": [1, 2, 3]}
    found: Scenario = {
        "v1": {"old": [1, 2, 3], "p1": [2, 3], "p2": [3]},
        "v2": {"p1": [1]},
    }
    out = reverse_relationship(_fixed(found))(tracks, related, LOG_DIR)
    assert out == {
        "p1": {"v2": [1], "v1": {"old": [2, 3]}},
        "p2": {"v1": {"old": [3]}},
    }


def test_reverse_carried_relationship_outside_the_new_timestamps_leaves_an_empty_child() -> None:
    found: Scenario = {"v1": {"old": [1], "p1": [3]}}
    out = reverse_relationship(_fixed(found))({"v1": [1, 3], "old": [1]}, {"p1": [3]}, LOG_DIR)
    assert out == {"p1": {"v1": {}}}


def test_reverse_pair_rule() -> None:
    # Keys of the result that are related objects count too, relating back to tracks (but not to themselves);
    # children that are neither side's candidates are carried-over relationships, not new ones.
    found: Scenario = {"p1": {"v1": [1], "p1": [1], "zz": [1]}, "zz": {"v1": [1]}}
    out = reverse_relationship(_fixed(found))({"v1": [1]}, {"p1": [1]}, LOG_DIR)
    assert out == {"v1": {"p1": {"p1": [1], "zz": [1]}}}


def test_reverse_prunes_the_inputs_before_calling() -> None:
    seen: list[tuple[Scenario, Scenario]] = []

    def spy(track_candidates: Scenario, related_candidates: Scenario, log_dir: Path) -> Scenario:
        seen.append((track_candidates, related_candidates))
        return {}

    tracks: Scenario = {"a": [], "b": {"x": []}, "c": [1]}
    before = copy.deepcopy(tracks)
    assert reverse_relationship(spy)(tracks, {"p": {}}, LOG_DIR) == {}
    assert seen == [({"c": [1]}, {})]
    assert tracks == before


def test_reverse_of_a_unary_result_is_an_error() -> None:
    with pytest.raises(TypeError, match="relational"):
        reverse_relationship(_fixed({"v1": [1]}))({"v1": [1]}, {"p1": [1]}, LOG_DIR)


def test_reverse_of_the_direction_getter_is_the_tester(log: FakeLog) -> None:
    @register_function
    @relational
    def has_objects_in_relative_direction(
        ctx: FakeLog, tracks: list[str], related: list[str], direction: str
    ) -> dict[str, dict[str, list[int]]]:
        """Test double."""
        return {"v1": {"p1": [3, 4, 5]}} if direction == "forward" else {}

    def get_objects_in_relative_direction(
        track_candidates: Scenario, related_candidates: Scenario, log_dir: Path, direction: str
    ) -> Scenario:
        return reverse_relationship(has_objects_in_relative_direction)(
            track_candidates, related_candidates, log_dir, direction
        )

    vehicles: Scenario = {"v1": [1, 2, 3, 4, 5]}
    peds: Scenario = {"p1": [3, 4, 5, 6, 7]}
    assert get_objects_in_relative_direction(vehicles, peds, LOG_DIR, "forward") == {"p1": {"v1": [3, 4, 5]}}
    reversed_getter = reverse_relationship(get_objects_in_relative_direction)
    assert reversed_getter(vehicles, peds, LOG_DIR, "forward") == {"v1": {"p1": [3, 4, 5]}}
    # scenario_not of the getter negates the related candidates.
    assert scenario_not(get_objects_in_relative_direction)(vehicles, peds, LOG_DIR, "forward") == {"p1": [6, 7]}


def test_resolve_function_falls_back_to_registration_error() -> None:
    with pytest.raises(LookupError, match="no_such_function"):
        resolve_function("no_such_function")
    assert algebra.register_function(len) is len
    assert resolve_function("len") is len


# ---------------------------------------------------------------- scenario_not (refAV/atomic_functions.py)


def test_not_of_unary(log: FakeLog) -> None:
    vehicles: Scenario = {"v1": [1, 2, 3, 4, 5], "v2": [1, 2]}
    assert scenario_not(stationary)(vehicles, LOG_DIR) == {"v1": [1, 2, 3, 4, 5], "v2": []}


def test_not_wrapper_is_named_wrapper() -> None:
    assert scenario_not(stationary).__name__ == "wrapper"


def test_not_preserves_input_relationships_and_keeps_every_base_key(log: FakeLog) -> None:
    vehicles: Scenario = {"v1": {"x": [1, 2], "y": [3, 4, 5]}, "v2": {"z": [1]}, "v3": []}
    before = copy.deepcopy(vehicles)
    out = scenario_not(near_objects)(vehicles, {"p1": [3, 4, 5, 6, 7]}, LOG_DIR)
    assert out == {"v1": {"x": [1, 2], "y": [5]}, "v2": {"z": [1]}, "v3": []}
    assert vehicles == before


def test_not_accepts_log_dir_and_related_as_keywords(log: FakeLog) -> None:
    vehicles: Scenario = {"v1": [1, 2, 3, 4, 5], "v2": [1, 2]}
    peds: Scenario = {"p1": [3, 4, 5, 6, 7]}
    expected = scenario_not(near_objects)(vehicles, peds, LOG_DIR)
    assert scenario_not(near_objects)(vehicles, peds, log_dir=LOG_DIR) == expected
    assert scenario_not(near_objects)(vehicles, related_candidates=peds, log_dir=LOG_DIR) == expected
    assert scenario_not(stationary)(vehicles, log_dir=LOG_DIR) == {"v1": [1, 2, 3, 4, 5], "v2": []}
    with pytest.raises(TypeError, match="log_dir"):
        scenario_not(stationary)(vehicles)


def test_not_needs_log_dir_as_second_or_third_parameter() -> None:
    def get_objects_of_category(log_dir: Path, category: str) -> Scenario:
        return {}

    def no_log(track_candidates: Scenario) -> Scenario:
        return {}

    with pytest.raises(ValueError, match="position 1"):
        scenario_not(get_objects_of_category)(LOG_DIR, "CAR")
    with pytest.raises(ValueError, match="log_dir"):
        scenario_not(no_log)({})
    # A scenario_not wrapper itself has no log_dir parameter (RefAV: ValueError too).
    with pytest.raises(ValueError, match="log_dir"):
        scenario_not(scenario_not(stationary))({}, LOG_DIR)


def test_not_of_a_reversed_function_uses_the_tracks_as_base(log: FakeLog) -> None:
    vehicles: Scenario = {"v1": [1, 2, 3, 4, 5], "v2": [1, 2]}
    peds: Scenario = {"p1": [3, 4, 5, 6, 7]}
    out = scenario_not(reverse_relationship(near_objects))(vehicles, peds, LOG_DIR)
    assert out == vehicles  # the result is keyed by p1: nothing removed


# ---------------------------------------------------------------- properties


def _without_self_keys(value: Scenario) -> Scenario:
    def strip(key: str, child: ScenarioValue) -> ScenarioValue:
        if not isinstance(child, dict):
            return child
        return {k: strip(k, v) for k, v in child.items() if k != key}

    return {key: strip(key, child) for key, child in value.items()}


def _check_union(operands: list[Scenario]) -> None:
    before = copy.deepcopy(operands)
    out = scenario_or(operands)
    assert operands == before
    assert list(out) == list(dict.fromkeys(key for s in operands for key in s))
    for key, value in out.items():
        expected = set().union(*(set(timestamps(s[key])) for s in operands if key in s))
        assert set(timestamps(value)) == expected


# Exact union holds unless a list is merged into a dict that already has that self-key (RefAV then
# replaces it, see test_or_overwrites_an_existing_self_key_like_refav): two operands without self-keys, or
# flat scenarios.
@given(scenarios.map(_without_self_keys), scenarios.map(_without_self_keys))
def test_or_of_two_is_the_union_by_timestamps_and_does_not_mutate(first: Scenario, second: Scenario) -> None:
    _check_union([first, second])


@given(st.lists(st.dictionaries(st.sampled_from(UUIDS), leaves, max_size=4), max_size=5))
def test_or_of_flat_scenarios_is_the_union_by_timestamps(operands: list[Scenario]) -> None:
    _check_union(operands)


@given(st.lists(scenarios, max_size=4))
def test_or_never_invents_timestamps(operands: list[Scenario]) -> None:
    out = scenario_or(operands)
    assert list(out) == list(dict.fromkeys(key for s in operands for key in s))
    for key, value in out.items():
        assert set(timestamps(value)) <= set().union(*(set(timestamps(s[key])) for s in operands if key in s))


def test_or_overwrites_an_existing_self_key_like_refav() -> None:
    # Merging a list into a dict stores it under the self-key, replacing what was there: the earlier
    # list's timestamps are lost. RefAV's scenario_or does this; reproduced.
    first: Scenario = {"a": [1]}
    second: Scenario = {"a": {"x": [2]}}
    third: Scenario = {"a": [3]}
    assert scenario_or([first, second, third]) == {"a": {"x": [2], "a": [3]}}
    assert scenario_or([{"a": []}, {"a": {"a": [0]}}]) == {"a": {"a": []}}


@given(st.lists(scenarios, min_size=1, max_size=4))
def test_and_is_the_intersection_by_timestamps_and_does_not_mutate(operands: list[Scenario]) -> None:
    before = copy.deepcopy(operands)
    out = scenario_and(operands)
    assert operands == before
    present = [track_dict(s) for s in operands]
    assert list(out) == [key for key in present[0] if all(key in p for p in present)]
    for key, value in out.items():
        expected = set.intersection(*(set(p[key]) for p in present))
        # never more than the intersection; less only through RefAV's self-key overwrite (see below)
        assert set(timestamps(value)) <= expected


def test_and_can_lose_timestamps_through_refavs_self_key_overwrite() -> None:
    """Merging relationships, a list meets a dict under the same child key and replaces its self-key.

    RefAV's scenario_or stores the list under the child's own key, overwriting what was there, so
    timestamp 1 of child "a" is lost. Found by hypothesis; kept as RefAV does it.
    """
    first = {"a": {}, "b": {"c": {"a": {"a": [1]}}, "d": [0]}}
    second = {"b": {"d": {"a": {}, "b": {}, "d": {"a": [1]}}, "c": {"a": [0]}}}
    out = scenario_and([first, second])
    assert set(timestamps(out["b"])) == {0}


@given(st.lists(scenarios, min_size=1, max_size=3))
def test_or_result_shares_nothing_with_inputs(operands: list[Scenario]) -> None:
    out = scenario_or(operands)

    def ids(value: object) -> set[int]:
        found = {id(value)} if isinstance(value, dict | list | set) else set()
        if isinstance(value, dict):
            for child in value.values():
                found |= ids(child)
        return found

    assert not (ids(out) & set().union(*(ids(s) for s in operands)))


@given(scenarios)
def test_and_with_itself_keeps_every_referred_timestamp(scenario: Scenario) -> None:
    out = scenario_and([scenario, scenario])
    assert {key: set(timestamps(value)) for key, value in out.items()} == {
        key: set(ts) for key, ts in track_dict(scenario).items()
    }
