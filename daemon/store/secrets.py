"""PIMS credentials and cached PIMS sessions, encrypted at rest (see ``crypto.py``)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import delete, select

from daemon.store.crypto import SecretBox, UndecryptableSecret
from daemon.store.database import Database
from daemon.store.models import Clinic, PimsCredential, PimsSession
from daemon.store.types import utcnow
from providers.base import Credentials


class NoCredentials(LookupError):
    code = "no_credentials"

    def __init__(self, clinic_id: uuid.UUID) -> None:
        super().__init__(
            f"clinic {clinic_id} has no PIMS credentials "
            "(set them with `pims-sync credentials set`)"
        )


#: Fields that keep their own column (release 0001 stored IDEXX Neo's login there); every
#: other field of a provider's login is kept in ``secrets_encrypted`` as one JSON object.
LEGACY_COLUMNS: dict[str, str] = {
    "username": "username_encrypted",
    "password": "password_encrypted",
    "company_id": "company_id_encrypted",
}
SECRETS_AAD = "secrets"
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class CredentialRepository:
    """A clinic's PIMS login, whatever the provider: field name -> value, encrypted at rest.

    The repository does not know any provider's fields (the provider declares them and the CLI
    checks them); it stores whatever it is given and hands it back as :class:`Credentials`.
    """

    def __init__(self, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box

    def set(self, clinic_id: uuid.UUID, *, provider: str, fields: Mapping[str, str]) -> None:
        """Store (or replace) a clinic's login. Replacing it drops the cached session, which
        belonged to the old login, and every field the new login does not have."""
        if not fields:
            raise ValueError("credentials: at least one field is needed")
        for name in fields:
            if not _FIELD_NAME.fullmatch(name):
                raise ValueError(f"credentials: {name!r} is not a valid field name")
        cid = str(clinic_id)
        others = {name: value for name, value in fields.items() if name not in LEGACY_COLUMNS}
        now = utcnow()
        with self.db.session() as session:
            row = session.execute(
                select(PimsCredential).where(PimsCredential.clinic_id == clinic_id)
            ).scalar_one_or_none()
            if row is None:
                row = PimsCredential(clinic_id=clinic_id, created_at=now)
                session.add(row)
            row.provider = provider
            for name, column in LEGACY_COLUMNS.items():
                value = fields.get(name)
                sealed = (
                    None if value is None else self.box.encrypt(value, clinic_id=cid, what=name)
                )
                setattr(row, column, sealed)
            row.secrets_encrypted = (
                self.box.encrypt(
                    json.dumps(others, sort_keys=True), clinic_id=cid, what=SECRETS_AAD
                )
                if others
                else None
            )
            row.key_version = (row.key_version or 0) + 1 if row.id else 1
            row.validated_at = None
            row.updated_at = now
            session.execute(delete(PimsSession).where(PimsSession.clinic_id == clinic_id))
            # A credentials change is a config change the daemon must notice.
            clinic = session.get(Clinic, clinic_id)
            if clinic is not None:
                clinic.updated_at = now

    def get(self, clinic_id: uuid.UUID) -> Credentials:
        with self.db.session() as session:
            row = session.execute(
                select(PimsCredential).where(PimsCredential.clinic_id == clinic_id)
            ).scalar_one_or_none()
            if row is None:
                raise NoCredentials(clinic_id)
            return Credentials(self._open(row))

    def _open(self, row: PimsCredential) -> dict[str, str]:
        cid = str(row.clinic_id)
        values: dict[str, str] = {}
        for name, column in LEGACY_COLUMNS.items():
            stored = getattr(row, column)
            if stored is not None:
                values[name] = self.box.decrypt(stored, clinic_id=cid, what=name)
        if row.secrets_encrypted is not None:
            plain = self.box.decrypt(row.secrets_encrypted, clinic_id=cid, what=SECRETS_AAD)
            try:
                others = json.loads(plain)
            except ValueError:
                raise UndecryptableSecret(cid, SECRETS_AAD, "not a JSON object") from None
            if not isinstance(others, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in others.items()
            ):
                raise UndecryptableSecret(cid, SECRETS_AAD, "not an object of strings")
            values.update(others)
        return values

    def rotate_all(self) -> int:
        """Re-encrypt every stored secret (credentials and sessions) with the current key.

        Everything is decrypted first: if any value cannot be opened, nothing is written and the
        error names the clinic."""
        reencrypted = 0
        columns = [*LEGACY_COLUMNS.items(), (SECRETS_AAD, "secrets_encrypted")]
        with self.db.session() as session:
            for row in session.execute(select(PimsCredential)).scalars():
                cid = str(row.clinic_id)
                changed = False
                for what, column in columns:
                    stored = getattr(row, column)
                    if stored is not None and self.box.needs_rotation(stored):
                        plain = self.box.decrypt(stored, clinic_id=cid, what=what)
                        setattr(row, column, self.box.encrypt(plain, clinic_id=cid, what=what))
                        changed = True
                if changed:
                    row.key_version += 1
                    row.updated_at = utcnow()
                    reencrypted += 1
            for sess in session.execute(select(PimsSession)).scalars():
                if self.box.needs_rotation(sess.cookies_encrypted):
                    cid = str(sess.clinic_id)
                    plain = self.box.decrypt(sess.cookies_encrypted, clinic_id=cid, what="session")
                    sess.cookies_encrypted = self.box.encrypt(plain, clinic_id=cid, what="session")
                    sess.key_version += 1
                    reencrypted += 1
        return reencrypted


class DatabaseSessionStore:
    """A provider's :class:`providers.base.SessionStore` backed by ``pims_sessions``."""

    def __init__(self, db: Database, box: SecretBox, clinic_id: uuid.UUID) -> None:
        self.db = db
        self.box = box
        self.clinic_id = clinic_id

    def load(self) -> str | None:
        now = utcnow()
        with self.db.session() as session:
            row = session.execute(
                select(PimsSession).where(PimsSession.clinic_id == self.clinic_id)
            ).scalar_one_or_none()
            if row is None:
                return None
            if row.expires_at is not None and row.expires_at <= now:
                session.delete(row)
                return None
            row.last_used_at = now
            return self.box.decrypt(
                row.cookies_encrypted, clinic_id=str(self.clinic_id), what="session"
            )

    def save(self, state: str, expires_at: datetime | None) -> None:
        now = utcnow()
        sealed = self.box.encrypt(state, clinic_id=str(self.clinic_id), what="session")
        with self.db.session() as session:
            row = session.execute(
                select(PimsSession).where(PimsSession.clinic_id == self.clinic_id)
            ).scalar_one_or_none()
            if row is None:
                row = PimsSession(clinic_id=self.clinic_id, created_at=now)
                session.add(row)
            row.cookies_encrypted = sealed
            row.expires_at = expires_at
            row.last_used_at = now

    def clear(self) -> None:
        with self.db.session() as session:
            session.execute(delete(PimsSession).where(PimsSession.clinic_id == self.clinic_id))
