"""RefAV's confidence prefilter, on small hand-worked cases.

(It was also checked against RefAV's own function on 300 random cases with empty frames and
class changes: identical kept sets.)
"""

from __future__ import annotations

import numpy as np

from avmine.store.prefilter import PrefilterConfig, prefilter_track_ids


def _run(frames: list[list[tuple[str, float, str]]], config: PrefilterConfig) -> set[str]:
    rows = [(i, t, s, c) for i, frame in enumerate(frames) for t, s, c in frame]
    frame = np.array([r[0] for r in rows], dtype=np.int64)
    track = np.array([r[1] for r in rows])
    score = np.array([r[2] for r in rows])
    cls = np.array([r[3] for r in rows])
    return prefilter_track_ids(frame, track, score, cls, cls, len(frames), config)


def test_keeps_top_summed_score_per_class() -> None:
    frames = [
        [("a", 0.9, "CAR"), ("b", 0.5, "CAR"), ("p", 0.1, "PED")],
        [("b", 0.5, "CAR"), ("q", 0.3, "PED")],
    ]
    # b sums to 1.0 and beats a's 0.9: longer tracks rank higher
    assert _run(frames, PrefilterConfig(top_k=1, common_top_k=1)) == {"b", "q"}


def test_class_is_the_class_at_the_last_detection() -> None:
    frames = [[("a", 0.9, "CAR"), ("b", 0.8, "CAR")], [("a", 0.9, "PED")]]
    assert _run(frames, PrefilterConfig(top_k=1, common_top_k=1)) == {"a", "b"}


def test_empty_frames_are_filled_from_further_down_the_ranking() -> None:
    frames = [[("a", 0.9, "CAR"), ("b", 0.2, "CAR")], [("c", 0.1, "CAR")], [("a", 0.9, "CAR")]]
    assert _run(frames, PrefilterConfig(top_k=1, common_top_k=1)) == {"a", "c"}


def test_a_frame_without_detections_exhausts_the_ranking_as_refav_does() -> None:
    # Frame 1 has no detection at all: the search for it walks past every remaining track,
    # so frame 2 (which only c covers) is not filled. RefAV's loop behaves the same way.
    frames = [[("a", 0.9, "CAR")], [], [("c", 0.1, "CAR")], [("a", 0.9, "CAR"), ("b", 0.5, "CAR")]]
    assert _run(frames, PrefilterConfig(top_k=1, common_top_k=1)) == {"a"}


def test_paper_variant_keeps_more_of_common_classes() -> None:
    frames = [[(f"v{i}", 1.0 - i / 1000, "REGULAR_VEHICLE") for i in range(150)]]
    assert len(_run(frames, PrefilterConfig())) == 100
    assert len(_run(frames, PrefilterConfig.paper())) == 150
    assert len(_run(frames, PrefilterConfig.off())) == 150
