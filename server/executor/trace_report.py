"""A run's per-step traces (``avmine.atomic.trace``) summed over its logs and rendered for agents.

Each step says what one atomic call of the program kept: objects with at least one timestamp and
their timestamps. Where a log's answer is empty, the step whose call first returned no object is
named: the filter that removed everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from avmine.atomic.trace import SCENARIO, Step, count
from avmine.store.runs import LogResult

MAX_STEPS_SHOWN = 30
"""Steps a text or a structured summary shows; the rest are counted."""
PER_LOG_SHOWN = 8
"""A summed step lists each log's counts only for runs of at most this many logs (get_run has every log's)."""


@dataclass
class SummedStep(Step):
    """One step over all the logs it ran on."""

    per_log: dict[str, list[int]] = field(default_factory=dict)
    """log id -> [objects, timestamps] on that log."""
    emptied: list[str] = field(default_factory=list)
    """Logs whose empty answer this step's call first emptied."""

    def call(self) -> str:
        """The call as written, each scenario argument with its objects: ``turning(<scenario: 48 objects>, ...)``."""
        parts = self.args.split(SCENARIO)
        shown = parts[0]
        for index, rest in enumerate(parts[1:]):
            size = self.inputs[index] if index < len(self.inputs) else None
            shown += f"<scenario: {size} objects>" if size is not None else SCENARIO
            shown += rest
        return f"{self.function}({shown})"

    def document(self, with_logs: bool) -> dict[str, Any]:
        """The step as tools return it."""
        document: dict[str, Any] = {
            "line": self.line, "call": self.call(), "calls": self.calls,
            "objects": self.objects, "timestamps": self.timestamps,
        }  # fmt: skip
        if with_logs:
            document["per_log"] = self.per_log
        if self.emptied:
            document["first_emptied_logs"] = self.emptied
        return document


def emptied_step(result: LogResult) -> int | None:
    """The index of the step that first returned no object, where the log's answer is empty; else None."""
    trace = result.trace or {}
    if result.status != "ok" or result.scenario is None or count(result.scenario)[0]:
        return None
    first = trace.get("first_empty")
    return first if isinstance(first, int) else None


def summed(results: list[LogResult]) -> tuple[list[SummedStep], int]:
    """The steps of every log's trace, summed by call site and arguments in order of first call; and steps not kept."""
    steps: dict[tuple[int, str, str], SummedStep] = {}
    more = 0
    for result in results:
        trace = result.trace or {}
        more = max(more, int(trace.get("more_steps") or 0))
        first = emptied_step(result)
        for index, raw in enumerate(trace.get("steps") or ()):
            key = (int(raw["line"]), str(raw["function"]), str(raw["args"]))
            step = steps.get(key)
            if step is None:
                step = steps[key] = SummedStep(key[0], key[1], key[2], inputs=[0] * len(raw["inputs"]))
            step.calls += raw["calls"]
            step.inputs = [a + b for a, b in zip(step.inputs, raw["inputs"], strict=False)]
            step.objects += raw["objects"]
            step.timestamps += raw["timestamps"]
            step.per_log[result.log_id] = [raw["objects"], raw["timestamps"]]
            if index == first:
                step.emptied.append(result.log_id)
    return list(steps.values()), more


def trace_json(results: list[LogResult], with_logs: bool | None = None) -> dict[str, Any]:
    """The summed trace as tools return it, bounded to ``MAX_STEPS_SHOWN`` steps.

    ``with_logs``: whether each step lists its per-log counts (None: where the run has at most ``PER_LOG_SHOWN`` logs).
    """
    steps, more = summed(results)
    with_logs = len(results) <= PER_LOG_SHOWN if with_logs is None else with_logs
    return {
        "logs": sum(r.trace is not None for r in results),
        "steps": [step.document(with_logs) for step in steps[:MAX_STEPS_SHOWN]],
        "more_steps": max(len(steps) - MAX_STEPS_SHOWN, 0) + more,
    }


def trace_lines(results: list[LogResult]) -> list[str]:
    """The summed trace as text: one line per step, the step that emptied an empty answer marked."""
    steps, more = summed(results)
    if not steps:
        return []
    traced = sum(r.trace is not None for r in results)
    over = f", summed over {traced} logs" if traced > 1 else ""
    lines = [f"steps (objects with at least one timestamp, and their timestamps, each call kept{over}):"]
    for step in steps[:MAX_STEPS_SHOWN]:
        calls = f" [{step.calls} calls]" if step.calls > 1 else ""
        line = f"  line {step.line} {step.call()}: {step.objects} objects, {step.timestamps} timestamps{calls}"
        if 1 < len(step.per_log) <= 3:
            line += " (" + ", ".join(f"{log[:8]} {n}" for log, (n, _) in step.per_log.items()) + ")"
        if step.emptied:
            line += f"  <- first emptied the answer on {logs_named(step.emptied)}"
        lines.append(line)
    hidden = max(len(steps) - MAX_STEPS_SHOWN, 0) + more
    if hidden:
        lines.append(f"  ({hidden} more steps not shown)")
    return lines


def emptied_hint(results: list[LogResult]) -> str | None:
    """Which call removed everything where the answers are empty, for the likely mistakes; None if none did."""
    steps, _ = summed(results)
    named = [step for step in steps if step.emptied]
    if not named:
        return None
    said = "; ".join(f"line {s.line} {s.call()} on {logs_named(s.emptied)}" for s in named[:3])
    return (
        f"the first call that returned no object: {said}. RefAV's filters keep every input object as a key "
        "(with [] where the rule never holds): count objects with timestamps, not len(result)"
    )


def logs_named(logs: list[str]) -> str:
    """``4 logs (0a1b2c3d, ...)``: how many, the first few by their short ids."""
    shown = ", ".join(log[:8] for log in logs[:5])
    more = f" and {len(logs) - 5} more" if len(logs) > 5 else ""
    return f"{len(logs)} log{'s' if len(logs) != 1 else ''} ({shown}{more})"
