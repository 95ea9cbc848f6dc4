"""The docs registry: what agents read about the atomic functions, generated from the functions.

Every entry comes from a function's own signature and docstring (one source of truth); the
MCP docs tools serve these entries as they are.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from avmine.atomic.categories import CATEGORIES, PSEUDO_CATEGORIES

PARAMETER_GLOSSARY: dict[str, str] = {
    "track_candidates": "the objects to test: a scenario dict (or a list of uuids); the result is keyed by them",
    "related_candidates": "the other objects of the relation: a scenario dict (or a list of uuids)",
    "track_uuid": "the objects to test: a scenario dict (or a list of uuids); the result is keyed by them",
    "candidate_uuids": "the other objects of the relation: a scenario dict (or a list of uuids)",
    "log_dir": "the log, pre-bound in every program: pass it through, always positionally",
    "scenario_dicts": "a list of scenario dicts",
    "func": "an atomic function to wrap",
    "scenario": "the scenario dict that answers the prompt",
    "description": "the prompt, pre-bound in every program",
    "output_dir": "where results go, pre-bound in every program",
}
"""Meanings of parameters shared by many functions, for those a docstring does not describe."""

KEEPS_EVERY_KEY = (
    "objects where the rule never holds can stay in the result as keys with [] or {} (RefAV's convention), "
    "so len(result) counts candidates, not matches: count the keys with timestamps."
)
"""Said in the returns of every filter and relational function (``describe``): agents counted len(result)."""

_SECTION = re.compile(r"^(Args|Returns|Example|Examples|Raises):\s*$")


@dataclass(frozen=True)
class FunctionDoc:
    """One atomic function as the docs tools serve it."""

    name: str
    kind: str
    signature: str
    summary: str
    description: str
    parameters: dict[str, str] = field(default_factory=dict)
    returns: str = ""
    example: str = ""

    def render(self) -> str:
        """Plain-text rendering: signature, description, parameters, example."""
        lines = [self.signature, "", self.summary]
        if self.description:
            lines += ["", self.description]
        if self.parameters:
            lines += ["", "Parameters:"] + [f"  {name}: {text}" for name, text in self.parameters.items()]
        if self.returns:
            lines += ["", f"Returns: {self.returns}"]
        if self.example:
            lines += ["", "Example:", *("  " + line for line in self.example.splitlines())]
        return "\n".join(lines)


def _kind(name: str, params: list[str]) -> str:
    from avmine.atomic.functions import EXTENSION_KINDS  # late: filled by higher layers when they are imported

    if EXTENSION_KINDS.get(name, "").startswith("vision"):
        return f"{EXTENSION_KINDS[name]}: returns the input objects at the timestamps the model confirms"
    if name in EXTENSION_KINDS:  # robust and behaviour functions: same shapes as RefAV's, labelled
        return f"{EXTENSION_KINDS[name]} {_kind_of_shape(params)}"
    return _kind_of_shape(params, name)


def _kind_of_shape(params: list[str], name: str = "") -> str:
    if name in ("scenario_and", "scenario_or"):
        return "combinator"
    if name in ("reverse_relationship", "scenario_not"):
        return "wrapper"
    if name == "output_scenario":
        return "output"
    if params[:1] == ["log_dir"]:
        return "source"
    if len(params) > 2 and params[2] == "log_dir":
        return "relational: returns {track: {related: timestamps}}"
    return "filter: returns the input objects at the timestamps where the rule holds"


def _sections(doc: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {"": []}
    current = ""
    for line in doc.splitlines():
        match = _SECTION.match(line.strip())
        if match:
            current = match.group(1).rstrip("s") if match.group(1) == "Examples" else match.group(1)
            sections.setdefault(current, [])
        else:
            sections[current].append(line)
    return sections


def _parameter_texts(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    name = ""
    for line in lines:
        match = re.match(r"^\s{0,8}(\w+)(?: \([^)]*\))?:\s*(.*)$", line)
        if match and not line.startswith(" " * 9):
            name = match.group(1)
            out[name] = match.group(2).strip()
        elif name and line.strip():
            out[name] += " " + line.strip()
    return out


def describe(func: Callable[..., Any], name: str | None = None) -> FunctionDoc:
    """Build the doc entry of a function from its signature and docstring."""
    name = name or func.__name__
    signature = inspect.signature(func)  # the public signature (a lifted function sets __signature__)
    doc = inspect.cleandoc(func.__doc__ or "")
    summary, _, rest = doc.partition("\n")
    sections = _sections(rest)
    documented = _parameter_texts(sections.get("Args", []))
    parameters: dict[str, str] = {}
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD or param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        text = documented.get(param.name) or PARAMETER_GLOSSARY.get(param.name, "")
        if param.default is not inspect.Parameter.empty:
            text = f"{text} (default {param.default!r})" if text else f"default {param.default!r}"
        parameters[param.name] = text
    shown = ", ".join(
        p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
        for p in signature.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    )
    kind = _kind(name, list(signature.parameters))
    returns = " ".join(line.strip() for line in sections.get("Returns", [])).strip()
    if "filter" in kind or "relational" in kind:
        returns = f"{returns.rstrip('.')}; {KEEPS_EVERY_KEY}" if returns else f"The input objects; {KEEPS_EVERY_KEY}"
    return FunctionDoc(
        name=name,
        kind=kind,
        signature=f"{name}({shown})",
        summary=summary.strip(),
        description="\n".join(sections[""]).strip(),
        parameters=parameters,
        returns=returns,
        example=inspect.cleandoc("\n".join(sections.get("Example", []))),
    )


def registry() -> dict[str, FunctionDoc]:
    """Doc entries of every function a program can call, in the order they are listed."""
    from avmine.atomic import FUNCTIONS  # late: the registry documents whatever the runtime exports

    return {name: describe(func, name) for name, func in FUNCTIONS.items()}


SYNONYMS: dict[str, tuple[str, ...]] = {
    "stopped": ("has_velocity", "stationary"),
    "stopping": ("has_velocity", "special_stopping"),
    "not moving": ("has_velocity", "stationary"),
    "standing still": ("has_velocity", "stationary"),
    "waiting": ("has_velocity",),
    "parked": ("stationary",),
    "stationary": ("stationary",),
    "moving": ("has_velocity",),
    "speed": ("has_velocity",),
    "speeding": ("has_velocity",),
    "fast": ("has_velocity",),
    "slow": ("has_velocity",),
    "braking": ("braking", "accelerating"),
    "decelerating": ("accelerating", "braking"),
    "slowing down": ("accelerating", "braking"),
    "speeding up": ("accelerating",),
    "u turn": ("u_turn",),
    "turning around": ("u_turn", "three_point_turn"),
    "left turn": ("turning",),
    "right turn": ("turning",),
    "lane change": ("changing_lanes",),
    "switching lanes": ("changing_lanes",),
    "left of": ("has_objects_in_relative_direction", "get_objects_in_relative_direction"),
    "right of": ("has_objects_in_relative_direction", "get_objects_in_relative_direction"),
    "its left": ("has_objects_in_relative_direction", "get_objects_in_relative_direction"),
    "its right": ("has_objects_in_relative_direction", "get_objects_in_relative_direction"),
    "beside": ("has_objects_in_relative_direction", "get_objects_in_relative_direction"),
    "next to": ("has_objects_in_relative_direction", "get_objects_in_relative_direction"),
    "in front of": ("has_objects_in_relative_direction", "get_objects_in_relative_direction"),
    "ahead of": ("has_objects_in_relative_direction", "get_objects_in_relative_direction"),
    "behind": ("has_objects_in_relative_direction", "get_objects_in_relative_direction", "following"),
    "near": ("near_objects",),
    "close to": ("near_objects",),
    "nearby": ("near_objects",),
    "multiple": ("near_objects",),
    "crossing in front": ("being_crossed_by",),
    "crossing the path": ("being_crossed_by",),
    "crosswalk": ("at_pedestrian_crossing",),
    "jaywalking": ("at_pedestrian_crossing", "on_road"),
    "junction": ("on_intersection", "near_intersection"),
    "stop sign": ("at_stop_sign",),
    "oncoming": ("heading_in_relative_direction_to",),
    "opposite direction": ("heading_in_relative_direction_to",),
    "same direction": ("heading_in_relative_direction_to",),
    "facing": ("facing_toward",),
    "same lane": ("in_same_lane",),
    "their lane": ("in_same_lane",),
    "bus lane": ("on_lane_type",),
    "bike lane": ("on_lane_type",),
    "wrong way": ("wrong_way",),
    "against traffic": ("wrong_way",),
    "ego": ("get_objects_of_category",),
    "category": ("get_objects_of_category", "is_category"),
}
"""Common phrasings of prompts, to the functions that answer them (first is best); matched word by word, stemmed."""
_WEAK_WORDS = frozenset((
    "the", "and", "for", "with", "any", "its", "their", "that", "which", "while", "from", "into", "onto",
    "object", "objects", "vehicle", "vehicles", "car", "cars", "pedestrian", "pedestrians", "truck", "bus",
))  # fmt: skip
"""Words too common in prompts to say which function fits; they count only where a name has them."""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("_", " "))


def _stem(word: str) -> str:
    """A crude stem so that "stopped", "stopping" and "stop" meet ("crossing", "crossed", "cross")."""
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2]:
        word = word[:-1]
    return word[:6]


def _score(entry: FunctionDoc, query: list[str], stems: set[str], boosts: dict[str, int]) -> int:
    name_words = _words(entry.name)
    if "".join(name_words) == "".join(query):
        return 10_000  # the name itself, however spelt: u-turn, u_turn, "u turn"
    name_stems = {_stem(w) for w in name_words if len(w) > 2} or {_stem(w) for w in name_words}
    score = boosts.get(entry.name, 0)
    if name_stems and name_stems <= stems:
        score += 2_000 + 100 * len(name_stems) - 10 * len(name_words)  # every word of the name is asked for
    elif stems and stems <= name_stems:
        score += 1_000 - 10 * len(name_words)  # the query is part of the name
    summary = {_stem(w) for w in _words(entry.summary)}
    text = {_stem(w) for w in _words(" ".join([entry.description, *entry.parameters.values(), entry.example]))}
    for stem in stems:
        weak = stem in _WEAK_STEMS
        score += 5 * (stem in name_stems) + (not weak) * (2 * (stem in summary) + (stem in text))
    return score


_WEAK_STEMS = frozenset(_stem(w) for w in _WEAK_WORDS)
_CATEGORY_STEMS = frozenset(_stem(w) for name in CATEGORIES for w in _words(name)) | _WEAK_STEMS - {"the", "and"}
"""Words that name objects: a query with one also gets get_objects_of_category, which every program starts from."""


def search(words: str, limit: int = 8) -> list[FunctionDoc]:
    """Functions for a query, best first: the name however spelt, then common phrasings, then the docs' words.

    A query that is a function's name (``u-turn``, ``has velocity``) finds it first; a phrase from
    SYNONYMS ("stopped", "left of") finds the functions that answer it; otherwise functions are
    ranked by how many of the query's words their name, summary and docs hold.
    """
    query = _words(words)
    stemmed = f" {' '.join(_stem(w) for w in query)} "
    stems = {_stem(w) for w in query if len(w) > 2 or len(query) == 1}
    boosts: dict[str, int] = {}
    for said, names in SYNONYMS.items():
        if f" {' '.join(_stem(w) for w in _words(said))} " in stemmed:
            for rank, name in enumerate(names):
                boosts[name] = max(boosts.get(name, 0), 2_500 - 100 * rank)
    if stems & _CATEGORY_STEMS:
        boosts["get_objects_of_category"] = boosts.get("get_objects_of_category", 0) + 1
    scored: list[tuple[int, int, FunctionDoc]] = []
    for position, entry in enumerate(registry().values()):
        score = _score(entry, query, stems, boosts)
        if score:
            scored.append((-score, position, entry))
    return [entry for *_, entry in sorted(scored, key=lambda s: (s[0], s[1]))[:limit]]


def categories() -> dict[str, str]:
    """Every category name a program may use, with its meaning (AV2's, then the pseudo-categories)."""
    return {**CATEGORIES, **PSEUDO_CATEGORIES}
