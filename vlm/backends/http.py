"""OpenAI-compatible chat-completions backend (vLLM, Ollama, hosted): images sent inline as PNG data URLs.

Temperature 0 for deterministic answers; where the endpoint returns log-probabilities, the
probability of "yes" on the first token is read from them.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from PIL import Image

from avmine.vlm.backends import Reply, Request, VlmUnavailableError

logger = logging.getLogger(__name__)


def data_url(image: Image.Image) -> str:
    """The image as a PNG data URL."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class ChatCompletionsBackend:
    """``POST {url}/chat/completions`` for each request."""

    def __init__(self, url: str, model: str, api_key: str | None = None, timeout_s: float = 120.0) -> None:
        self.url = url.rstrip("/") + "/chat/completions"
        self.model_id = model
        self.api_key = api_key
        self.timeout_s = timeout_s

    def generate(self, requests: Sequence[Request]) -> list[Reply]:
        """Answer the requests one call each (servers batch concurrent calls themselves)."""
        return [self._one(request) for request in requests]

    def _one(self, request: Request) -> Reply:
        content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": data_url(image)}}
                                         for image in request.images]  # fmt: skip
        content.append({"type": "text", "text": request.prompt})
        body = {
            "model": self.model_id,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": request.max_new_tokens,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 5,
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        http_request = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout_s) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise VlmUnavailableError(f"the VLM endpoint {self.url} answered {exc.code}: {detail}") from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            raise VlmUnavailableError(f"the VLM endpoint {self.url} cannot be reached: {exc}") from exc
        try:
            choice = answer["choices"][0]
            text = str(choice["message"]["content"] or "")
        except (KeyError, IndexError, TypeError) as exc:
            raise VlmUnavailableError(
                f"the VLM endpoint {self.url} sent no chat completion: {str(answer)[:300]}"
            ) from exc
        return Reply(text.strip(), _yes_probability(choice))


def _yes_probability(choice: dict[str, Any]) -> float | None:
    try:
        first = choice["logprobs"]["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError) as exc:  # an endpoint without logprobs: the answer has no confidence
        logger.debug("the VLM endpoint sent no yes/no logprobs (%s: %s)", type(exc).__name__, exc)
        return None
    yes = sum(math.exp(t["logprob"]) for t in first if t["token"].strip().lower() == "yes")
    no = sum(math.exp(t["logprob"]) for t in first if t["token"].strip().lower() == "no")
    return yes / (yes + no) if yes + no > 0 else None
