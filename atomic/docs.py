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

from avmine.atomic.categories import CATEGORIES, PSEUDO_CATEGORIES, prompt_categories

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

_SECTION = re.compile(r"^(Args|Returns|Example|Examples|Raises|Prompts say):\s*$")


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
    phrasings: tuple[str, ...] = ()
    """How prompts say what the function tests ("getting closer"), from its docstring's "Prompts say:" section."""

    def render(self) -> str:
        """Plain-text rendering: signature, description, parameters, example."""
        lines = [self.signature, "", self.summary]
        if self.description:
            lines += ["", self.description]
        if self.parameters:
            lines += ["", "Parameters:"] + [f"  {name}: {text}" for name, text in self.parameters.items()]
        if self.returns:
            lines += ["", f"Returns: {self.returns}"]
        if self.phrasings:
            lines += ["", f"Prompts say: {', '.join(self.phrasings)}."]
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
        phrasings=_phrasings(sections.get("Prompts say", [])),
    )


def _phrasings(lines: list[str]) -> tuple[str, ...]:
    said = " ".join(line.strip() for line in lines).strip().rstrip(".")
    return tuple(phrase.strip() for phrase in said.split(",") if phrase.strip())


def registry() -> dict[str, FunctionDoc]:
    """Doc entries of every function a program can call, in the order they are listed."""
    from avmine.atomic import FUNCTIONS  # late: the registry documents whatever the runtime exports

    return {name: describe(func, name) for name, func in FUNCTIONS.items()}


_WEAK_WORDS = frozenset((
    "the", "and", "for", "with", "any", "its", "their", "that", "which", "while", "from", "into", "onto",
    "object", "objects", "vehicle", "vehicles", "car", "cars", "pedestrian", "pedestrians", "truck", "bus",
))  # fmt: skip
"""Words too common in prompts to say which function fits; they count only where a name has them."""
_GENERIC_CATEGORIES = frozenset(("VEHICLE", "REGULAR_VEHICLE", "PEDESTRIAN"))
"""Categories nearly every prompt names: naming one does not ask for get_objects_of_category first."""


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


def stems_of(text: str) -> list[str]:
    """The stems of a text's words, in order (how prompts and phrasings are compared)."""
    return [_stem(w) for w in _words(text)]


_WEAK_STEMS = frozenset(_stem(w) for w in _WEAK_WORDS)


def phrasing_score(phrasing: str, stemmed: str, stems: set[str]) -> int:
    """How well one phrasing matches a query (0: not at all); longer phrasings weigh more.

    Args:
        phrasing: a phrase from a function's "Prompts say:" section.
        stemmed: the query's stems joined by spaces, with a space at each end.
        stems: the query's stems.
    """
    said = stems_of(phrasing)
    if f" {' '.join(said)} " in stemmed:
        return 2_500 + 100 * len(said)
    content = {s for s in said if s not in _WEAK_STEMS and len(s) > 2}
    if len(content) > 1 and content <= stems:  # every word said, not side by side ("across the ego's path")
        return 1_500 + 100 * len(content)
    return 0


def _score(entry: FunctionDoc, query: list[str], stems: set[str], stemmed: str) -> int:
    name_words = _words(entry.name)
    if "".join(name_words) == "".join(query):
        return 10_000  # the name itself, however spelt: u-turn, u_turn, "u turn"
    name_stems = {_stem(w) for w in name_words if len(w) > 2} or {_stem(w) for w in name_words}
    said = sorted((phrasing_score(p, stemmed, stems) for p in entry.phrasings), reverse=True)
    score = said[0] + 10 * sum(1 for s in said[1:] if s) if said else 0
    if name_stems and name_stems <= stems:
        score = max(score, 2_000 + 100 * len(name_stems) - 10 * len(name_words))  # every word of the name
    elif stems and stems <= name_stems:
        score = max(score, 1_000 - 10 * len(name_words))  # the query is part of the name
    summary = {_stem(w) for w in _words(entry.summary)}
    text = {_stem(w) for w in _words(" ".join([entry.description, *entry.parameters.values(), entry.example]))}
    for stem in stems:
        weak = stem in _WEAK_STEMS
        score += 5 * (stem in name_stems) + (not weak) * (2 * (stem in summary) + (stem in text))
    return score


def search(words: str, limit: int = 8) -> list[FunctionDoc]:
    """Functions for a query, best first: the name however spelt, then how prompts say it, then the docs' words.

    A query that is a function's name (``u-turn``, ``has velocity``) finds it first; a phrase from a
    function's "Prompts say:" section ("stopped", "getting closer") finds the functions that answer it,
    longer phrases first; a query naming a specific category ("box truck") also gets
    get_objects_of_category; otherwise functions are ranked by how many of the query's words their
    name, summary and docs hold.
    """
    query = _words(words)
    stemmed = f" {' '.join(_stem(w) for w in query)} "
    stems = {_stem(w) for w in query if len(w) > 2 or len(query) == 1}
    named = set(prompt_categories(words))
    scored: list[tuple[int, int, FunctionDoc]] = []
    for position, entry in enumerate(registry().values()):
        score = _score(entry, query, stems, stemmed)
        if entry.name == "get_objects_of_category" and named:
            score += 800 if named - _GENERIC_CATEGORIES else 1  # every program starts from it
        if score:
            scored.append((-score, position, entry))
    return [entry for *_, entry in sorted(scored, key=lambda s: (s[0], s[1]))[:limit]]


def categories() -> dict[str, str]:
    """Every category name a program may use, with its meaning (AV2's, then the pseudo-categories)."""
    return {**CATEGORIES, **PSEUDO_CATEGORIES}
