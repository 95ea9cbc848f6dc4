"""Both backends through their real code paths, the answer parsers, and the store-backed cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from avmine.store import Store
from avmine.vlm.answers import parse_choice, parse_indices, parse_yes_no
from avmine.vlm.backends import Request, VlmConfig, VlmUnavailableError, load_backend
from avmine.vlm.backends.http import ChatCompletionsBackend
from avmine.vlm.backends.local import TransformersBackend
from avmine.vlm.service import Question, VlmService

from .stand_in import StandIn, chat_completions

RED = Image.new("RGB", (96, 64), (200, 20, 20))
BLUE = Image.new("RGB", (96, 64), (20, 20, 200))


def test_answers_are_parsed_into_types() -> None:
    assert parse_yes_no("Yes, it is.").value is True
    assert parse_yes_no("no").value is False and parse_yes_no("no", 0.2).confidence == pytest.approx(0.8)
    assert parse_yes_no("I cannot tell").value is None
    assert parse_choice("It looks dark blue to me", ["black", "blue", "red"]).value == "blue"
    assert parse_choice("purple", ["black", "blue"]).value is None
    assert parse_indices("[0, 2, 2, 9]", 4).values == (0, 2)
    assert parse_indices("none of them", 4).values == ()


def test_tiny_llava_batched_equals_one_by_one(tiny_llava: Path) -> None:
    backend = TransformersBackend.from_pretrained(str(tiny_llava), batch_size=3)
    requests = [Request((RED,), "Is the vehicle red?"), Request((BLUE, RED), "which tiles"), Request((), "yes or no")]
    batched = backend.generate(requests)
    alone = [TransformersBackend.from_pretrained(str(tiny_llava), batch_size=1).generate([r])[0] for r in requests]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert all(r.yes_probability is not None and 0 <= r.yes_probability <= 1 for r in batched)
    assert backend.generate(requests) == batched  # greedy decoding: deterministic


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    with chat_completions() as server:
        yield server


def test_chat_completions_backend_against_a_local_stand_in(stand_in: StandIn) -> None:
    backend = ChatCompletionsBackend(stand_in.url, "qwen2.5-vl", api_key="k3y")
    reply = backend.generate([Request((RED,), "Is it red? Answer yes or no.")])[0]
    assert reply.text == "Yes."
    assert reply.yes_probability == pytest.approx(0.9 / (0.9 + 0.1), rel=1e-3)
    sent = stand_in.seen[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer k3y"
    content = sent["body"]["messages"][0]["content"]
    assert content[0]["image_url"]["url"].startswith("data:image/png;base64,") and content[1]["text"].startswith("Is")
    assert sent["body"]["temperature"] == 0
    with pytest.raises(VlmUnavailableError, match="answered 404"):
        ChatCompletionsBackend(stand_in.url, "missing").generate([Request((RED,), "x")])
    with pytest.raises(VlmUnavailableError, match="cannot be reached"):
        ChatCompletionsBackend("http://127.0.0.1:9/v1", "m", timeout_s=2).generate([Request((RED,), "x")])


def test_configuration_errors_say_how_to_configure() -> None:
    with pytest.raises(VlmUnavailableError, match="AVMINE_VLM_BACKEND=transformers"):
        load_backend(VlmConfig())
    with pytest.raises(VlmUnavailableError, match="AVMINE_VLM_URL is not set"):
        load_backend(VlmConfig(backend="openai", model="m"))
    with pytest.raises(VlmUnavailableError, match="unknown AVMINE_VLM_BACKEND 'gpt'"):
        load_backend(VlmConfig(backend="gpt", model="m"))


def test_answers_are_cached_in_the_store_by_model_question_and_image(stand_in: StandIn, tmp_path: Path) -> None:
    with Store.open(tmp_path / "cache.duckdb") as store:
        service = VlmService(ChatCompletionsBackend(stand_in.url, "qwen2.5-vl"), store)
        first = service.yes_no([RED], "Is the object in the magenta box a police car?")
        again = service.yes_no([RED], "Is the object in the magenta box a police car?")
        assert first == again and first.value is True and service.calls == 1  # the second came from the cache
        service.yes_no([BLUE], "Is the object in the magenta box a police car?")  # another image: asked
        service.ask([Question((RED,), "Which colour?", "choice", ("red", "blue"))])  # another question: asked
        assert service.calls == 3 and len(stand_in.seen) == 3
        other_model = VlmService(ChatCompletionsBackend(stand_in.url, "llava"), store)
        other_model.yes_no([RED], "Is the object in the magenta box a police car?")
        assert other_model.calls == 1  # answers of different models never mix
        rows = store.con.execute("SELECT count(*) FROM vlm_cache").fetchone()
        assert rows == (4,)
