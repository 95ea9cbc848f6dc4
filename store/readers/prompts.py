"""Prompt lists: plain text (one per line), JSON lists, and RefAV's log-prompt-pair JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from avmine.store.errors import IngestError


@dataclass(frozen=True)
class PromptList:
    """Prompts, and the (log, prompt) pairs they are evaluated on where the file gives them."""

    prompts: list[str]
    pairs: list[tuple[str, str]]


MAX_PROMPT_FILE_BYTES = 64 << 20
"""RefAV's log_prompt_pairs files are a few hundred kilobytes."""

_HINT = (
    "A prompt list is a .txt file with one prompt per line, a JSON list of strings, or RefAV's "
    "log_prompt_pairs_<split>.json ({log_id: [prompt, ...]})."
)


def read_prompt_list(path: Path) -> PromptList:
    """Read a prompt list.

    Raises:
        IngestError: the file is not one of the accepted forms, or holds no prompt.
    """
    size = path.stat().st_size
    if size > MAX_PROMPT_FILE_BYTES:
        raise IngestError(path, f"is {size:,} bytes; a prompt list is at most {MAX_PROMPT_FILE_BYTES:,}.", _HINT)
    text = path.read_text(encoding="utf-8")
    prompts: list[str] = []
    pairs: list[tuple[str, str]] = []
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise IngestError(path, f"is not valid JSON ({exc}).", _HINT) from exc
        except RecursionError as exc:  # the decoder recurses per level; a prompt list nests two
            raise IngestError(path, "is JSON nested too deeply to be a prompt list.", _HINT) from exc
        if isinstance(data, list) and all(isinstance(p, str) for p in data):
            prompts = [p.strip() for p in data if p.strip()]
        elif isinstance(data, dict) and all(
            isinstance(v, list) and all(isinstance(p, str) for p in v) for v in data.values()
        ):
            pairs = [(str(log), p.strip()) for log, ps in data.items() for p in ps if p.strip()]
            prompts = list(dict.fromkeys(p for _, p in pairs))
        else:
            raise IngestError(path, "is JSON of an unexpected shape.", _HINT)
    else:
        prompts = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise IngestError(path, "holds no prompt.", _HINT)
    return PromptList(prompts=list(dict.fromkeys(prompts)), pairs=pairs)
