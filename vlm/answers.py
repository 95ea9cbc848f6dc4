"""Answers parsed from a VLM's text into typed results: yes/no with confidence, a choice, timestamp indices."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class YesNo:
    """A yes/no answer; ``value`` is None when the text says neither."""

    value: bool | None
    confidence: float
    """In [0, 1]: the model's probability of its answer where the backend gives one, else 1.0 (0.0 if unparsed)."""
    raw: str


@dataclass(frozen=True)
class Choice:
    """One of the offered options (None when the text names none of them)."""

    value: str | None
    raw: str


@dataclass(frozen=True)
class Indices:
    """The labelled panel tiles the answer names, e.g. "[0, 2]" or "tiles 0 and 2"."""

    values: tuple[int, ...]
    raw: str


Answer = YesNo | Choice | Indices


def parse_yes_no(text: str, yes_probability: float | None = None) -> YesNo:
    """The first "yes" or "no" word of the text (also "true"/"false")."""
    for word in _WORD.findall(text.lower()):
        if word in ("yes", "true", "no", "false"):
            value = word in ("yes", "true")
            if yes_probability is None:
                return YesNo(value, 1.0, text)
            return YesNo(value, yes_probability if value else 1 - yes_probability, text)
    return YesNo(None, 0.0, text)


def parse_choice(text: str, options: Sequence[str]) -> Choice:
    """The option the text names first (whole words, case-insensitive; longer options win ties)."""
    lowered = text.lower()
    best: tuple[int, int, str] | None = None
    for option in options:
        match = re.search(rf"\b{re.escape(option.lower())}\b", lowered)
        if match and (best is None or (match.start(), -len(option)) < (best[0], best[1])):
            best = (match.start(), -len(option), option)
    return Choice(best[2] if best else None, text)


def parse_indices(text: str, count: int) -> Indices:
    """Every integer in the text that is a valid tile index (0..count-1), in order, without repeats."""
    if re.search(r"\b(none|no tiles?)\b", text.lower()):
        return Indices((), text)
    found = dict.fromkeys(int(n) for n in re.findall(r"\d+", text) if int(n) < count)
    return Indices(tuple(found), text)


def to_json(answer: Answer) -> dict[str, Any]:
    """The answer as stored in the cache."""
    return {"kind": type(answer).__name__} | asdict(answer)


def from_json(data: dict[str, Any]) -> Answer:
    """An answer read back from the cache."""
    kind = data.pop("kind")
    if kind == "YesNo":
        return YesNo(**data)
    if kind == "Choice":
        return Choice(**data)
    return Indices(tuple(data["values"]), data["raw"])
