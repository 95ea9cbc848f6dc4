from collections.abc import Iterator

import pytest

from avmine.atomic import algebra
from avmine.atomic.timelines import set_context_resolver
from tests.atomic._support import LOG_DIR, FakeLog, worked_example_log


@pytest.fixture
def log() -> Iterator[FakeLog]:
    """The worked-example log of _support, registered as the context of LOG_DIR (and only of it)."""
    fake = worked_example_log()

    def resolve(log_dir: object) -> FakeLog:
        assert log_dir == LOG_DIR, log_dir
        return fake

    previous = set_context_resolver(resolve)
    try:
        yield fake
    finally:
        set_context_resolver(previous)


@pytest.fixture(autouse=True)
def _isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests register test doubles under real function names; never leak them to other tests.
    monkeypatch.setattr(algebra, "_registry", {})
    monkeypatch.setattr(algebra, "_compat_mutation", False)
