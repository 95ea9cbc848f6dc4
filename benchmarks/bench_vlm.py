"""VLM layer throughput: box projection (vs av2's camera model), frames, panels, batched vs unbatched generation.

Projection: every box of a demo log at every timestamp into the front camera, avmine's batched
projection against av2's ``PinholeCamera.project_ego_to_img`` called per box. Frames: synthetic
camera frames per second. Generation: the tiny random LLaVA of the tests (real processor, chat
template and generate), 16 requests in batches of 8 vs one at a time.

    python benchmarks/bench_vlm.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from avmine.server.ingestion import prepare_logs
from avmine.store import Store
from avmine.store.demo import ingest_demo
from avmine.vlm.backends import Request
from avmine.vlm.backends.local import TransformersBackend
from avmine.vlm.cameras import FRONT, cameras_of, city_to_ego, corners_city, ego_pose_at, project
from avmine.vlm.frames import frame
from avmine.vlm.overlay import panel, track_tiles

sys.path.insert(0, str(Path(__file__).parents[1]))
from tests.vlm.tiny_llava import build

LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.duckdb") as store:
        reports = ingest_demo(store, progress=False)
        prepare_logs(store, [(s, log) for r in reports for s, log, *_ in r.sources], progress=False)
        arrays = store.load_arrays(LOG)
        camera = cameras_of(arrays)[0][FRONT]
        rows = np.arange(len(arrays.row_track))
        corners = np.stack([corners_city(arrays, int(r)) for r in rows])  # (R, 8, 3)
        poses = [ego_pose_at(arrays, int(t)) for t in arrays.timestamps_ns]
        times = np.asarray(arrays.row_time_index)

        def ours() -> None:
            for t, pose in enumerate(poses):
                chosen = corners[times == t].reshape(-1, 3)
                project(camera, city_to_ego(chosen, pose))

        def reference() -> None:
            for row in rows:
                camera.project_ego_to_img(city_to_ego(corners[row], poses[int(times[row])]))

        mine, theirs = timed(ours), timed(reference)
        print(f"projection, {len(rows)} boxes x 8 corners: avmine {len(rows) / mine:,.0f} boxes/s, "
              f"av2 per box {len(rows) / theirs:,.0f} boxes/s, ratio {theirs / mine:.1f}x")  # fmt: skip

        frame(arrays, FRONT, 0)  # warm: map loaded
        count = 20
        seconds = timed(lambda: [frame(arrays, FRONT, i) for i in range(count)])
        print(f"synthetic frames (640 px): {count / seconds:.1f} frames/s")
        track = [str(u) for u in arrays.track_uuids].index("7bd6176d-1b50-4df6-833d-231f735f3b96")
        seconds = timed(lambda: panel(track_tiles(arrays, track, [0, 40, 80, 120], [FRONT, "ring_front_left"])))
        print(f"panel of a track at 4 timestamps on 2 cameras: {seconds:.2f} s")

        backend_path = build(Path(tmp) / "tiny")
        image = Image.new("RGB", (320, 240), (120, 90, 60))
        requests = [Request((image,), f"Is the object in the magenta box a police car? ({i})") for i in range(16)]
        batched = TransformersBackend.from_pretrained(str(backend_path), batch_size=8)
        single = TransformersBackend.from_pretrained(str(backend_path), batch_size=1)
        batched.generate(requests[:2])
        single.generate(requests[:2])
        one_by_one = timed(lambda: single.generate(requests))
        in_batches = timed(lambda: batched.generate(requests))
        print(f"tiny LLaVA, 16 requests: one at a time {one_by_one:.2f} s, batches of 8 {in_batches:.2f} s, "
              f"ratio {one_by_one / in_batches:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
