"""Map-layer speed beside the reference way of answering the same questions (RefAV's per-point loops).

For one demo log, every annotation box centre goes through avmine's vectorised map layer; the
reference (av2's ``get_nearby_lane_segments`` + a ray cast per candidate, per point, as RefAV's
``get_lane_segments`` does; Python loops over drivable areas / dilated intersection lanes /
crossings) runs on a sample of points and is extrapolated, since it takes tens of ms per point.

    python benchmarks/bench_map.py [--sample N] [--log LOG_ID]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avmine.atomic.map import MapIndex, MapRegions, box_footprints_3d  # noqa: E402
from tests.atomic_map import reference as ref  # noqa: E402
from tests.atomic_map.conftest import LOG_DIRS, load_log  # noqa: E402


def timed(fn, *args, repeat: int = 3):  # type: ignore[no-untyped-def]
    best = np.inf
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, out


def report(name: str, n: int, ours_s: float, ref_per_point_s: float) -> None:
    ref_s = ref_per_point_s * n
    print(f"{name:<38} n={n:>6}  avmine {ours_s * 1e3:9.1f} ms   reference ~{ref_s:9.2f} s   x{ref_s / ours_s:>10,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=100, help="points the reference actually runs on")
    parser.add_argument("--log", default=None, help="demo log id (default: the first scenario-mining log)")
    args = parser.parse_args()
    map_dir = next(p for p in LOG_DIRS if args.log is None or p.parent.name == args.log)
    log = load_log(map_dir)
    points = log.center_city
    n = len(points)
    rng = np.random.default_rng(0)
    sample = points[rng.choice(n, size=min(args.sample, n), replace=False)]
    print(f"log {log.name}: {n} box centres, {len(log.index.lane_ids)} lanes")

    build_s, _ = timed(lambda: MapRegions(log.avm, MapIndex(log.avm)))
    print(f"{'MapIndex + MapRegions build':<38} {build_s * 1e3:.1f} ms (once per map)")

    # lanes containing each point
    ours_s, _ = timed(log.index.lanes_containing, points)
    start = time.perf_counter()
    for p in sample:
        [ls.id for ls in log.avm.get_nearby_lane_segments(p, 5) if ref.ray_cast(p, ls.polygon_boundary[:, :2])]
    report("lanes_containing (av2 + ray cast)", n, ours_s, (time.perf_counter() - start) / len(sample))

    # lane assignment of every track (the reference's cost is its per-timestamp lookup)
    starts = np.flatnonzero(np.r_[True, log.track[1:] != log.track[:-1]])
    ends = np.r_[starts[1:], n]

    def assign_all() -> None:
        for s, e in zip(starts, ends, strict=True):
            log.index.assign_lanes(log.timestamps_ns[s:e], points[s:e], np.zeros(e - s))

    ours_s, _ = timed(assign_all, repeat=1)
    report("assign_lanes, all tracks", n, ours_s, _per(sample, log))

    # drivable area
    areas = [da.xyz[:, :2] for da in log.avm.get_scenario_vector_drivable_areas()]
    ours_s, _ = timed(log.regions.in_drivable_area, points)
    start = time.perf_counter()
    for p in sample:
        any(ref.ray_cast(p, a) for a in areas)
    report("in_drivable_area", n, ours_s, (time.perf_counter() - start) / len(sample))

    # near intersection (RefAV dilates every intersection lane on every call)
    ours_s, _ = timed(log.regions.near_intersection, points)
    start = time.perf_counter()
    lanes = [ls.polygon_boundary[:, :2] for ls in log.avm.get_scenario_lane_segments() if ls.is_intersection]
    polys = [ref.dilate(poly, 5.0) for poly in lanes]
    for p in sample:
        any(ref.ray_cast(p, poly) for poly in polys)
    report("near_intersection (per point, 1 dilation)", n, ours_s, (time.perf_counter() - start) / len(sample))

    # pedestrian crossings, RefAV's loop per track
    fps = box_footprints_3d(points, log.size_lwh, log.city_R_object)

    def crossings_all() -> None:
        for s, e in zip(starts, ends, strict=True):
            log.regions.at_pedestrian_crossing_refav(fps[s:e])

    ours_s, _ = timed(crossings_all, repeat=1)
    crossings = list(log.regions.crossings_xy)
    rows_done = 0
    start = time.perf_counter()
    for k in rng.permutation(len(starts)):  # whole tracks, as RefAV walks them, until the sample is used
        s, e = starts[k], ends[k]
        ref.crossing_loop(fps[s:e], crossings, 1.0)
        rows_done += e - s
        if rows_done >= args.sample * 10:
            break
    ref_per_row = (time.perf_counter() - start) / rows_done
    report("at_pedestrian_crossing, track by track", n, ours_s, ref_per_row)
    ours_s, _ = timed(log.regions.at_pedestrian_crossing_refav, fps, 1.0, log.track)
    report("at_pedestrian_crossing, one call", n, ours_s, ref_per_row)
    ours_s, _ = timed(log.regions.at_pedestrian_crossing_fixed, fps)
    print(f"{'at_pedestrian_crossing_fixed, all rows':<38} n={n:>6}  avmine {ours_s * 1e3:9.1f} ms")


def _per(sample: np.ndarray, log) -> float:  # type: ignore[no-untyped-def]
    """Reference seconds per timestamp of get_scenario_lanes: one get_lane_segments lookup each."""
    start = time.perf_counter()
    for p in sample[:20]:
        [ls.id for ls in log.avm.get_nearby_lane_segments(p, 5) if ref.ray_cast(p, ls.polygon_boundary[:, :2])]
    return (time.perf_counter() - start) / min(20, len(sample))


if __name__ == "__main__":
    main()
