"""Which functions a prompt needs, and which of its conditions nothing covers.

A prompt is read word by word: words that name objects (categories), words that say how a
function is called in prompts (each function's "Prompts say:" phrasings, the one declaration the
docs search reads too), known behaviours that no function covers (GAPS, listed on purpose so that
they are counted: the next functions to write) and connecting words. Time order ("then", "after",
"until") is read like any other condition: the behaviours in time (``then``, ``after``, ...) declare those
words. Any other word is reported as not recognised, so a prompt is covered only when every condition in it
maps to a function.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from avmine.atomic import docs
from avmine.atomic.categories import category_spans, prompt_categories
from avmine.atomic.functions import FUNCTIONS


@dataclass(frozen=True)
class Gap:
    """A behaviour no function covers, and the phrases that name it (a regular expression)."""

    name: str
    phrases: str


GAPS: tuple[Gap, ...] = (
    Gap("sounds", r"\bhonk|\bhorn\b|\bbeep|\bsiren"),
    Gap("speed limit", r"speed limit|(over|above|under|below) the limit"),
    Gap("towing", r"\btow(s|ed|ing)?\b"),
    Gap("loading or unloading", r"\b(un)?load(s|ing)?\b|deliver(y|ing)"),
    Gap("traffic light state", r"\brun(s|ning)? (a|the) (red )?light|red light runn\w*"),
)
"""Behaviours prompts name that no function covers: sounds are not recorded, the map has no speed
limits, towing and loading are not modelled. (Lights and gestures are seen in camera images: VLM functions.)"""

CONNECTING_WORDS = frozenset((
    "a", "all", "also", "an", "another", "any", "anything", "are", "as", "at", "back", "backward", "be", "been",
    "being", "by", "does", "doing", "driving", "each", "every", "five", "for", "forward", "four", "from", "front",
    "going", "has", "have", "having", "her", "his", "in", "into", "is", "it", "its", "itself", "least", "left",
    "less", "make", "makes", "making", "more", "most", "object", "objects", "of", "on", "one", "onto", "opposite",
    "other", "others", "riding", "right", "road", "s", "same", "several", "side", "some", "someone", "something",
    "than", "that", "the", "their", "them", "there", "these", "thing", "things", "this", "those", "three", "to",
    "traffic", "traveling", "travelling", "two", "user", "users", "was", "when", "where", "which", "while", "who",
    "whose", "with",
))  # fmt: skip
"""Words that say no condition of their own: articles, prepositions, and argument values (left, right)."""


@dataclass(frozen=True)
class Condition:
    """One condition of a prompt: the words that say it, the functions for it, and whether it is covered.

    status: "ok" (a function covers it), "vlm" (only a VLM function covers it), "no function" (a
    known gap) or "not recognised" (no function's
    phrasing, category or known gap matches these words).
    """

    words: str
    status: str
    functions: tuple[str, ...] = ()
    gap: str = ""


@dataclass(frozen=True)
class PromptCoverage:
    """What a prompt needs: its object categories, its conditions, their functions, and what is not covered."""

    prompt: str
    categories: list[str]
    conditions: list[Condition]
    vlm_configured: bool = False

    @property
    def functions(self) -> list[str]:
        """The functions its conditions map to, after get_objects_of_category (every program starts there)."""
        named = [f for c in self.conditions for f in c.functions]
        return list(dict.fromkeys(["get_objects_of_category", *named]))

    @property
    def behaviours(self) -> list[str]:
        """The words of each condition, in prompt order."""
        return [c.words for c in self.conditions]

    @property
    def uncovered(self) -> list[str]:
        """What keeps it from being covered: gaps, unrecognised words, VLM conditions without a VLM."""
        out: list[str] = []
        for c in self.conditions:
            if c.status == "no function":
                out.append(c.gap)
            elif c.status == "not recognised":
                out.append(f"not recognised: {c.words}")
            elif c.status == "vlm" and not self.vlm_configured:
                out.append(f"needs a VLM: {c.words}")
        return list(dict.fromkeys(out))

    @property
    def covered(self) -> bool:
        """Every condition maps to a function that can run here."""
        return not self.uncovered


@dataclass
class _Words:
    """The prompt's words, their places in the text, and what each has been read as so far."""

    text: str
    spans: list[tuple[int, int]]
    stems: list[str]
    taken: list[bool] = field(default_factory=list)

    @classmethod
    def of(cls, prompt: str) -> _Words:
        text = prompt.lower().replace("_", " ")
        matches = list(re.finditer(r"[a-z0-9]+", text))
        stems = [docs.stems_of(m.group(0))[0] for m in matches]
        return cls(text, [m.span() for m in matches], stems, [False] * len(matches))

    def take_chars(self, start: int, end: int) -> list[int]:
        """Mark the words text[start:end] touches (all of "honking" for "honk"); returns those newly marked."""
        hit = [i for i, (s, e) in enumerate(self.spans) if s < end and e > start and not self.taken[i]]
        for i in hit:
            self.taken[i] = True
        return hit

    def said(self, indices: Iterable[int]) -> str:
        """The prompt's text from the first to the last of these words."""
        chosen = list(indices)
        return self.text[self.spans[chosen[0]][0] : self.spans[chosen[-1]][1]]

    def find(self, stems: tuple[str, ...]) -> Iterable[int]:
        """Where a run of stems starts among words not yet read."""
        n = len(stems)
        for i in range(len(self.stems) - n + 1):
            if tuple(self.stems[i : i + n]) == stems and not any(self.taken[i : i + n]):
                yield i


_Phrasings = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]


def _phrasings() -> tuple[_Phrasings, frozenset[str]]:
    """Phrasings (stems, the functions declaring them; longest first, non-VLM first) and the VLM functions.

    Built once per set of listed functions (the VLM layer lists its functions when imported).
    """
    return _phrasings_of(tuple(FUNCTIONS))


@functools.lru_cache(maxsize=4)
def _phrasings_of(listed: tuple[str, ...]) -> tuple[_Phrasings, frozenset[str]]:
    registry = docs.registry()
    vision = frozenset(name for name, entry in registry.items() if entry.kind.startswith("vision"))
    said: dict[str, list[str]] = {}
    for name, entry in registry.items():
        for phrasing in entry.phrasings:
            names = said.setdefault(" ".join(docs.stems_of(phrasing)), [])
            names += [name] if name not in names else []
    ordered = sorted(said.items(), key=lambda item: (-len(item[0].split()), all(n in vision for n in item[1])))
    return tuple((tuple(stems.split()), tuple(names)) for stems, names in ordered), vision


def prompt_coverage(prompt: str, vlm_configured: bool = False) -> PromptCoverage:
    """Read one prompt: each of its conditions, the functions for it, and what no function covers.

    Args:
        prompt: the prompt.
        vlm_configured: whether the server that runs programs has a VLM (conditions only VLM
            functions cover count as covered only then).
    """
    phrasings, vision = _phrasings()
    words = _Words.of(prompt)
    found: list[tuple[int, Condition]] = []
    for gap in GAPS:
        for match in re.finditer(gap.phrases, words.text):
            hit = words.take_chars(*match.span())
            if hit:
                found.append((hit[0], Condition(words.said(hit), "no function", gap=gap.name)))
    for stems, names in phrasings:
        for i in list(words.find(stems)):
            if any(words.taken[i : i + len(stems)]):
                continue
            for j in range(i, i + len(stems)):
                words.taken[j] = True
            text = words.said(range(i, i + len(stems)))
            runnable = tuple(n for n in names if n not in vision)
            found.append((i, Condition(text, "ok" if runnable else "vlm", runnable or names)))
    for start, end, _ in category_spans(words.text):
        words.take_chars(start, end)
    unread = [i for i, taken in enumerate(words.taken) if not taken and not _connecting(words, i)]
    for run in _runs(unread):
        found.append((run[0], Condition(words.said(run), "not recognised")))
    return PromptCoverage(
        prompt=prompt,
        categories=prompt_categories(prompt),
        conditions=[condition for _, condition in sorted(found, key=lambda f: f[0])],
        vlm_configured=vlm_configured,
    )


def _connecting(words: _Words, i: int) -> bool:
    start, end = words.spans[i]
    word = words.text[start:end]
    return word in CONNECTING_WORDS or word.isdigit()


def _runs(indices: list[int]) -> list[list[int]]:
    """Consecutive indices grouped: adjacent unrecognised words are one phrase."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def gaps(coverages: list[PromptCoverage]) -> Counter[str]:
    """How many prompts each uncovered condition keeps from being covered."""
    return Counter(name for coverage in coverages for name in dict.fromkeys(coverage.uncovered))
