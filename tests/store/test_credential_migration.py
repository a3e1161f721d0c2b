"""A database made by release 0001, with an IDEXX Neo login stored the 0001 way, migrated to
head, still syncs: nothing re-entered, a real browser login against the simulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
)

from daemon.store import Database, SecretBox, Store
from daemon.store.migrate import alembic_config, current_revision, head_revision, upgrade
from daemon.store.types import JsonDocument, UTCDateTime, utcnow
from daemon.sync.context import Repositories
from daemon.sync.providers import ProviderFactory
from daemon.sync.requests import SyncRequest
from daemon.sync.runner import SyncRunner
from providers.base import NullObserver
from providers.browsers import BrowserPool
from providers.idexx_neo.simulator import SimulatorServer
from tests.conftest import DIALECTS, TEST_KEY
from tests.support import CREDENTIALS, PROVIDER, TODAY, ZONE
from tests.sync.conftest import CLOCK, fast_provider
from tests.sync.test_cases import expected_case_ids
from tests.throwaway_database import create_database


@pytest.fixture(params=DIALECTS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'release-0001.db'}"
        return
    url, drop = create_database("pims_sync_mig")
    try:
        yield url
    finally:
        drop()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(today=TODAY, timezone=ZONE) as server:
        yield server


@pytest.fixture(scope="module")
def pool() -> Iterator[BrowserPool]:
    browsers = BrowserPool(size=1, chromium_path="/usr/bin/chromium")
    try:
        yield browsers
    finally:
        browsers.stop()


def _migrate_to(db: Database, revision: str) -> None:
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


# The three tables as release 0001 created them (only the columns its repositories wrote).
_OLD = MetaData()
_CLINICS = Table(
    "clinics",
    _OLD,
    Column("id", Uuid),
    Column("name", Text),
    Column("timezone", Text),
    Column("pims_provider", Text),
    Column("pims_base_url", Text),
    Column("is_active", Boolean),
    Column("created_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
)
_CONFIGS = Table(
    "clinic_schedule_configs",
    _OLD,
    Column("id", Uuid),
    Column("clinic_id", Uuid),
    Column("sync_schedules", JsonDocument),
    Column("sync_horizon_days", Integer),
    Column("default_capacity", Integer),
    Column("created_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
)
_CREDENTIALS = Table(
    "pims_credentials",
    _OLD,
    Column("id", Uuid),
    Column("clinic_id", Uuid),
    Column("provider", Text),
    Column("username_encrypted", Text),
    Column("password_encrypted", Text),
    Column("company_id_encrypted", Text),
    Column("key_version", Integer),
    Column("created_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
)


def _store_like_release_0001(db: Database, box: SecretBox, base_url: str) -> uuid.UUID:
    """A clinic, its schedule configuration and its login, written as release 0001's
    repositories wrote them (today's models know columns 0001 does not have)."""
    clinic_id, now = uuid.uuid4(), utcnow()
    cid = str(clinic_id)

    def seal(value: str, what: str) -> str:
        return box.encrypt(value, clinic_id=cid, what=what)

    with db.engine.begin() as connection:
        connection.execute(
            _CLINICS.insert().values(
                id=clinic_id,
                name="Release 0001 Clinic",
                timezone=ZONE,
                pims_provider="idexx-neo",
                pims_base_url=base_url,
                is_active=True,
                created_at=now,
                updated_at=now,
            )
        )
        connection.execute(
            _CONFIGS.insert().values(
                id=uuid.uuid4(),
                clinic_id=clinic_id,
                sync_schedules=[],
                sync_horizon_days=14,
                default_capacity=2,
                created_at=now,
                updated_at=now,
            )
        )
        connection.execute(
            _CREDENTIALS.insert().values(
                id=uuid.uuid4(),
                clinic_id=clinic_id,
                provider="idexx-neo",
                username_encrypted=seal(CREDENTIALS.require("username"), "username"),
                password_encrypted=seal(CREDENTIALS.require("password"), "password"),
                company_id_encrypted=seal(CREDENTIALS.require("company_id"), "company_id"),
                key_version=1,
                created_at=now,
                updated_at=now,
            )
        )
    return clinic_id


def test_release_0001_credentials_still_sync_after_the_migration(
    empty_database_url: str, sim: SimulatorServer, pool: BrowserPool
) -> None:
    sim.reset()
    db = Database(empty_database_url)
    try:
        _migrate_to(db, "0001")
        assert current_revision(db.engine) == "0001"
        box = SecretBox(TEST_KEY)
        clinic_id = _store_like_release_0001(db, box, sim.url)

        assert upgrade(db.engine) == head_revision()
        store = Store(db, box)
        assert store.credentials.get(clinic_id) == CREDENTIALS
        clinic = store.clinics.get(clinic_id)
        assert (clinic.provider, clinic.status_map, clinic.block_types) == (PROVIDER, {}, ())

        providers = ProviderFactory(
            store, pool, observer_factory=lambda _: NullObserver(), creator=fast_provider
        )
        runner = SyncRunner(store, providers, clock=CLOCK, wait_poll_s=0.05, cancel_grace_s=0.5)
        logins_before = sim.stats()["logins"]
        record = runner.submit_and_run(clinic_id, SyncRequest(sync_type="cases", trigger="cli"))
        assert record.status == "completed", record.errors
        assert sim.stats()["logins"] == logins_before + 1  # a real login with the old login
        stored = Repositories.of(store).cases.all_for_clinic(clinic_id)
        assert {c.external_id for c in stored} == expected_case_ids(sim)
        assert record.stats["created"] == len(expected_case_ids(sim)) > 0
    finally:
        db.dispose()
