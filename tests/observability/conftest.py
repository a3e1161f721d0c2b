"""Fixtures: a fake Axiom per test, and a root logger restored after each test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from daemon.observability import AxiomSettings
from daemon.observability import logging as obs_logging
from tests.observability.fake_axiom import FakeAxiom


@pytest.fixture
def fake_axiom() -> Iterator[FakeAxiom]:
    server = FakeAxiom().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_axiom_settings(fake_axiom: FakeAxiom) -> AxiomSettings:
    return AxiomSettings(token=fake_axiom.token, dataset="pims-sync-test", url=fake_axiom.url)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``configure_logging`` changes the root logger; put it back as pytest had it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    if obs_logging._current is not None:
        obs_logging._current.shutdown(timeout_s=2.0)
        obs_logging._current = None
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
