"""Honest programs: a program must find its objects with atomic functions, never name the answer.

A program that spells out a track id, a log id or a nanosecond timestamp can score well on the
logs it was written against (copied from a render, a statistics table or a score) and says
nothing about any other log; one that picks tracks by id text or position
(``avmine.atomic.track_picking``) also turns scoring into a per-track label oracle. Scoring refuses
such programs, screening keeps them out of the few-shot library and headless runs keep them out
of submissions.
"""

from __future__ import annotations

import ast
import re

from avmine.atomic.program import ProgramError, prepare
from avmine.atomic.track_picking import picked_tracks

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""AV2 track and log ids are UUIDs."""
MIN_TIMESTAMP_NS = 10**15
"""Any number this large is a nanosecond timestamp (AV2's are about 1.6e18); no threshold is."""


class DishonestProgramError(ProgramError):
    """The program hard-codes answers (track ids, log ids or timestamps)."""


class TrackPickingError(DishonestProgramError):
    """The program picks tracks by id text or position instead of filtering them.

    See ``avmine.atomic.track_picking``.
    """


def hard_coded_answers(program: str) -> list[str]:
    """Why ``program`` is not honest: one reason per hard-coded id or timestamp (empty when honest).

    Raises:
        ProgramError: the program does not parse.
    """
    reasons: list[str] = []
    for node in ast.walk(prepare(program)):
        if not isinstance(node, ast.Constant):
            continue
        value = node.value
        if isinstance(value, str) and (found := UUID.search(value)):
            reasons.append(f"line {node.lineno}: names the id {found.group(0)!r}")
        elif isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= MIN_TIMESTAMP_NS:
            reasons.append(f"line {node.lineno}: names the timestamp {value!r}")
    return reasons


def check_honest(program: str) -> None:
    """Refuse a program that hard-codes answers or picks tracks.

    Raises:
        DishonestProgramError: with every hard-coded id or timestamp and how to fix it.
        TrackPickingError: with every place that picks tracks by id text or position, and how to fix it.
        ProgramError: the program does not parse.
    """
    reasons = hard_coded_answers(program)
    if reasons:
        raise DishonestProgramError(
            "the program hard-codes answers (" + "; ".join(reasons[:5]) + "). Select objects and times with the "
            "atomic functions (categories, motion, relations, map) so the program works on logs it has not seen."
        )
    picks = picked_tracks(prepare(program))
    if picks:
        raise TrackPickingError(
            "the program picks tracks instead of filtering them (" + "; ".join(picks[:5]) + "). Keep or drop "
            "tracks only with the atomic functions or a condition on their behaviour that every track is tested "
            "against (e.g. {k: v for k, v in s.items() if len(v) >= 10}); never by id text, literal keys or "
            "position (sorted(...)[k], next(iter(...)), k.startswith(...))."
        )
