"""The VLM as a service: typed questions over images, answered by the configured backend, cached in the store.

Answers are cached by (model, question, image hash): asking again costs nothing, and answers of
different models never mix. Batches go to the backend together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from avmine.store import Store
from avmine.vlm.answers import (
    Answer,
    Choice,
    Indices,
    YesNo,
    from_json,
    parse_choice,
    parse_indices,
    parse_yes_no,
    to_json,
)
from avmine.vlm.backends import Backend, Request

YES_NO_SUFFIX = " Answer yes or no."


def image_hash(images: Sequence[Image.Image]) -> str:
    """A digest of the images' pixels and sizes."""
    digest = hashlib.sha256()
    for image in images:
        digest.update(f"{image.mode}{image.size}".encode())
        digest.update(image.tobytes())
    return digest.hexdigest()


QuestionKind = Literal["yes_no", "choice", "indices"]
"""How a question's answer is read: yes or no, one of the options, or tile numbers of a panel."""


@dataclass(frozen=True)
class Question:
    """What to ask about which images, and how to read the answer."""

    images: tuple[Image.Image, ...]
    text: str
    kind: QuestionKind = "yes_no"
    options: tuple[str, ...] = ()
    """The choices (kind choice), or one entry per panel tile (kind indices: only their count matters)."""

    def prompt(self) -> str:
        """The text sent to the model."""
        if self.kind == "yes_no":
            return self.text + YES_NO_SUFFIX
        if self.kind == "choice":
            return f"{self.text} Answer with one of: {', '.join(self.options)}."
        return f"{self.text} Answer with the tile numbers in brackets, e.g. [0, 2], or none."

    def key(self) -> str:
        """The question's part of the cache key."""
        return hashlib.sha256(json.dumps([self.kind, self.text, list(self.options)]).encode()).hexdigest()


class VlmService:
    """Ask typed questions; answers come from the cache or the backend."""

    def __init__(self, backend: Backend, store: Store | None = None) -> None:
        self.backend = backend
        self.store = store
        self.calls = 0
        """Requests sent to the backend (cache misses)."""

    def ask(self, questions: Sequence[Question]) -> list[Answer]:
        """Answer each question, asking the backend only for those not cached, in one batch."""
        keys = [(q.key(), image_hash(q.images)) for q in questions]
        answers: list[Answer | None] = [self._cached(*key) for key in keys]
        missing = [i for i, answer in enumerate(answers) if answer is None]
        if missing:
            replies = self.backend.generate(
                [Request(questions[i].images, questions[i].prompt(), 24 if questions[i].kind == "indices" else 8)
                 for i in missing]
            )  # fmt: skip
            self.calls += len(missing)
            for i, reply in zip(missing, replies, strict=True):
                question = questions[i]
                parsed: Answer
                if question.kind == "yes_no":
                    parsed = parse_yes_no(reply.text, reply.yes_probability)
                elif question.kind == "choice":
                    parsed = parse_choice(reply.text, question.options)
                else:
                    parsed = parse_indices(reply.text, len(question.options))
                answers[i] = parsed
                self._remember(*keys[i], question.text, parsed)
        return [answer for answer in answers if answer is not None]

    def yes_no(self, images: Sequence[Image.Image], text: str) -> YesNo:
        """One yes/no question."""
        answer = self.ask([Question(tuple(images), text)])[0]
        assert isinstance(answer, YesNo)
        return answer

    def choice(self, images: Sequence[Image.Image], text: str, options: Sequence[str]) -> Choice:
        """One multiple-choice question."""
        answer = self.ask([Question(tuple(images), text, "choice", tuple(options))])[0]
        assert isinstance(answer, Choice)
        return answer

    def indices(self, panel: Image.Image, text: str, tiles: int) -> Indices:
        """Which of a panel's ``tiles`` labelled tiles satisfy the condition."""
        answer = self.ask([Question((panel,), text, "indices", tuple(str(i) for i in range(tiles)))])[0]
        assert isinstance(answer, Indices)
        return answer

    def _cached(self, question_key: str, images_key: str) -> Answer | None:
        if self.store is None:
            return None
        row = self.store.con.execute(
            "SELECT answer FROM vlm_cache WHERE model = ? AND question_hash = ? AND image_hash = ?",
            [self.backend.model_id, question_key, images_key],
        ).fetchone()
        return from_json(json.loads(row[0])) if row else None

    def _remember(self, question_key: str, images_key: str, text: str, answer: Answer) -> None:
        if self.store is None:
            return
        self.store.con.execute(
            "INSERT OR REPLACE INTO vlm_cache VALUES (?, ?, ?, ?, ?, ?)",
            [self.backend.model_id, question_key, images_key, text, json.dumps(to_json(answer)),
             dt.datetime.now(dt.UTC).replace(tzinfo=None)],
        )  # fmt: skip
