"""Local transformers backend: AutoProcessor + AutoModelForImageTextToText, batched, greedy decoding.

Works with the image-text-to-text families transformers supports (Qwen2.5-VL / Qwen3-VL, LLaVA,
...); the model id or a local path comes from the configuration. Qwen's processors need torchvision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from avmine.vlm.backends import Reply, Request


class TransformersBackend:
    """A local model; requests are answered in batches of ``batch_size`` (left-padded)."""

    def __init__(self, model: Any, processor: Any, model_id: str, batch_size: int = 4) -> None:
        self.model = model.eval()
        self.processor = processor
        self.model_id = model_id
        self.batch_size = max(1, batch_size)
        tokenizer = processor.tokenizer
        tokenizer.padding_side = "left"  # batched generation continues every row from its last real token
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._yes = self._first_tokens(("yes", "Yes", " yes", " Yes"))
        self._no = self._first_tokens(("no", "No", " no", " No"))

    @classmethod
    def from_pretrained(cls, model_id: str, batch_size: int = 4) -> TransformersBackend:
        """Load a model and its processor by id or path (from the local Hugging Face cache when offline)."""
        processor = AutoProcessor.from_pretrained(model_id)  # type: ignore[no-untyped-call]
        model = AutoModelForImageTextToText.from_pretrained(model_id, dtype="auto")
        return cls(model, processor, model_id, batch_size)

    def _first_tokens(self, words: Sequence[str]) -> list[int]:
        tokenizer = self.processor.tokenizer
        ids = {
            tokenizer(word, add_special_tokens=False)["input_ids"][:1][0]
            for word in words
            if tokenizer(word, add_special_tokens=False)["input_ids"]
        }
        return sorted(ids)

    def generate(self, requests: Sequence[Request]) -> list[Reply]:
        """Answer the requests, ``batch_size`` at a time."""
        replies: list[Reply] = []
        for start in range(0, len(requests), self.batch_size):
            replies += self._batch(requests[start : start + self.batch_size])
        return replies

    def _batch(self, requests: Sequence[Request]) -> list[Reply]:
        texts = [
            self.processor.apply_chat_template(
                [
                    {
                        "role": "user",
                        "content": [*({"type": "image"} for _ in r.images), {"type": "text", "text": r.prompt}],
                    }
                ],
                add_generation_prompt=True,
                tokenize=False,
            )
            for r in requests
        ]
        images = [image for r in requests for image in r.images]
        inputs = self.processor(images=images or None, text=texts, return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=max(r.max_new_tokens for r in requests),
                do_sample=False,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=self.processor.tokenizer.pad_token_id,
            )
        new_tokens = out.sequences[:, inputs["input_ids"].shape[1] :]
        decoded = self.processor.batch_decode(new_tokens, skip_special_tokens=True)
        first = torch.softmax(out.scores[0].float(), dim=-1)  # the first answer token decides yes or no
        replies = []
        for i, text in enumerate(decoded):
            yes, no = float(first[i, self._yes].sum()), float(first[i, self._no].sum())
            replies.append(Reply(text.strip(), yes / (yes + no) if yes + no > 1e-9 else None))
        return replies
