"""VLM backends behind one interface: a batch of (images, prompt) requests in, one text per request out.

``load_backend`` builds the configured one: local transformers (``avmine.vlm.backends.local``) or any
OpenAI-compatible chat-completions endpoint (``avmine.vlm.backends.http``: vLLM, Ollama, hosted).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

CONFIGURE_HINT = (
    "No VLM backend is configured. Set AVMINE_VLM_BACKEND=transformers with AVMINE_VLM_MODEL=<a Hugging Face "
    "image-text-to-text model id or local path, e.g. Qwen/Qwen2.5-VL-7B-Instruct>, or AVMINE_VLM_BACKEND=openai "
    "with AVMINE_VLM_URL=<http://host:port/v1> and AVMINE_VLM_MODEL=<model name> (an API key, if the endpoint "
    "needs one, in AVMINE_VLM_API_KEY); then restart `avmine serve`."
)


class VlmUnavailableError(RuntimeError):
    """No backend is configured or it cannot be reached; the message says how to fix it."""


@dataclass(frozen=True)
class Request:
    """One question about one or more images."""

    images: tuple[Image.Image, ...]
    prompt: str
    max_new_tokens: int = 16


@dataclass(frozen=True)
class Reply:
    """The model's text, and its probability of "yes" where the backend can tell (for yes/no questions)."""

    text: str
    yes_probability: float | None = None


class Backend(Protocol):
    """What every backend does."""

    model_id: str
    """Names the model in the cache: answers of different models never mix."""

    def generate(self, requests: Sequence[Request]) -> list[Reply]:
        """Answer a batch of requests, deterministically (greedy decoding)."""
        ...


@dataclass(frozen=True)
class VlmConfig:
    """Which backend and model; read from the environment by ``from_env``."""

    backend: str | None = None
    model: str | None = None
    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    batch_size: int = 4
    timeout_s: float = 120.0

    @classmethod
    def from_env(cls) -> VlmConfig:
        """AVMINE_VLM_BACKEND, AVMINE_VLM_MODEL, AVMINE_VLM_URL, AVMINE_VLM_API_KEY, AVMINE_VLM_BATCH."""
        return cls(
            backend=os.environ.get("AVMINE_VLM_BACKEND") or None,
            model=os.environ.get("AVMINE_VLM_MODEL") or None,
            url=os.environ.get("AVMINE_VLM_URL") or None,
            api_key=os.environ.get("AVMINE_VLM_API_KEY") or None,
            batch_size=int(os.environ.get("AVMINE_VLM_BATCH", "4")),
        )


def configuration_problem(config: VlmConfig) -> str | None:
    """Why ``config`` names no usable backend, with how an operator fixes it; None when it names one.

    Checks the settings only: nothing is loaded or reached (a configured endpoint may still be down).
    """
    if config.backend is None:
        return CONFIGURE_HINT
    if not config.model:
        return f"AVMINE_VLM_MODEL is not set. {CONFIGURE_HINT}"
    if config.backend == "openai" and not config.url:
        return f"AVMINE_VLM_URL is not set. {CONFIGURE_HINT}"
    if config.backend not in ("transformers", "openai"):
        return f"unknown AVMINE_VLM_BACKEND {config.backend!r}: use transformers or openai."
    return None


def load_backend(config: VlmConfig) -> Backend:
    """The configured backend.

    Raises:
        VlmUnavailableError: nothing configured, or an incomplete configuration.
    """
    problem = configuration_problem(config)
    if problem:
        raise VlmUnavailableError(problem)
    model = str(config.model)  # set: configuration_problem checked it, and the URL an openai backend needs
    if config.backend == "transformers":
        from avmine.vlm.backends.local import TransformersBackend

        return TransformersBackend.from_pretrained(model, batch_size=config.batch_size)
    from avmine.vlm.backends.http import ChatCompletionsBackend

    return ChatCompletionsBackend(str(config.url), model, config.api_key, config.timeout_s)
