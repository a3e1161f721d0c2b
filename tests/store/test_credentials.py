"""Credentials of any provider: field name -> value, encrypted at rest, on both databases."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from daemon.store import SecretBox, Store
from daemon.store.crypto import UndecryptableSecret
from daemon.store.models import PimsCredential
from daemon.store.types import utcnow
from providers.base import Credentials
from tests.conftest import TEST_KEY

EZYVET = {
    "partner_id": "partner-7",
    "client_id": "client-42",
    "client_secret": "s3cret-Ünïcode-value",
    "site_uid": "site-1",
}
IDEXX = {"username": "front.desk", "password": "pw-1", "company_id": "acme"}


def _clinic(store: Store, provider: str, name: str = "Alum Rock") -> uuid.UUID:
    return store.clinics.add(
        name=name, timezone="America/Los_Angeles", provider=provider, base_url=None
    ).id


def _row(store: Store, clinic_id: uuid.UUID) -> PimsCredential:
    with store.db.session() as session:
        row = session.execute(
            select(PimsCredential).where(PimsCredential.clinic_id == clinic_id)
        ).scalar_one()
        session.expunge(row)
        return row


def test_ezyvet_fields_round_trip_in_the_neutral_column(store: Store) -> None:
    clinic_id = _clinic(store, "ezyvet")
    store.credentials.set(clinic_id, provider="ezyvet", fields=EZYVET)
    assert store.credentials.get(clinic_id) == Credentials(EZYVET)
    row = _row(store, clinic_id)
    assert row.provider == "ezyvet"
    assert (row.username_encrypted, row.password_encrypted, row.company_id_encrypted) == (
        None,
        None,
        None,
    )
    assert row.secrets_encrypted is not None
    for value in EZYVET.values():
        assert value not in row.secrets_encrypted
    assert EZYVET["client_secret"] not in repr(store.credentials.get(clinic_id))


def test_idexx_neo_fields_keep_their_columns(store: Store) -> None:
    clinic_id = _clinic(store, "idexx-neo")
    store.credentials.set(clinic_id, provider="idexx-neo", fields=IDEXX)
    row = _row(store, clinic_id)
    assert row.secrets_encrypted is None
    assert None not in (row.username_encrypted, row.password_encrypted, row.company_id_encrypted)
    assert store.credentials.get(clinic_id) == Credentials(IDEXX)


def test_replacing_a_login_drops_fields_the_new_one_lacks(store: Store) -> None:
    clinic_id = _clinic(store, "idexx-neo")
    store.credentials.set(clinic_id, provider="idexx-neo", fields=IDEXX)
    store.session_store(clinic_id).save("cookies", None)
    store.credentials.set(clinic_id, provider="ezyvet", fields=EZYVET)
    assert store.credentials.get(clinic_id) == Credentials(EZYVET)
    assert store.session_store(clinic_id).load() is None
    store.credentials.set(
        clinic_id, provider="idexx-neo", fields={"username": "u", "password": "p"}
    )
    assert store.credentials.get(clinic_id) == Credentials.of(username="u", password="p")
    assert _row(store, clinic_id).secrets_encrypted is None


def test_bad_field_sets_are_refused(store: Store) -> None:
    clinic_id = _clinic(store, "ezyvet")
    with pytest.raises(ValueError, match="at least one field"):
        store.credentials.set(clinic_id, provider="ezyvet", fields={})
    with pytest.raises(ValueError, match="not a valid field name"):
        store.credentials.set(clinic_id, provider="ezyvet", fields={"Client Secret": "x"})


def test_neutral_column_is_bound_to_its_clinic(store: Store) -> None:
    first, second = _clinic(store, "ezyvet", "One"), _clinic(store, "ezyvet", "Two")
    store.credentials.set(first, provider="ezyvet", fields=EZYVET)
    store.credentials.set(second, provider="ezyvet", fields={"partner_id": "other"})
    copied = _row(store, first).secrets_encrypted
    with store.db.session() as session:
        session.execute(
            update(PimsCredential)
            .where(PimsCredential.clinic_id == second)
            .values(secrets_encrypted=copied, updated_at=utcnow())
        )
    with pytest.raises(UndecryptableSecret) as caught:
        store.credentials.get(second)
    assert str(second) in str(caught.value) and "s3cret" not in str(caught.value)


def test_rotation_reencrypts_both_kinds_of_login(store: Store) -> None:
    ezyvet, idexx = _clinic(store, "ezyvet", "E"), _clinic(store, "idexx-neo", "I")
    store.credentials.set(ezyvet, provider="ezyvet", fields=EZYVET)
    store.credentials.set(idexx, provider="idexx-neo", fields=IDEXX)
    new_key = "n" * 40
    rotating = Store(store.db, SecretBox(new_key, (TEST_KEY,)))
    assert rotating.credentials.rotate_all() == 2
    only_new = Store(store.db, SecretBox(new_key))
    assert only_new.credentials.get(ezyvet) == Credentials(EZYVET)
    assert only_new.credentials.get(idexx) == Credentials(IDEXX)
    assert rotating.credentials.rotate_all() == 0
    with pytest.raises(UndecryptableSecret):
        store.credentials.get(ezyvet)  # the old key alone opens nothing now


def test_clinic_provider_settings_round_trip_and_clear(store: Store) -> None:
    clinic_id = _clinic(store, "ezyvet")
    hours = {"1": {"enabled": True, "open": "08:00", "close": "18:00"}}
    clinic = store.clinics.update(
        clinic_id,
        status_map={"done": "finalized"},
        block_types=["surgery block"],
        daily_hours=hours,
    )
    assert (clinic.status_map, clinic.block_types, clinic.daily_hours) == (
        {"done": "finalized"},
        ("surgery block",),
        hours,
    )
    body = clinic.as_json()
    assert (body["statusMap"], body["blockTypes"], body["dailyHours"]) == (
        {"done": "finalized"},
        ["surgery block"],
        hours,
    )
    cleared = store.clinics.update(clinic_id, clear=["status_map", "block_types", "daily_hours"])
    assert (cleared.status_map, cleared.block_types, cleared.daily_hours) == ({}, (), None)
    with pytest.raises(TypeError):
        store.clinics.update(clinic_id, clear=["name"])
