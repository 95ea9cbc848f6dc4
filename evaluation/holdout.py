"""Held-out ground truth: some labelled logs of each prompt are never scored while programs are refined.

The library admits a program on its score over (log, prompt) pairs it was never scored on, so a
program tuned against scores (or against labels probed through them) is judged on fresh pairs.
Of a prompt's ``n`` ground-truth logs (negatives included), ``max(1, n // 2)`` are held out: those
whose SHA-256 of the prompt, a newline and the log id sorts first. The split is deterministic (the same in
every session, server and batch over the database) and needs no stored state.

A prompt with a single ground-truth log (RefAV gives every prompt positive and negative logs, so only a
partial ingest or a test fixture has one) has it held out here; ``avmine.evaluation.guarded_scoring``
decides when an agent's score_run may use it instead, after which the prompt is no longer admitted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class HoldOut:
    """A prompt's ground-truth logs split into those score_run may score and those kept for admission."""

    refinement: tuple[str, ...]
    held_out: tuple[str, ...]


def hold_out(prompt: str, logs: Sequence[str]) -> HoldOut:
    """Split ``prompt``'s ground-truth ``logs`` (see the module docstring); both parts keep the logs' order."""
    if not logs:
        return HoldOut((), ())
    count = max(1, len(logs) // 2)
    ranked = sorted(logs, key=lambda log: hashlib.sha256(f"{prompt}\n{log}".encode()).hexdigest())
    held = set(ranked[:count])
    return HoldOut(tuple(log for log in logs if log not in held), tuple(log for log in logs if log in held))
