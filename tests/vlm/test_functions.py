"""VLM functions and scene verification on the demo logs, with a scripted VLM stand-in answering over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from avmine.store import Store
from avmine.vlm.backends.http import ChatCompletionsBackend
from avmine.vlm.functions import evaluate, occluded_by, spread
from avmine.vlm.service import VlmService
from avmine.vlm.verify import post_filter, verify_scene

from .stand_in import StandIn, chat_completions

LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"
TURNER = "7bd6176d-1b50-4df6-833d-231f735f3b96"


def script(question: str) -> str:
    if "police car" in question:
        return "Yes, it is."
    if "main colour" in question:
        return "It is red."
    if "In which tiles" in question:
        return "[1]"
    return "No."


@pytest.fixture
def vlm(demo_store: Store) -> Iterator[tuple[VlmService, StandIn]]:
    with chat_completions(script) as stand_in:
        yield VlmService(ChatCompletionsBackend(stand_in.url, "scripted"), demo_store), stand_in


def candidates(demo_store: Store, count: int = 2) -> dict[str, list[int]]:
    arrays = demo_store.load_arrays(LOG)
    uuids = [str(u) for u in arrays.track_uuids]
    chosen = [TURNER, *[u for u, c in zip(uuids, arrays.track_categories, strict=True)
                        if c == "REGULAR_VEHICLE" and u != TURNER][: count - 1]]  # fmt: skip
    out = {}
    for uuid in chosen:
        track = uuids.index(uuid)
        rows = slice(int(arrays.track_start[track]), int(arrays.track_start[track + 1]))
        out[uuid] = [int(t) for t in arrays.row_timestamp_ns[rows]]
    return out


def test_attribute_functions_keep_whole_tracks_by_majority(demo_store: Store, vlm: tuple[VlmService, StandIn]) -> None:
    service, stand_in = vlm
    arrays = demo_store.load_arrays(LOG)
    scenario = candidates(demo_store)
    assert len(scenario) == 2 and all(scenario.values())
    assert evaluate("is_specific_object_type", scenario, arrays, service, "police car") == scenario
    assert evaluate("is_specific_object_type", scenario, arrays, service, "bus") == {}
    assert evaluate("object_color", scenario, arrays, service, "red") == scenario
    assert evaluate("object_color", scenario, arrays, service, "blue") == {}
    questions = [s["body"]["messages"][0]["content"][-1]["text"] for s in stand_in.seen]
    assert any(q == "Is the object in the magenta box a police car? Answer yes or no." for q in questions)
    assert any(q.startswith("What is the main colour of the object in the magenta box? Answer with one of: white")
               for q in questions)  # fmt: skip
    calls = service.calls
    evaluate("object_color", scenario, arrays, service, "red")
    assert service.calls == calls  # every view's answer came from the cache


def test_time_varying_functions_keep_the_named_tiles_timestamps(
    demo_store: Store, vlm: tuple[VlmService, StandIn]
) -> None:
    service, _ = vlm
    arrays = demo_store.load_arrays(LOG)
    scenario = {TURNER: candidates(demo_store, 1)[TURNER]}
    kept = evaluate("pedestrian_action", scenario, arrays, service, "walking")[TURNER]
    stamp_index = {int(t): i for i, t in enumerate(arrays.timestamps_ns)}
    times = sorted(stamp_index[t] for t in scenario[TURNER])
    sampled = spread(times, 6)
    kept_times = [stamp_index[t] for t in kept]
    assert 0 < len(kept) < len(scenario[TURNER])
    nearest = np.abs(np.array(times)[:, None] - np.array(sampled)[None, :]).argmin(axis=1)
    assert kept_times == [t for t, tile in zip(times, nearest, strict=True) if tile == 1]


def test_scene_verification_judges_a_panel(demo_store: Store, vlm: tuple[VlmService, StandIn]) -> None:
    service, stand_in = vlm
    arrays = demo_store.load_arrays(LOG)
    verdict, image = verify_scene(arrays, candidates(demo_store), "vehicle turning left", service)
    assert verdict.value is False and image is not None and image.width == 2 * 320
    assert (
        'A program looked for "vehicle turning left"' in stand_in.seen[-1]["body"]["messages"][0]["content"][-1]["text"]
    )
    nothing, no_image = verify_scene(arrays, {}, "vehicle turning left", service)
    assert nothing.value is None and no_image is None


def test_bad_arguments_say_what_is_allowed(demo_store: Store, vlm: tuple[VlmService, StandIn]) -> None:
    service, _ = vlm
    arrays = demo_store.load_arrays(LOG)
    with pytest.raises(ValueError, match="unknown VLM function 'is_police'; VLM functions: is_specific_object_type"):
        evaluate("is_police", {}, arrays, service, "x")
    with pytest.raises(ValueError, match="has_attribute needs its argument attribute"):
        evaluate("has_attribute", {}, arrays, service)
    with pytest.raises(ValueError, match="color must be one of white, silver"):
        evaluate("object_color", {}, arrays, service, "purple")
    assert evaluate("has_attribute", {}, arrays, service, "open door") == {}  # an empty scenario is valid


def test_occlusion_asks_about_nearer_overlapping_objects_only(demo_store: Store) -> None:
    arrays = demo_store.load_arrays(LOG)
    uuids = [str(u) for u in arrays.track_uuids]

    def of(category: str) -> dict[str, list[int]]:
        out = {}
        for track, uuid in enumerate(uuids):
            if arrays.track_categories[track] == category:
                rows = slice(int(arrays.track_start[track]), int(arrays.track_start[track + 1]))
                out[uuid] = [int(t) for t in arrays.row_timestamp_ns[rows]]
        return out

    with chat_completions(lambda q: "Yes." if "partly hidden" in q else "No.") as stand_in:
        service = VlmService(ChatCompletionsBackend(stand_in.url, "occlusion"), demo_store)
        found = occluded_by(of("PEDESTRIAN"), of("REGULAR_VEHICLE"), arrays, service)
        asked = len(stand_in.seen)
    assert found and asked >= sum(len(v) for v in found.values())
    vehicles = of("REGULAR_VEHICLE")
    for occluders in found.values():
        for vehicle, stamps in occluders.items():
            assert vehicle in vehicles and set(stamps) <= set(vehicles[vehicle])
    with chat_completions(lambda q: "No.") as stand_in:
        service = VlmService(ChatCompletionsBackend(stand_in.url, "never"), demo_store)
        assert occluded_by(of("PEDESTRIAN"), of("REGULAR_VEHICLE"), arrays, service) == {}


def test_the_post_filter_empties_only_logs_the_vlm_rejects(demo_store: Store) -> None:
    scenarios = {LOG: candidates(demo_store), "7fab2350-7eaf-3b7e-a39d-6937a4c1bede": {}}
    with chat_completions(lambda q: "No." if "turning left" in q else "Yes.") as stand_in:
        service = VlmService(ChatCompletionsBackend(stand_in.url, "judge"), demo_store)
        rejected, verdicts = post_filter(scenarios, demo_store.load_arrays, "vehicle turning left", service)
        accepted, _ = post_filter(scenarios, demo_store.load_arrays, "vehicle", service)
    assert rejected == {LOG: {}, "7fab2350-7eaf-3b7e-a39d-6937a4c1bede": {}}
    assert verdicts[LOG].value is False and verdicts["7fab2350-7eaf-3b7e-a39d-6937a4c1bede"].value is None
    assert accepted == scenarios


def test_environment_questions_look_at_the_front_camera_scene(
    demo_store: Store, vlm: tuple[VlmService, StandIn]
) -> None:
    service, stand_in = vlm
    arrays = demo_store.load_arrays(LOG)
    ego = {arrays.ego_uuid: [int(t) for t in arrays.timestamps_ns]}
    kept = evaluate("in_environment", ego, arrays, service, "at night")
    assert 0 < len(kept[arrays.ego_uuid]) < len(ego[arrays.ego_uuid])
    assert stand_in.seen[-1]["body"]["messages"][0]["content"][-1]["text"].startswith(
        "In which tiles is the scene at night?"
    )


def test_a_program_asks_is_occluded_by_through_the_broker(demo_store: Store) -> None:
    from avmine.vlm.backends import VlmConfig
    from avmine.vlm.broker import VlmBroker
    from avmine.vlm.program_functions import is_occluded_by, set_broker

    arrays = demo_store.load_arrays(LOG)
    uuids = [str(u) for u in arrays.track_uuids]

    def of(category: str) -> dict[str, list[int]]:
        return {
            uuid: [int(t) for t in arrays.row_timestamp_ns[int(arrays.track_start[i]) : int(arrays.track_start[i + 1])]]
            for i, uuid in enumerate(uuids)
            if arrays.track_categories[i] == category
        }

    peds, vehicles = of("PEDESTRIAN"), of("REGULAR_VEHICLE")
    with chat_completions(lambda q: "Yes." if "partly hidden" in q else "No.") as stand_in:
        broker = VlmBroker(demo_store, arrays.source, VlmConfig(backend="openai", model="occlusion", url=stand_in.url))
        set_broker(lambda request: broker.answer(request["log_id"], request))
        try:
            found = is_occluded_by(peds, vehicles, demo_store.log_dir(LOG))
        finally:
            set_broker(None)
        expected = occluded_by(peds, vehicles, arrays, broker.service(), demo_store.log_directory(LOG))
    assert found and found == expected
