"""The few-shot library of prompt -> program pairs, and the final programs agents submit.

Retrieval ranks prompts by BM25 over word stems; a pair already in the library (same prompt,
same program up to whitespace) is never stored twice; the library moves between databases as
JSON lines (``export_jsonl`` / ``import_jsonl``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from avmine.atomic.program import ascii_quotes
from avmine.store.database import Store, now
from avmine.store.errors import StoreError

BM25_K1 = 1.5
BM25_B = 0.75


@dataclass(frozen=True)
class Example:
    """A library entry."""

    example_id: str
    prompt: str
    program: str
    timestamp_ba: float | None
    scores: dict[str, float]
    provenance: dict[str, Any]


def save_example(
    store: Store,
    prompt: str,
    program: str,
    scores: dict[str, float] | None = None,
    provenance: dict[str, Any] | None = None,
) -> str:
    """Add a prompt -> program pair to the library; returns its id (the existing one for a duplicate)."""
    program = ascii_quotes(program)
    for existing_id, existing_program in store.con.execute(
        "SELECT example_id, program FROM examples WHERE prompt = ?", [prompt]
    ).fetchall():
        if _same_program(str(existing_program), program):
            return str(existing_id)
    example_id = uuid.uuid4().hex[:12]
    scores = scores or {}
    store.con.execute(
        "INSERT INTO examples VALUES (?, ?, ?, ?, ?, ?, ?)",
        [example_id, prompt, program, scores.get("Timestamp BA"), json.dumps(scores), json.dumps(provenance or {}),
         now()],
    )  # fmt: skip
    return example_id


def _same_program(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _terms(text: str) -> list[str]:
    # crude stemming: the first five letters ("crossing" and "crosses" meet)
    return [w[:5] for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2]


def _examples(store: Store) -> list[Example]:
    rows = store.con.execute(
        "SELECT example_id, prompt, program, timestamp_ba, scores, provenance FROM examples ORDER BY created_at"
    ).fetchall()
    return [Example(str(r[0]), str(r[1]), str(r[2]), r[3], json.loads(r[4] or "{}"), json.loads(r[5] or "{}"))
            for r in rows]  # fmt: skip


def search_examples(store: Store, query: str, limit: int = 5) -> list[Example]:
    """Library entries ranked by BM25 of their prompts against ``query``; higher Timestamp BA breaks ties."""
    examples = _examples(store)
    documents = [Counter(_terms(e.prompt)) for e in examples]
    if not documents:
        return []
    average = sum(sum(d.values()) for d in documents) / len(documents) or 1.0
    frequency = Counter(term for d in documents for term in d)

    def bm25(document: Counter[str]) -> float:
        length = sum(document.values())
        score = 0.0
        for term in set(_terms(query)):
            if term in document:
                idf = math.log(1 + (len(documents) - frequency[term] + 0.5) / (frequency[term] + 0.5))
                tf = document[term]
                score += idf * tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * length / average))
        return score

    scored = [(bm25(d), e) for d, e in zip(documents, examples, strict=True)]
    ranked = sorted((item for item in scored if item[0] > 0),
                    key=lambda item: (-item[0], -(item[1].timestamp_ba or -1.0), item[1].example_id))  # fmt: skip
    return [example for _, example in ranked[:limit]]


def export_jsonl(store: Store, path: Path) -> int:
    """Write every library entry as one JSON object per line; returns how many."""
    examples = _examples(store)
    with path.open("w") as out:
        for example in examples:
            out.write(json.dumps(asdict(example)) + "\n")
    return len(examples)


def import_jsonl(store: Store, path: Path) -> tuple[int, int]:
    """Add the entries of a JSON-lines file (as ``export_jsonl`` writes); returns (added, already there).

    All or nothing: a bad line leaves the library unchanged.

    Raises:
        StoreError: a line that is not an object with string ``prompt`` and ``program``.
    """
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise StoreError(f"{path}:{number}: not JSON ({exc}); each line must be one example object") from exc
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("prompt"), str)
            or not isinstance(entry.get("program"), str)
        ):
            raise StoreError(f"{path}:{number}: an example needs string fields 'prompt' and 'program'")
        entries.append(entry)
    with store.transaction():
        before = _count(store)
        for entry in entries:
            provenance = dict(entry.get("provenance") or {}) | {"imported_from": str(path)}
            save_example(store, entry["prompt"], entry["program"], dict(entry.get("scores") or {}), provenance)
        added = _count(store) - before
    return added, len(entries) - added


REFAV_EXAMPLES = Path(__file__).parent / "demo_data" / "refav_examples.txt"
"""RefAV's own example programs (MIT, see demo_data/NOTICE.md): a starting library."""

_DESCRIPTION = re.compile(r"""^\s*description\s*=\s*(['"])(.*?)\1\s*$""", re.M)


def parse_refav_examples(text: str) -> list[tuple[str, str]]:
    """The (prompt, program) pairs of a RefAV examples file.

    Each fenced python block is a program; its ``description = '...'`` line is the prompt.
    Typographic quotes become ASCII ones (RefAV's file has some).
    """
    pairs = []
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        program = ascii_quotes(block).strip() + "\n"
        found = _DESCRIPTION.search(program)
        if found:
            pairs.append((found.group(2), program))
    return pairs


def import_refav_examples(store: Store, path: Path = REFAV_EXAMPLES) -> tuple[int, int]:
    """Add a RefAV examples file's programs to the library; returns (added, already there).

    Raises:
        StoreError: the file holds no ```python blocks with a description line.
    """
    pairs = parse_refav_examples(path.read_text())
    if not pairs:
        raise StoreError(f"{path}: no ```python blocks with a `description = '...'` line (RefAV's examples format)")
    with store.transaction():
        before = _count(store)
        for prompt, program in pairs:
            save_example(store, prompt, program, {}, {"origin": "refav-examples", "imported_from": str(path)})
        added = _count(store) - before
    return added, len(pairs) - added


def _count(store: Store) -> int:
    row = store.con.execute("SELECT count(*) FROM examples").fetchone()
    return int(row[0]) if row else 0


def submit_final_program(store: Store, prompt: str, program: str, origin: str, run_id: str | None = None) -> None:
    """Record the program an agent submits as its final answer for a prompt."""
    program = ascii_quotes(program)
    store.con.execute("INSERT INTO final_programs VALUES (?, ?, ?, ?, ?)", [prompt, program, now(), origin, run_id])


def final_program(store: Store, prompt: str, since: dt.datetime | None = None) -> str | None:
    """The latest final program submitted for a prompt (only those submitted at or after ``since``)."""
    row = store.con.execute(
        "SELECT program FROM final_programs WHERE prompt = ? AND submitted_at >= ? ORDER BY submitted_at DESC LIMIT 1",
        [prompt, since or dt.datetime.min],
    ).fetchone()
    return None if row is None else str(row[0])
