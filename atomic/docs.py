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

from atomic.categories import CATEGORIES, PSEUDO_CATEGORIES

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
    from atomic.functions import EXTENSION_KINDS  # late: filled by higher layers when they are imported

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
    signature = inspect.signature(func)  # follows __wrapped__ to the declared signature
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
    return FunctionDoc(
        name=name,
        kind=_kind(name, list(signature.parameters)),
        signature=f"{name}({shown})",
        summary=summary.strip(),
        description="\n".join(sections[""]).strip(),
        parameters=parameters,
        returns=" ".join(line.strip() for line in sections.get("Returns", [])).strip(),
        example=inspect.cleandoc("\n".join(sections.get("Example", []))),
    )


def registry() -> dict[str, FunctionDoc]:
    """Doc entries of every function a program can call, in the order they are listed."""
    from atomic import FUNCTIONS  # late: the registry documents whatever the runtime exports

    return {name: describe(func, name) for name, func in FUNCTIONS.items()}


def search(words: str, limit: int = 8) -> list[FunctionDoc]:
    """Functions whose docs mention the words, best match first (name hits weigh most)."""
    # crude stemming ("crossing" finds being_crossed_by): compare the first five letters of long words
    terms = [t[:5] for t in re.findall(r"[a-z0-9_]+", words.lower()) if len(t) > 2]
    scored: list[tuple[int, int, FunctionDoc]] = []
    for position, entry in enumerate(registry().values()):
        text = " ".join([entry.summary, entry.description, *entry.parameters.values(), entry.example]).lower()
        score = sum(5 * (t in entry.name) + 2 * (t in entry.summary.lower()) + (t in text) for t in terms)
        if score:
            scored.append((-score, position, entry))
    return [entry for *_, entry in sorted(scored, key=lambda s: (s[0], s[1]))[:limit]]


def categories() -> dict[str, str]:
    """Every category name a program may use, with its meaning (AV2's, then the pseudo-categories)."""
    return {**CATEGORIES, **PSEUDO_CATEGORIES}
