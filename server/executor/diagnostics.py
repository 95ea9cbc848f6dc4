"""Diagnostics of a run that help an agent fix its program (after AutoMine's execution-driven refinement).

Compact text for the agent, the same facts as JSON for tools: what was found per log, which
categories were referred and related, how the referred tracks look over time, and mistakes
that are likely given the prompt's expected referred category.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from avmine.atomic import FUNCTIONS
from avmine.atomic.categories import referred_category
from avmine.atomic.scenario import timestamps as scenario_timestamps
from avmine.server.executor.executor import Execution
from avmine.server.executor.ranges import empty_ranges
from avmine.server.executor.trace_report import emptied_hint, logs_named, trace_json, trace_lines
from avmine.store.database import Store, now

SEGMENT_GAP_S = 0.35
"""A gap longer than this between referred timestamps starts a new segment (annotations are 10 Hz)."""
MAX_ERRORS_SHOWN = 3
"""Distinct errors shown in full in the text; the rest are counted."""


@dataclass
class TrackSummary:
    """One referred track: how much of its visible time is referred, in how many pieces, how far from the ego."""

    log_id: str
    track_uuid: str
    category: str
    referred_timestamps: int
    coverage: float
    segments: int
    length_m: float
    mean_distance_to_ego_m: float


@dataclass
class Diagnostics:
    """What a run found, and what looks wrong."""

    logs: int
    logs_failed: int
    empty_logs: int
    per_log: list[dict[str, Any]]
    referred_categories: dict[str, int]
    related_categories: dict[str, int]
    expected_category: str | None
    likely_mistakes: list[str]
    tracks: list[TrackSummary] = field(default_factory=list)
    function_seconds: dict[str, float] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    """Each distinct error once, with the logs it hit (``per_log`` names it in full only on the first)."""
    trace: dict[str, Any] = field(default_factory=dict)
    """The per-step trace summed over the logs (``trace_report.trace_json``)."""
    trace_text: list[str] = field(default_factory=list, repr=False)

    def as_json(self) -> dict[str, Any]:
        """The diagnostics as plain JSON data."""
        document = asdict(self)
        del document["trace_text"]
        return document

    def text(self) -> str:
        """A compact rendering for an agent."""
        ok = self.logs - self.logs_failed
        lines = [
            f"{self.logs} logs: {ok} ran, {self.logs_failed} failed; {self.empty_logs} of {ok} found nothing "
            f"({self.empty_logs / max(ok, 1):.0%} empty)."
        ]
        if self.referred_categories:
            lines.append("referred: " + ", ".join(f"{c} x{n}" for c, n in self.referred_categories.items()))
        if self.related_categories:
            lines.append("related: " + ", ".join(f"{c} x{n}" for c, n in self.related_categories.items()))
        if self.expected_category:
            lines.append(f"expected referred category: {self.expected_category}")
        for row in self.per_log:
            if not row.get("error"):
                lines.append(f"  {row['log_id'][:8]} {row['status']:<7} {row['referred_tracks']} tracks")
        lines += self._error_details()
        lines += self.trace_text
        for track in self.tracks[:5]:
            lines.append(
                f"  track {track.track_uuid[:8]} ({track.category}) in {track.log_id[:8]}: {track.referred_timestamps} "
                f"timestamps, {track.coverage:.0%} of its time, {track.segments} segment(s), "
                f"{track.length_m:.1f} m long, {track.mean_distance_to_ego_m:.0f} m from ego"
            )
        lines += [f"likely mistake: {m}" for m in self.likely_mistakes]
        if self.function_seconds:
            slowest = sorted(self.function_seconds.items(), key=lambda kv: -kv[1])[:5]
            lines.append("time per function: " + ", ".join(f"{n} {s:.2f}s" for n, s in slowest))
        return "\n".join(lines)

    def _error_details(self) -> list[str]:
        """Each distinct error in full once (the program's lines, the caret under a syntax error), with its logs."""
        lines = []
        for entry in self.errors[:MAX_ERRORS_SHOWN]:
            first, *rest = str(entry["error"]).rstrip().splitlines() or [""]
            lines.append(f"  error on {logs_named(entry['logs'])}: {first}")
            lines += [f"    {line}" for line in rest]
        if len(self.errors) > MAX_ERRORS_SHOWN:
            hidden = len(self.errors) - MAX_ERRORS_SHOWN
            lines.append(f"({hidden} more different errors; get_run and exec --json have every log's)")
        return lines


def distinct_errors(per_log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each distinct error once with the logs it hit; ``per_log`` rows after the first say whose it is instead."""
    first_of: dict[str, dict[str, Any]] = {}
    for row in per_log:
        error = (row.get("error") or "").rstrip()
        if not error:
            continue
        entry = first_of.setdefault(error, {"error": error, "logs": []})
        if entry["logs"]:
            row["error"] = f"the same error as on {entry['logs'][0][:8]}"
        entry["logs"].append(row["log_id"])
    return list(first_of.values())


def _timestamps(value: Any) -> set[int]:
    return {int(t) for t in scenario_timestamps(value)}


def _related(value: Any, into: Counter[str]) -> None:
    if isinstance(value, dict):
        for uuid, child in value.items():
            if _timestamps(child):
                into[uuid] += 1
            _related(child, into)


def remember_expected_category(store: Store, prompt: str, category: str) -> None:
    """Store the category an agent says a prompt refers to, for the diagnostics of later runs."""
    store.con.execute("INSERT OR REPLACE INTO prompt_expectations VALUES (?, ?, ?)", [prompt, category, now()])


def expected_category(store: Store, prompt: str) -> str | None:
    """The category a prompt refers to: as an agent stated it, else its first-mentioned object's.

    RefAV's convention (its README: the referred object is "the object referenced first in the prompt")
    decides, never the ground truth: a fixture that labels otherwise (the demo's bicycle prompt) must not
    turn the diagnostics against the server's instructions, and labels stay out of what an agent reads.
    None when neither is known (the prompt names no category).
    """
    stated = store.con.execute(
        "SELECT expected_category FROM prompt_expectations WHERE prompt = ?", [prompt]
    ).fetchone()
    return str(stated[0]) if stated else referred_category(prompt)


def diagnose(store: Store, execution: Execution, source: str, expected: str | None = None) -> Diagnostics:
    """Diagnostics of a finished execution.

    Args:
        store: the database (categories and positions of the tracks).
        execution: the run.
        source: the track source it ran on.
        expected: the prompt's expected referred category, if the agent gave one; otherwise one stated
            for the prompt before, else the category of the first object the prompt mentions.
    """
    if expected:
        remember_expected_category(store, execution.prompt, expected)
    expected = expected or expected_category(store, execution.prompt)
    per_log: list[dict[str, Any]] = []
    referred: Counter[str] = Counter()
    related: Counter[str] = Counter()
    tracks: list[TrackSummary] = []
    empty = 0
    for result in execution.results:
        row: dict[str, Any] = {
            "log_id": result.log_id,
            "status": result.status,
            "error": result.error,
            "seconds": round(result.seconds, 3),
            "referred_tracks": 0,
            "referred_timestamps": 0,
        }
        if result.status == "ok" and result.scenario is not None:
            arrays = store.load_arrays(result.log_id, source)
            index = {str(u): i for i, u in enumerate(arrays.track_uuids)}
            # plain views of the mapped columns: indexing a memmap per track costs more than the work
            starts, all_times = np.asarray(arrays.track_start), np.asarray(arrays.row_timestamp_ns)
            xyz, ego_xyz = np.asarray(arrays.xyz_city), np.asarray(arrays.ego_xyz_city)
            time_index, size = np.asarray(arrays.row_time_index), np.asarray(arrays.size)
            found = {uuid: _timestamps(value) for uuid, value in result.scenario.items()}
            found = {uuid: ts for uuid, ts in found.items() if ts}
            row["referred_tracks"] = len(found)
            row["referred_timestamps"] = len(set().union(*found.values())) if found else 0
            empty += not found
            related_here: Counter[str] = Counter()
            for value in result.scenario.values():
                _related(value, related_here)
            for uuid in related_here:
                if uuid in index:
                    related[str(arrays.track_categories[index[uuid]])] += 1
            for uuid, stamps in found.items():
                if uuid not in index:
                    continue
                track = index[uuid]
                category = str(arrays.track_categories[track])
                referred[category] += 1
                rows = slice(int(starts[track]), int(starts[track + 1]))
                times = all_times[rows]
                wanted = np.array(sorted(stamps), dtype=times.dtype)
                at = np.minimum(np.searchsorted(wanted, times), len(wanted) - 1)
                chosen = wanted[at] == times  # membership by binary search: stamps are few, rows many
                ordered = np.sort(times[chosen])
                gaps = np.diff(ordered) / 1e9 > SEGMENT_GAP_S
                ego = ego_xyz[time_index[rows][chosen]]
                distance = np.linalg.norm(xyz[rows][chosen][:, :2] - ego[:, :2], axis=1)
                tracks.append(
                    TrackSummary(
                        log_id=result.log_id, track_uuid=uuid, category=category,
                        referred_timestamps=int(chosen.sum()), coverage=float(chosen.mean()),
                        segments=int(gaps.sum()) + 1 if len(ordered) else 0,
                        length_m=float(size[rows][0, 0]),
                        mean_distance_to_ego_m=float(distance.mean()) if len(distance) else float("nan"),
                    )
                )  # fmt: skip
        per_log.append(row)
    ran = sum(r["status"] == "ok" for r in per_log)
    errors = distinct_errors(per_log)
    mistakes = [found.text() for found in empty_ranges(execution.program, FUNCTIONS)]
    mistakes += _likely_mistakes(ran, empty, referred, related, expected, per_log, emptied_hint(execution.results))
    tracks.sort(key=lambda t: -t.referred_timestamps)
    return Diagnostics(
        logs=len(per_log),
        logs_failed=len(per_log) - ran,
        empty_logs=empty,
        per_log=per_log,
        referred_categories=dict(referred.most_common()),
        related_categories=dict(related.most_common()),
        expected_category=expected,
        likely_mistakes=mistakes,
        tracks=tracks[:20],
        function_seconds={k: round(v, 4) for k, v in execution.function_seconds.items()},
        errors=errors,
        trace=trace_json(execution.results),
        trace_text=trace_lines(execution.results),
    )


VEHICLE_FAMILY = {"REGULAR_VEHICLE", "LARGE_VEHICLE", "BUS", "BOX_TRUCK", "TRUCK", "TRUCK_CAB", "SCHOOL_BUS",
                  "ARTICULATED_BUS", "MOTORCYCLE", "RAILED_VEHICLE", "EGO_VEHICLE", "VEHICULAR_TRAILER"}  # fmt: skip


def _matches(category: str, expected: str) -> bool:
    if expected == "ANY":
        return True
    if expected == "VEHICLE":
        return category in VEHICLE_FAMILY
    return category == expected


def _likely_mistakes(
    ran: int,
    empty: int,
    referred: Counter[str],
    related: Counter[str],
    expected: str | None,
    per_log: list[dict[str, Any]],
    emptied: str | None = None,
) -> list[str]:
    mistakes = []
    if ran and empty == ran:
        mistakes.append(
            f"nothing was found in any log; {emptied}"
            if emptied
            else "nothing was found in any log: some filter "
            "removes everything; the steps above show what each call kept"
        )
    elif emptied:
        mistakes.append(emptied)
    if expected and referred:
        wrong = {c: n for c, n in referred.items() if not _matches(c, expected)}
        if sum(wrong.values()) > sum(referred.values()) / 2:
            listing = ", ".join(sorted(wrong))
            hint = ""
            if any(_matches(c, expected) for c in related):
                hint = (
                    f"; {expected} objects appear as related objects, so the relation refers the wrong side: "
                    "key the result by them (reverse_relationship(...) swaps a relation's sides; "
                    "has_objects_in_relative_direction keys by its first argument, "
                    "get_objects_in_relative_direction by its second)"
                )
            mistakes.append(f"most referred objects are {listing}, but the prompt refers to {expected}{hint}")
    failed = [row for row in per_log if row["status"] != "ok"]
    if failed and len(failed) == len(per_log):
        mistakes.append("the program failed on every log (its errors are above, each once)")
    return mistakes
