from __future__ import annotations

from pathlib import Path

import pytest

from .tiny_llava import build


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random LLaVA saved to disk (model, tokenizer, processor)."""
    return build(tmp_path_factory.mktemp("tiny_llava"))
