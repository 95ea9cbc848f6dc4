"""Ingest throughput and per-log load time, cold and warm, beside the reference way of reading a log.

The reference is what RefAV does on every call: read the log's annotation feather with pandas and
place each box in the city frame with av2's SE3 (its per-log "load"). avmine reads memory-mapped
arrays that ingest already put in the city frame.

    python benchmarks/bench_ingest.py [--repeat N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from avmine.store import Store
from avmine.store.demo import SCENARIO_MINING_DIR, ingest_demo

LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"

COLD_AVMINE = """
import time, sys
t = time.perf_counter()
from avmine.store.arrays import load_log_arrays
a = load_log_arrays(__import__("pathlib").Path(sys.argv[1]))
float(a.xyz_city[:, 0].sum())  # touch the data
print(time.perf_counter() - t)
"""

COLD_REFERENCE = """
import time, sys
t = time.perf_counter()
from pathlib import Path
import numpy as np
from av2.utils.io import read_city_SE3_ego, read_feather
log_dir = Path(sys.argv[1])
df = read_feather(log_dir / "annotations_with_ego.feather")
poses = read_city_SE3_ego(log_dir)
xyz = np.concatenate([poses[int(ts)].transform_point_cloud(g[["tx_m", "ty_m", "tz_m"]].to_numpy())
                      for ts, g in df.groupby("timestamp_ns")])
float(xyz[:, 0].sum())
print(time.perf_counter() - t)
"""


def _cold(script: str, arg: Path, repeat: int) -> float:
    runs = [float(subprocess.check_output([sys.executable, "-c", script, str(arg)], text=True)) for _ in range(repeat)]
    return float(np.median(runs))


def _warm(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ingest_times, boxes = [], 0
        for _ in range(args.repeat):
            db = Path(tmp) / f"bench{len(ingest_times)}.duckdb"
            with Store.open(db) as store:
                t = time.perf_counter()
                reports = ingest_demo(store, progress=False)
                ingest_times.append(time.perf_counter() - t)
                boxes = sum(r.num_boxes for r in reports)
        seconds = float(np.median(ingest_times))
        print(f"ingest: {boxes} boxes (4 logs, maps, poses, ground truth) in {seconds:.2f} s "
              f"= {boxes / seconds:,.0f} boxes/s (median of {args.repeat})")  # fmt: skip

        with Store.open(db) as store:
            log_dir = store.log_dir(LOG)
            store.load_arrays(LOG)
        from av2.utils.io import read_city_SE3_ego, read_feather

        from avmine.store.arrays import load_log_arrays

        def avmine_load() -> None:
            a = load_log_arrays(log_dir)
            float(a.xyz_city[:, 0].sum())

        def reference_load() -> None:
            df = read_feather(SCENARIO_MINING_DIR / LOG / "annotations_with_ego.feather")
            poses = read_city_SE3_ego(SCENARIO_MINING_DIR / LOG)
            xyz = np.concatenate(
                [poses[int(ts)].transform_point_cloud(g[["tx_m", "ty_m", "tz_m"]].to_numpy())
                 for ts, g in df.groupby("timestamp_ns")]
            )  # fmt: skip
            float(xyz[:, 0].sum())

        cold_ours = _cold(COLD_AVMINE, log_dir, args.repeat)
        cold_ref = _cold(COLD_REFERENCE, SCENARIO_MINING_DIR / LOG, args.repeat)
        warm_ours = _warm(avmine_load, args.repeat * 4)
        warm_ref = _warm(reference_load, args.repeat * 4)
        print(f"per-log load, cold (fresh process, incl. imports): avmine {cold_ours * 1e3:.1f} ms, "
              f"reference {cold_ref * 1e3:.1f} ms, ratio {cold_ref / cold_ours:.1f}x")  # fmt: skip
        print(f"per-log load, warm (same process):                avmine {warm_ours * 1e3:.2f} ms, "
              f"reference {warm_ref * 1e3:.1f} ms, ratio {warm_ref / warm_ours:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
