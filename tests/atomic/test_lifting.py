import copy
import inspect
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avmine.atomic.algebra import reverse_relationship, scenario_not
from avmine.atomic.lifting import relational, unary
from avmine.atomic.scenario import Scenario, restrict, timestamps
from avmine.atomic.timelines import set_context_resolver
from tests.atomic._support import (
    LOG_DIR,
    UUIDS,
    FakeLog,
    as_sets,
    near_objects,
    scenarios,
    stationary,
    time_sets,
)

V: Scenario = {"v1": [1, 2, 3, 4, 5], "v2": [1, 2]}
P: Scenario = {"p1": [3, 4, 5, 6, 7]}

# ------------------------------------ the worked example (refAV/utils.py: composable, composable_relational)


def test_worked_example_near_objects(log: FakeLog) -> None:
    assert near_objects(V, P, LOG_DIR) == {"v1": {"p1": [3, 4]}}
    # v2 was dropped by the global pre-filter, so the rule never saw it; p1 is seen at 3, 4, 5 only.
    assert log.calls == [("near_objects", (["v1"], ["p1"]), {"distance_thresh": 10})]


def test_worked_example_reverse_relationship(log: FakeLog) -> None:
    assert reverse_relationship(near_objects)(V, P, LOG_DIR) == {"p1": {"v1": [3, 4]}}


def test_worked_example_scenario_not_of_near_objects(log: FakeLog) -> None:
    assert scenario_not(near_objects)(V, P, LOG_DIR) == {"v1": [1, 2, 5], "v2": [1, 2]}


def test_worked_example_stationary(log: FakeLog) -> None:
    assert stationary(V, LOG_DIR) == {"v1": [], "v2": [1, 2]}
    assert scenario_not(stationary)(V, LOG_DIR) == {"v1": [1, 2, 3, 4, 5], "v2": []}


def test_worked_example_inputs_are_not_mutated(log: FakeLog) -> None:
    before = copy.deepcopy((V, P))
    near_objects(V, P, LOG_DIR)
    reverse_relationship(near_objects)(V, P, LOG_DIR)
    scenario_not(near_objects)(V, P, LOG_DIR)
    stationary(V, LOG_DIR)
    scenario_not(stationary)(V, LOG_DIR)
    assert before == (V, P)


# ---------------------------------------------------------------- calling conventions


def test_refav_keywords_work_and_documented_names_do_not(log: FakeLog) -> None:
    expected = {"v1": {"p1": [3, 4]}}
    assert near_objects(track_candidates=V, related_candidates=P, log_dir=LOG_DIR) == expected
    assert stationary(track_candidates=V, log_dir=LOG_DIR) == {"v1": [], "v2": [1, 2]}
    with pytest.raises(TypeError):
        near_objects(track_uuid=V, candidate_uuids=P, log_dir=LOG_DIR)


def test_lifted_functions_keep_name_doc_and_public_signature() -> None:
    assert near_objects.__name__ == "near_objects"
    assert near_objects.__doc__ == "Tracks near at least `min_objects` candidates (test double)."
    parameters = list(inspect.signature(near_objects).parameters)
    assert parameters == ["track_uuid", "candidate_uuids", "log_dir", "distance_thresh", "min_objects", "include_self"]
    assert list(inspect.signature(stationary).parameters) == ["track_candidates", "log_dir"]


def test_rule_gets_the_public_parameters_with_defaults_by_name(log: FakeLog) -> None:
    seen: list[dict[str, Any]] = []

    @relational
    def probe(ctx: FakeLog, track_uuids: list[str], related_uuids: list[str], a: int = 1, b: str = "x") -> Any:
        """Probe."""
        seen.append({"a": a, "b": b})
        return {}

    probe(V, V, LOG_DIR)
    probe(V, V, LOG_DIR, 5)
    probe(V, V, LOG_DIR, b="y")
    assert seen == [{"a": 1, "b": "x"}, {"a": 5, "b": "x"}, {"a": 1, "b": "y"}]
    with pytest.raises(TypeError):
        probe(V, V, LOG_DIR, c=1)


def test_near_objects_parameters_reach_the_rule(log: FakeLog) -> None:
    # min_objects=2 cannot be met with a single pedestrian.
    assert near_objects(V, P, LOG_DIR, min_objects=2) == {"v1": {}}
    assert near_objects(V, P, LOG_DIR, 10, 2) == {"v1": {}}


def test_bad_rule_layouts_are_rejected_at_declaration() -> None:
    def short(ctx: Any, uuids: list[str]) -> dict[str, dict[str, list[int]]]:
        return {}

    with pytest.raises(TypeError, match="uuid list"):
        relational(short)

    def own_log_dir(ctx: Any, uuids: list[str], log_dir: Path) -> dict[str, list[int]]:
        return {}

    with pytest.raises(TypeError, match="log_dir"):
        unary(own_log_dir)

    def variadic(ctx: Any, uuids: list[str], *args: Any) -> dict[str, list[int]]:
        return {}

    with pytest.raises(TypeError, match="named parameters"):
        unary(variadic)


def test_the_rule_is_the_declaration() -> None:
    assert near_objects.rule.__name__ == "near_objects"
    assert near_objects.rule.__doc__ == near_objects.__doc__
    assert (
        list(inspect.signature(near_objects.rule).parameters)[3:]
        == list(inspect.signature(near_objects).parameters)[3:]
    )


# ---------------------------------------------------------------- unary


def test_unary_keeps_every_input_key_and_the_input_structure(log: FakeLog) -> None:
    tracks: Scenario = {"v2": {"p1": [1, 2], "q": [9]}, "v1": {"p1": [3]}, "ghost": [1]}
    assert stationary(tracks, LOG_DIR) == {"v2": {"p1": [1, 2]}, "v1": {}, "ghost": []}


def test_unary_rules_see_whole_tracks(log: FakeLog) -> None:
    log.parked.add("v1")
    log.tracks["v1"] = [1, 2, 3, 4, 5, 6]
    assert stationary({"v1": [6, 2, 2]}, LOG_DIR) == {"v1": [2, 6]}
    assert log.calls == [("stationary", (["v1"],), {})]


def test_unary_converts_uuid_lists_strings_and_timestamps(log: FakeLog) -> None:
    assert stationary(["v2", "v1"], LOG_DIR) == {"v2": [1, 2], "v1": []}
    assert stationary("v2", LOG_DIR) == {"v2": [1, 2]}
    assert stationary(2, LOG_DIR) == {"v1": [], "v2": [2]}


def test_empty_input_needs_no_log() -> None:
    previous = set_context_resolver(None)
    try:
        assert stationary({}, LOG_DIR) == {}
        assert near_objects({}, {"p1": [1]}, LOG_DIR) == {}
        assert near_objects({"v1": [1]}, {"p1": [2]}, LOG_DIR) == {}  # nothing survives the pre-filter
    finally:
        set_context_resolver(previous)


# ---------------------------------------------------------------- relational


def _lift(result: dict[str, dict[str, list[int]]]) -> Any:
    @relational
    def fixed(ctx: FakeLog, track_uuids: list[str], related_uuids: list[str]) -> dict[str, dict[str, list[int]]]:
        """Fixed relationships."""
        return result

    return fixed


def test_relational_prefilter_is_global_and_drops_uuids(log: FakeLog) -> None:
    tracks: Scenario = {"v1": [1, 2, 3], "v2": [8], "v3": {"x": [9]}}
    related: Scenario = {"p1": [3, 4], "p2": [1], "p3": [7]}
    out = _lift({})(tracks, related, LOG_DIR)
    assert out == {"v1": {}}  # v2, v3 have no timestamp in the related union {1, 3, 4, 7}


def test_relational_children_inherit_the_related_input_structure(log: FakeLog) -> None:
    tracks: Scenario = {"v1": [1, 2, 3, 4]}
    related: Scenario = {"p1": {"kid": [2, 3], "far": [9]}, "p2": [1, 2]}
    # Raw timestamps go beyond the inputs: children are cut to the track's and the related object's input.
    out = _lift({"v1": {"p1": [2, 3, 4, 9], "p2": [5, 6]}})(tracks, related, LOG_DIR)
    assert out == {"v1": {"p1": {"kid": [2, 3]}, "p2": []}}


def test_relational_carries_over_prior_relationships(log: FakeLog) -> None:
    tracks: Scenario = {"v1": {"old": [1, 2, 3, 4], "p1": [5], "gone": [6]}}
    related: Scenario = {"p1": [1, 2, 3, 4, 5, 6], "p2": [1, 2, 3, 4, 5, 6]}
    out = _lift({"v1": {"p1": [2, 3], "p2": [5, 8]}})(tracks, related, LOG_DIR)
    # Carried over at the union of raw timestamps {2, 3, 5, 8}; the new p1 child replaces the old one.
    assert out == {"v1": {"old": [2, 3], "p1": [2, 3], "p2": [5]}}


def test_relational_new_child_may_be_empty_while_carried_ones_hold(log: FakeLog) -> None:
    tracks: Scenario = {"v1": {"old": [1, 2]}}
    related: Scenario = {"p1": [1, 2, 3]}
    out = _lift({"v1": {"p1": [3]}})(tracks, related, LOG_DIR)
    assert out == {"v1": {"p1": []}}
    # As in RefAV's composable_relational: at 3 the track keeps a carried-over relationship although the new
    # child is empty.
    out = _lift({"v1": {"p1": [3]}})({"v1": {"old": [1, 2, 3]}}, {"p1": [1, 2], "p2": [3]}, LOG_DIR)
    assert out == {"v1": {"old": [3], "p1": []}}


def test_relational_tracks_without_relationships_get_an_empty_dict(log: FakeLog) -> None:
    out = _lift({"v1": {}})({"v1": [1], "v2": {"o": [1]}}, {"p1": [1]}, LOG_DIR)
    assert out == {"v1": {}, "v2": {}}


def test_relational_rule_must_relate_to_candidates(log: FakeLog) -> None:
    with pytest.raises(ValueError, match="not a related candidate"):
        _lift({"v1": {"zz": [1]}})({"v1": [1]}, {"p1": [1]}, LOG_DIR)


def test_relational_converts_lists_of_uuids(log: FakeLog) -> None:
    assert near_objects(["v1", "v2"], ["p1"], LOG_DIR) == {"v1": {"p1": [3, 4]}}


def test_relational_does_not_mutate_inputs(log: FakeLog) -> None:
    tracks: Scenario = {"v1": {"old": [1, 2, 3, 4], "p1": [5]}}
    related: Scenario = {"p1": {"kid": [2, 3]}, "p2": [5]}
    before = copy.deepcopy((tracks, related))
    out = _lift({"v1": {"p1": [2, 3], "p2": [5]}})(tracks, related, LOG_DIR)
    assert (tracks, related) == before
    out["v1"]["p1"]["kid"].append(99)
    assert (tracks, related) == before


# ---------------------------------------------------------------- properties


@given(scenarios, st.dictionaries(st.sampled_from(UUIDS), time_sets))
def test_unary_restricts_every_input_to_the_rule(tracks: Scenario, matched: dict[str, set[int]]) -> None:
    @unary
    def rule_says(ctx: FakeLog, uuids: list[str]) -> dict[str, list[int]]:
        """Whatever the rule says."""
        return {uuid: sorted(ts) for uuid, ts in matched.items()}

    previous = set_context_resolver(lambda log_dir: FakeLog(tracks={}))
    try:
        before = copy.deepcopy(tracks)
        out = rule_says(tracks, LOG_DIR)
    finally:
        set_context_resolver(previous)
    assert tracks == before
    assert list(out) == list(tracks)
    for uuid, value in out.items():
        assert out[uuid] == restrict(tracks[uuid], matched.get(uuid, set()))
        assert set(timestamps(value)) == set(timestamps(tracks[uuid])) & matched.get(uuid, set())


@given(
    scenarios,
    scenarios,
    st.dictionaries(st.sampled_from(UUIDS), st.dictionaries(st.sampled_from(UUIDS), time_sets)),
)
def test_relational_output_shape(tracks: Scenario, related: Scenario, raw: dict[str, dict[str, set[int]]]) -> None:
    previous = set_context_resolver(lambda log_dir: FakeLog(tracks={}))
    try:
        before = copy.deepcopy((tracks, related))
        track_times, related_times = set(timestamps(tracks)), set(timestamps(related))
        kept_tracks = {u: v for u, v in tracks.items() if set(timestamps(v)) & related_times}
        kept_related = {u: v for u, v in related.items() if set(timestamps(v)) & track_times}
        valid = {t: {r: sorted(ts) for r, ts in rel.items() if r in kept_related} for t, rel in raw.items()}
        out = _lift(valid)(tracks, related, LOG_DIR)
    finally:
        set_context_resolver(previous)
    assert (tracks, related) == before
    assert list(out) == list(kept_tracks)
    for uuid, children in out.items():
        assert isinstance(children, dict)
        own = set(timestamps(kept_tracks[uuid])) & related_times
        new = as_sets(valid.get(uuid, {}))
        union = set().union(*new.values())
        for key, child in children.items():
            if key in new:
                assert set(timestamps(child)) <= new[key] & own & set(timestamps(kept_related[key]))
            else:
                assert set(timestamps(child)) <= union & own
        assert set(new) <= set(children)
