"""Fixtures of the actor tests."""

from __future__ import annotations

from collections.abc import Iterator

import pykka
import pytest

from daemon.store import Database, SecretBox, Store
from daemon.store.migrate import upgrade
from tests.conftest import TEST_KEY
from tests.faults.cluster import ThrowawayCluster


@pytest.fixture
def outage_store() -> Iterator[tuple[ThrowawayCluster, Store]]:
    """A store on a throwaway PostgreSQL cluster that a test may stop and start again."""
    cluster = ThrowawayCluster().init()
    db = Database(cluster.url)
    try:
        upgrade(db.engine)
        yield cluster, Store(db, SecretBox(TEST_KEY))
    finally:
        pykka.ActorRegistry.stop_all()
        db.dispose()
        cluster.destroy()
