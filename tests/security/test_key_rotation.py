"""PIMS_ENCRYPTION_KEY rotation with PIMS_ENCRYPTION_KEY_PREVIOUS (contract §2.3): rows sealed
with an older key stay readable, every write seals with the current key, and a rotation that
meets a value no key opens writes nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from daemon.config import Settings
from daemon.store import SecretBox, Store
from daemon.store.crypto import UndecryptableSecret, key_fingerprint
from daemon.store.models import PimsCredential, PimsSession
from providers.base import Credentials
from tests.conftest import TEST_KEY

NEW_KEY = "new-encryption-key-" + "n" * 30
LOGIN = {"username": "front.desk", "password": "pw-rotating-1", "company_id": "acme"}


def _clinic(store: Store, name: str) -> uuid.UUID:
    return store.clinics.add(
        name=name, timezone="America/Los_Angeles", provider="idexx-neo", base_url=None
    ).id


def _sealed_with(store: Store) -> set[str]:
    """The key fingerprints of every stored secret."""
    box = store.box
    with store.db.session() as session:
        stored: list[str | None] = []
        for row in session.execute(select(PimsCredential)).scalars():
            stored += [row.username_encrypted, row.password_encrypted, row.company_id_encrypted]
        for sess in session.execute(select(PimsSession)).scalars():
            stored.append(sess.cookies_encrypted)
    return {box.key_id_of(value) or "?" for value in stored if value is not None}


def test_previous_keys_come_from_the_environment() -> None:
    old_a, old_b = "a" * 32, "b" * 40
    settings = Settings.from_env(
        {"PIMS_ENCRYPTION_KEY": NEW_KEY, "PIMS_ENCRYPTION_KEY_PREVIOUS": f"{old_a}, {old_b}"}
    )
    assert settings.encryption_key == NEW_KEY
    assert settings.previous_encryption_keys == (old_a, old_b)
    assert NEW_KEY not in repr(settings) and old_a not in repr(settings)


def test_old_rows_stay_readable_and_every_write_uses_the_current_key(store: Store) -> None:
    clinic = _clinic(store, "A")
    store.credentials.set(clinic, provider="idexx-neo", fields=LOGIN)
    store.session_store(clinic).save('{"cookies": "old-session"}', None)
    assert _sealed_with(store) == {key_fingerprint(TEST_KEY)}

    rotated = Store(store.db, SecretBox(NEW_KEY, (TEST_KEY,)))
    assert rotated.credentials.get(clinic) == Credentials(LOGIN)  # old rows: readable
    sessions = rotated.session_store(clinic)
    assert sessions.load() == '{"cookies": "old-session"}'
    sessions.save('{"cookies": "new-session"}', None)  # a write seals with the new key
    rotated.credentials.set(clinic, provider="idexx-neo", fields=LOGIN)
    assert _sealed_with(store) == {key_fingerprint(NEW_KEY)}
    only_new = Store(store.db, SecretBox(NEW_KEY))
    assert only_new.credentials.get(clinic) == Credentials(LOGIN)


def test_a_rotation_that_meets_an_unopenable_value_writes_nothing(store: Store) -> None:
    first, second = _clinic(store, "A"), _clinic(store, "B")
    store.credentials.set(first, provider="idexx-neo", fields=LOGIN)
    lost_key = "lost-key-" + "x" * 40
    Store(store.db, SecretBox(lost_key)).credentials.set(second, provider="idexx-neo", fields=LOGIN)
    before = _sealed_with(store)
    rotating = Store(store.db, SecretBox(NEW_KEY, (TEST_KEY,)))
    with pytest.raises(UndecryptableSecret) as caught:
        rotating.credentials.rotate_all()
    assert str(second) in str(caught.value)
    assert LOGIN["password"] not in str(caught.value)
    assert _sealed_with(store) == before  # the first clinic was not half-rotated
    assert store.credentials.get(first) == Credentials(LOGIN)
