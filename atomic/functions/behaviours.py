"""Behaviours RefAV has no function for, defined on evidence over time (after AutoMine and HYU_OASIS).

Definitions (units: metres, seconds, m/s, m/s², degrees):

- u_turn: a moving object's heading reverses (changes by ``min_angle_deg``, default 150°) across a
  ``window_s`` window in one sweep: less than 0.5 s of reversing in that window.
- three_point_turn: the same reversal with at least 0.5 s of reversing in the window (a K-turn).
- reversing: moving backwards (1-second mean speed along the box's heading below -0.5 m/s) for at least
  ``min_duration_s`` (1 s). On tracker boxes a box whose front and back are swapped reads as reversing.
- braking: forward deceleration of at least ``min_decel`` (default 2.5 m/s², hard braking; gentle
  slowing is 0.5-1.5) over a 1-second window, from a speed above 2 m/s, lasting ``min_duration_s``.
- overtaking / being_overtaken: two objects moving the same way (headings within 30°, the slower
  above 2 m/s) side by side (within ``max_lateral_m`` sideways); the related object goes from ahead
  of the track to behind it (overtaking) or from behind to ahead (being overtaken) while alongside.
- passing: the track (above 2 m/s) goes by a related object that is not moving its way (slower than
  2 m/s, or heading more than 30° away): ahead to behind while alongside. Overtaking is not passing.
- cutting_in: the track, moving the related object's way, goes from beside it (more than 2.5 m
  sideways) to in front of it (within 1 m sideways, at most ``max_ahead_m`` ahead) within 3 s;
  the timestamps from its last moment beside to 1 s after it is in front.
- getting_in / getting_out: a person's track ends (getting in) or starts (getting out) within
  ``max_distance_m`` (1.5 m) of a vehicle's side that is standing still (under 0.5 m/s); the
  person's last (first) second.
- yielding: the track waits (1-second mean speed under 1 m/s; not parked) while the related object
  moves across its path ahead: within ``max_ahead_m`` (15 m) of its front and 4 m of its centre
  line, moving sideways (in the track's frame) faster than 0.5 m/s.
- sustained: any scenario with gaps up to ``max_gap_s`` closed and spells shorter than
  ``min_duration_s`` dropped, on each referred object's own timeline.

Relational behaviours return {track: {related: timestamps}}, the timestamps the pair is alongside.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from avmine.atomic.algebra import register_function
from avmine.atomic.context import LogContext
from avmine.atomic.functions._select import timestamps_where, tracks_of
from avmine.atomic.functions.robust import (
    _durations,
    angle_deg,
    forward_acceleration,
    forward_speed,
    heading_change_deg,
    planar_speed,
    robust_stationary_mask,
)
from avmine.atomic.kinematics import Groups
from avmine.atomic.lifting import relational, unary
from avmine.atomic.listing import listed
from avmine.atomic.pairs import PairSeries, build_pairs
from avmine.atomic.scenario import Scenario, as_scenario, restrict, timestamps
from avmine.atomic.temporal import hysteresis, sustain, true_runs, window_mean
from avmine.atomic.validation import non_negative, number

REVERSING_MPS = 0.5
"""Backward speed (along the box's heading) that counts as reversing."""
REVERSING_MIN_S = 0.5
"""Reversing time that makes a heading reversal a three-point turn rather than a U-turn."""
MOVING_MPS = 2.0
"""Speed of an object that is driving (overtaking, passing, braking from)."""
SAME_WAY_DEG = 30.0
"""Headings within this many degrees go the same way."""
ALONGSIDE_MARGIN_M = 2.0
"""Beyond the two half-lengths, how far ahead or behind still counts as alongside."""


def _reversal(ctx: LogContext, min_angle_deg: float, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Where the heading reverses, and how long the object reverses.

    Rows where the heading changes by at least min_angle_deg across the window (with hysteresis),
    and the seconds of reversing inside each row's window.
    """
    change = np.abs(heading_change_deg(ctx, window_s))
    moving = planar_speed(ctx, 1.0) > REVERSING_MPS
    on = hysteresis((change >= min_angle_deg) & moving, change >= 0.67 * min_angle_deg, ctx.groups)
    forward = forward_speed(ctx)
    reversing = (forward < -REVERSING_MPS).astype(np.float64)
    half = window_s / 2
    fraction = window_mean(reversing, ctx.row_timestamp_ns, ctx.groups, half, half)
    return on, np.nan_to_num(fraction) * window_s


@listed("behaviour", 1)
@unary
def u_turn(
    ctx: LogContext, uuids: list[str], min_angle_deg: float = 150.0, window_s: float = 12.0
) -> dict[str, list[int]]:
    """Timestamps where an object makes a U-turn: its heading reverses within window_s in one sweep.

    A heading change of min_angle_deg or more across window_s (1-second mean headings, box flips
    removed) with under 0.5 s of reversing; a 90° left turn is not a U-turn, a K-turn is
    three_point_turn.

    Args:
        min_angle_deg: heading change in degrees, in (0, 180].
        window_s: seconds the reversal may take (> 2).

    Prompts say:
        u-turn, turning around, u turn.

    Example:
        u_turns = u_turn(vehicles, log_dir)
    """
    angle_deg("u_turn", "min_angle_deg", min_angle_deg)
    _durations("u_turn", window_s, 0.0, 0.0, 2.0)
    on, reversing_s = _reversal(ctx, min_angle_deg, window_s)
    mask = sustain(on & (reversing_s < REVERSING_MIN_S), ctx.row_timestamp_ns, ctx.groups, 0.5, 0.5)
    return timestamps_where(ctx, uuids, mask)


@listed("behaviour", 2)
@unary
def three_point_turn(
    ctx: LogContext, uuids: list[str], min_angle_deg: float = 150.0, window_s: float = 20.0
) -> dict[str, list[int]]:
    """Timestamps where an object turns around with at least 0.5 s of reversing (a three-point or K-turn).

    Args:
        min_angle_deg: heading change in degrees, in (0, 180].
        window_s: seconds the manoeuvre may take (> 2).

    Prompts say:
        three point turn, three-point turn, k-turn, turning around.

    Example:
        k_turns = three_point_turn(vehicles, log_dir)
    """
    angle_deg("three_point_turn", "min_angle_deg", min_angle_deg)
    _durations("three_point_turn", window_s, 0.0, 0.0, 2.0)
    on, reversing_s = _reversal(ctx, min_angle_deg, window_s)
    mask = sustain(on & (reversing_s >= REVERSING_MIN_S), ctx.row_timestamp_ns, ctx.groups, 0.5, 0.5)
    return timestamps_where(ctx, uuids, mask)


@listed("behaviour", 16)
@unary
def reversing(ctx: LogContext, uuids: list[str], min_duration_s: float = 1.0) -> dict[str, list[int]]:
    """Timestamps where an object moves backwards (slower than -0.5 m/s along its heading) for min_duration_s.

    Args:
        min_duration_s: shortest spell kept, in seconds.

    Prompts say:
        reversing, backing up, backing out, driving backwards, in reverse.

    Example:
        backing_up = reversing(vehicles, log_dir)
    """
    non_negative("reversing", min_duration_s=min_duration_s)
    forward = forward_speed(ctx)
    backwards = window_mean(forward, ctx.row_timestamp_ns, ctx.groups, 0.5, 0.5) < -REVERSING_MPS
    return timestamps_where(ctx, uuids, sustain(backwards, ctx.row_timestamp_ns, ctx.groups, 0.3, min_duration_s))


@listed("behaviour", 3)
@unary
def braking(
    ctx: LogContext, uuids: list[str], min_decel: float = 2.5, min_duration_s: float = 0.3
) -> dict[str, list[int]]:
    """Timestamps of hard braking: forward deceleration of min_decel m/s² or more over 1 s, from above 2 m/s.

    Gentle slowing (0.5-1.5 m/s²) is not braking; use robust_accelerating(..., max_accel=-0.5) for it.

    Args:
        min_decel: deceleration in m/s² (positive).
        min_duration_s: shortest braking spell kept, in seconds.

    Prompts say:
        braking, braking hard, hard brake, brakes hard, sudden stop, slamming on the brakes.

    Example:
        hard_brakes = braking(vehicles, log_dir)
    """
    # The speed is the mean over the half second before the row.
    number("braking", "min_decel", min_decel, minimum=0.0)
    non_negative("braking", min_duration_s=min_duration_s)
    decel = -forward_acceleration(ctx, 1.0)
    speed_before = window_mean(planar_speed(ctx, 0.2), ctx.row_timestamp_ns, ctx.groups, 0.5, 0.0)
    enter = (decel >= min_decel) & (speed_before > MOVING_MPS)
    on = hysteresis(enter, decel >= 0.8 * min_decel, ctx.groups)
    return timestamps_where(ctx, uuids, sustain(on, ctx.row_timestamp_ns, ctx.groups, 0.3, min_duration_s))


def _heading_gap_deg(series: PairSeries) -> npt.NDArray[np.float64]:
    ctx = series.ctx
    difference = ctx.yaw_city[series.row_candidate] - ctx.yaw_city[series.row_track]
    return np.asarray(np.degrees(np.abs((difference + np.pi) % (2 * np.pi) - np.pi)))


def _pair_series(ctx: LogContext, frames: list[str], objects: list[str]) -> PairSeries | None:
    """Pairs of (frame track, object track) on their shared timestamps; None when there are none."""
    frame_tracks, object_tracks = tracks_of(ctx, frames), tracks_of(ctx, objects)
    if len(frame_tracks) == 0 or len(object_tracks) == 0:
        return None
    series = build_pairs(ctx, frame_tracks, object_tracks)
    return series if len(series.pair) else None


def _alongside_runs(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], max_lateral_m: float, kind: str
) -> dict[str, dict[str, list[int]]]:
    """Pairs that are alongside while the related object moves from ahead to behind (or back)."""
    out: dict[str, dict[str, list[int]]] = {u: {} for u in track_uuids}
    series = _pair_series(ctx, track_uuids, related_uuids)
    if series is None:
        return out
    local = series.candidate_in_track_frame()
    reach = (ctx.size[series.row_track, 0] + ctx.size[series.row_candidate, 0]) / 2 + ALONGSIDE_MARGIN_M
    speed = planar_speed(ctx, 1.0)
    own, other = speed[series.row_track], speed[series.row_candidate]
    same_way = _heading_gap_deg(series) <= SAME_WAY_DEG
    if kind == "passing":
        relation = (own > MOVING_MPS) & ((other < MOVING_MPS) | ~same_way)
    else:
        relation = same_way & (np.minimum(own, other) > MOVING_MPS)
    alongside = (np.abs(local[:, 0]) <= reach) & (np.abs(local[:, 1]) <= max_lateral_m) & relation
    times = series.timestamps_ns
    alongside = sustain(alongside, times, series.groups, 0.3, 0.0)
    starts, ends = true_runs(alongside, series.groups)
    ahead_first = local[starts, 0] > 0
    behind_last = local[ends, 0] < 0
    moved = (ahead_first & behind_last) if kind != "being_overtaken" else (~ahead_first & ~behind_last)
    moved &= np.abs(local[starts, 0] - local[ends, 0]) > 1.0
    for start, end in zip(starts[moved].tolist(), ends[moved].tolist(), strict=True):
        pair = int(series.pair[start])
        track, candidate = ctx.track_uuids[series.track[pair]], ctx.track_uuids[series.candidate[pair]]
        out[track].setdefault(candidate, []).extend(times[start : end + 1].tolist())
    return out


def _lateral(function: str, max_lateral_m: float) -> None:
    number(function, "max_lateral_m", max_lateral_m, minimum=0.0)


@listed("behaviour", 4)
@relational
def overtaking(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], max_lateral_m: float = 6.0
) -> dict[str, dict[str, list[int]]]:
    """Tracks overtaking related objects that move the same way: the related object goes from ahead to behind.

    Both above 2 m/s with headings within 30°, within max_lateral_m sideways; the timestamps are
    those the two are alongside. Driving by a parked or oncoming object is passing, not overtaking.

    Args:
        max_lateral_m: largest sideways distance between the centres, in metres.

    Prompts say:
        overtaking, overtakes, pulling ahead of.

    Example:
        overtakes = overtaking(vehicles, vehicles, log_dir)
    """
    _lateral("overtaking", max_lateral_m)
    return _alongside_runs(ctx, track_uuids, related_uuids, max_lateral_m, "overtaking")


@listed("behaviour", 5)
@relational
def being_overtaken(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], max_lateral_m: float = 6.0
) -> dict[str, dict[str, list[int]]]:
    """Tracks being overtaken by related objects moving the same way: the related object goes from behind to ahead.

    Args:
        max_lateral_m: largest sideways distance between the centres, in metres.

    Prompts say:
        being overtaken, overtaken by, being passed.

    Example:
        ego_overtaken = being_overtaken(ego, vehicles, log_dir)
    """
    _lateral("being_overtaken", max_lateral_m)
    return _alongside_runs(ctx, track_uuids, related_uuids, max_lateral_m, "being_overtaken")


@listed("behaviour", 6)
@relational
def passing(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], max_lateral_m: float = 6.0
) -> dict[str, dict[str, list[int]]]:
    """Tracks driving past related objects that are not going their way (parked, slow or oncoming).

    The track moves above 2 m/s; the related object is slower than 2 m/s or heads more than 30°
    away; it goes from ahead to behind while within max_lateral_m sideways.

    Args:
        max_lateral_m: largest sideways distance between the centres, in metres.

    Prompts say:
        passing, drives past, goes by.

    Example:
        passing_parked = passing(vehicles, stationary(vehicles, log_dir), log_dir)
    """
    _lateral("passing", max_lateral_m)
    return _alongside_runs(ctx, track_uuids, related_uuids, max_lateral_m, "passing")


CUT_IN_BESIDE_M = 2.5
"""Sideways offset that counts as beside (another lane) before a cut-in."""
CUT_IN_FRONT_M = 1.0
"""Sideways offset that counts as in front (the same lane) after a cut-in."""
CUT_IN_WITHIN_S = 3.0
"""A cut-in moves from beside to in front within this time."""


@listed("behaviour", 11)
@relational
def cutting_in(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], max_ahead_m: float = 15.0
) -> dict[str, dict[str, list[int]]]:
    """Tracks cutting in front of related objects: from beside them to in front, going their way, within 3 s.

    Beside is more than 2.5 m sideways, in front within 1 m sideways and at most max_ahead_m ahead
    of the related object's front; timestamps run from the last moment beside to 1 s after.
    A lane change with nobody behind is changing_lanes, not a cut-in.

    Args:
        max_ahead_m: largest gap between the related object's front and the track's back, in metres.

    Prompts say:
        cutting in, cuts in, cutting in front of, cutting off, cuts off, merging in front.

    Example:
        cut_in_on_ego = cutting_in(vehicles, ego, log_dir)
    """
    number("cutting_in", "max_ahead_m", max_ahead_m, minimum=0.0)
    out: dict[str, dict[str, list[int]]] = {u: {} for u in track_uuids}
    series = _pair_series(ctx, related_uuids, track_uuids)  # the related object is the frame: where is the track?
    if series is None:
        return out
    local = series.candidate_in_track_frame()
    reach = (ctx.size[series.row_track, 0] + ctx.size[series.row_candidate, 0]) / 2
    speed = planar_speed(ctx, 1.0)
    going = (_heading_gap_deg(series) <= SAME_WAY_DEG) & (speed[series.row_candidate] > MOVING_MPS)
    ahead = (local[:, 0] > reach) & (local[:, 0] <= reach + max_ahead_m)
    in_front = going & ahead & (np.abs(local[:, 1]) < CUT_IN_FRONT_M)
    near_ahead = (local[:, 0] > -reach) & (local[:, 0] <= reach + max_ahead_m)
    beside = going & (np.abs(local[:, 1]) > CUT_IN_BESIDE_M) & near_ahead
    times = series.timestamps_ns
    index = np.arange(len(times))
    last_beside = np.maximum.accumulate(np.where(beside, index, -1))
    recent = (last_beside >= series.groups.start) & (
        (times - times[np.maximum(last_beside, 0)]) / 1e9 <= CUT_IN_WITHIN_S
    )
    was_in_front = in_front[np.maximum(index - 1, series.groups.start)] & (index > series.groups.start)
    arrival = in_front & recent & ~was_in_front
    for row in np.flatnonzero(arrival).tolist():
        first = int(last_beside[row])
        last = int(np.searchsorted(times[row : series.groups.end[row] + 1], times[row] + 10**9, side="right")) + row - 1
        pair = int(series.pair[row])
        track, frame = ctx.track_uuids[series.candidate[pair]], ctx.track_uuids[series.track[pair]]
        out[track].setdefault(frame, []).extend(times[first : last + 1].tolist())
    return {u: {r: sorted(set(stamps)) for r, stamps in rel.items()} for u, rel in out.items()}


YIELD_WAITING_MPS = 1.0
"""1-second mean speed under which a track is waiting."""
YIELD_PATH_HALF_WIDTH_M = 4.0
"""Sideways reach of the track's path ahead."""
YIELD_ACROSS_MPS = 0.5
"""Sideways speed of an object moving across the track's path."""


@listed("behaviour", 15)
@relational
def yielding(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], max_ahead_m: float = 15.0
) -> dict[str, dict[str, list[int]]]:
    """Tracks waiting for related objects that cross their path ahead (a car giving way to a pedestrian).

    Waiting is a 1-second mean speed under 1 m/s (parked objects never yield); the related object is
    within max_ahead_m of the track's front and 4 m of its centre line, moving across at over 0.5 m/s.

    Args:
        max_ahead_m: how far ahead of the track's front the crossing may be, in metres.

    Prompts say:
        yielding, yields, giving way, letting go first, waiting for.

    Example:
        giving_way = yielding(vehicles, peds, log_dir)
    """
    number("yielding", "max_ahead_m", max_ahead_m, minimum=0.0)
    out: dict[str, dict[str, list[int]]] = {u: {} for u in track_uuids}
    series = _pair_series(ctx, track_uuids, related_uuids)
    if series is None:
        return out
    local = series.candidate_in_track_frame()
    sideways = np.abs(series.candidate_velocity_in_track_frame()[:, 1])
    front = ctx.size[series.row_track, 0] / 2
    ahead = (local[:, 0] > front) & (local[:, 0] <= front + max_ahead_m)
    in_path = ahead & (np.abs(local[:, 1]) <= YIELD_PATH_HALF_WIDTH_M) & (sideways > YIELD_ACROSS_MPS)
    waiting = planar_speed(ctx, 1.0)[series.row_track] < YIELD_WAITING_MPS
    parked = robust_stationary_mask(ctx)[series.track[series.pair]]
    mask = sustain(in_path & waiting & ~parked, series.timestamps_ns, series.groups, 0.3, 0.5)
    for (track, candidate), stamps in series.per_pair_timestamps(mask).items():
        out[ctx.track_uuids[track]][ctx.track_uuids[candidate]] = stamps
    return out


PERSON_CATEGORIES = ("PEDESTRIAN", "OFFICIAL_SIGNALER", "WHEELED_RIDER")
"""Who gets in and out of vehicles."""


def _door_events(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], max_distance_m: float, getting_in: bool
) -> dict[str, dict[str, list[int]]]:
    name = "getting_in" if getting_in else "getting_out"
    number(name, "max_distance_m", max_distance_m, minimum=0.0)
    out: dict[str, dict[str, list[int]]] = {u: {} for u in track_uuids}
    people = [
        u for u in track_uuids if u in ctx.track_index and ctx.track_category[ctx.track_index[u]] in PERSON_CATEGORIES
    ]
    series = _pair_series(ctx, related_uuids, people)  # the vehicle is the frame: where is the person?
    if series is None:
        return out
    edge_row = ctx.track_start[series.candidate[series.pair] + (1 if getting_in else 0)] - (1 if getting_in else 0)
    at_edge = series.row_candidate == edge_row  # the person's last (first) box
    local = series.candidate_in_track_frame()
    half_length, half_width = ctx.size[series.row_track, 0] / 2, ctx.size[series.row_track, 1] / 2
    outside_x = np.maximum(np.abs(local[:, 0]) - half_length, 0)
    outside_y = np.maximum(np.abs(local[:, 1]) - half_width, 0)
    close = np.hypot(outside_x, outside_y) <= max_distance_m
    still = planar_speed(ctx, 1.0)[series.row_track] < STILL_VEHICLE_MPS
    for row in np.flatnonzero(at_edge & close & still).tolist():
        pair = int(series.pair[row])
        person, vehicle = int(series.candidate[pair]), int(series.track[pair])
        line = np.asarray(ctx.timeline(ctx.track_uuids[person]))
        stamp = int(series.timestamps_ns[row])
        window = (line >= stamp - 10**9) & (line <= stamp) if getting_in else (line >= stamp) & (line <= stamp + 10**9)
        out[ctx.track_uuids[person]][ctx.track_uuids[vehicle]] = line[window].tolist()
    return out


STILL_VEHICLE_MPS = 0.5
"""A vehicle people get in or out of stands (nearly) still."""


@listed("behaviour", 12)
@relational
def getting_in(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], max_distance_m: float = 1.5
) -> dict[str, dict[str, list[int]]]:
    """People getting into a vehicle: their track ends within max_distance_m of a standing vehicle's box.

    The timestamps are the person's last second. Only people (pedestrians, signalers, wheeled riders).

    Args:
        max_distance_m: largest gap between the person's centre and the vehicle's box, in metres.

    Prompts say:
        getting into, gets in, boarding, climbing into, entering a vehicle.

    Example:
        boarding = getting_in(peds, vehicles, log_dir)
    """
    return _door_events(ctx, track_uuids, related_uuids, max_distance_m, getting_in=True)


@listed("behaviour", 13)
@relational
def getting_out(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], max_distance_m: float = 1.5
) -> dict[str, dict[str, list[int]]]:
    """People getting out of a vehicle: their track starts within max_distance_m of a standing vehicle's box.

    The timestamps are the person's first second.

    Args:
        max_distance_m: largest gap between the person's centre and the vehicle's box, in metres.

    Prompts say:
        getting out of, gets out, exiting a vehicle, alighting, climbing out.

    Example:
        alighting = getting_out(peds, vehicles, log_dir)
    """
    return _door_events(ctx, track_uuids, related_uuids, max_distance_m, getting_in=False)


@listed("robust", 15)
@register_function
def sustained(
    track_candidates: Scenario, log_dir: Path, min_duration_s: float = 0.5, max_gap_s: float = 0.5
) -> Scenario:
    """Any scenario made robust to flicker: gaps up to max_gap_s closed, spells under min_duration_s dropped.

    Works on each referred object's own timeline (relationships are kept at the timestamps that
    remain), so it steadies any function's output: directions, relations, map checks.

    Args:
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed, in seconds (only timestamps the object has are added).

    Prompts say:
        for at least, for more than, seconds, lasting, sustained, for a while.

    Example:
        steady_followers = sustained(following(vehicles, ego, log_dir), log_dir, min_duration_s=2)
    """
    non_negative("sustained", min_duration_s=min_duration_s, max_gap_s=max_gap_s)
    from avmine.atomic.context import context_for  # the log's arrays; the scenario layer sees only timelines

    scenario = as_scenario(track_candidates, log_dir)
    ctx = context_for(log_dir)
    uuids = [u for u in scenario if u in ctx.track_index]
    if not uuids:
        return {u: restrict(v, []) for u, v in scenario.items()}
    rows = [np.arange(*ctx.rows_of(ctx.track_index[u]).indices(len(ctx.row_track))) for u in uuids]
    lengths = np.array([len(r) for r in rows])
    flat = np.concatenate(rows)
    chosen = np.concatenate([np.isin(ctx.row_timestamp_ns[r], list(timestamps(scenario[u])))
                             for u, r in zip(uuids, rows, strict=True)])  # fmt: skip
    groups = Groups.from_lengths(lengths)
    kept = sustain(chosen, ctx.row_timestamp_ns[flat], groups, max_gap_s, min_duration_s)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    out: Scenario = {}
    for i, uuid in enumerate(uuids):
        segment = slice(int(bounds[i]), int(bounds[i + 1]))
        keep = ctx.row_timestamp_ns[flat[segment]][kept[segment]].tolist()
        value = scenario[uuid]
        added = set(keep) - set(timestamps(value))
        if added and isinstance(value, list | set):
            value = sorted(set(value) | added)
        out[uuid] = restrict(value, keep)
    for uuid, value in scenario.items():
        out.setdefault(uuid, restrict(value, []))
    return out
