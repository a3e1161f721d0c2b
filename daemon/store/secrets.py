"""PIMS credentials and cached PIMS sessions, encrypted at rest (see ``crypto.py``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select

from daemon.store.crypto import SecretBox
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


class CredentialRepository:
    def __init__(self, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box

    def set(
        self,
        clinic_id: uuid.UUID,
        *,
        provider: str,
        username: str,
        password: str,
        company_id: str | None,
    ) -> None:
        """Store (or replace) a clinic's login. Replacing it drops the cached session, which
        belonged to the old login."""
        cid = str(clinic_id)
        now = utcnow()
        with self.db.session() as session:
            row = session.execute(
                select(PimsCredential).where(PimsCredential.clinic_id == clinic_id)
            ).scalar_one_or_none()
            if row is None:
                row = PimsCredential(clinic_id=clinic_id, created_at=now)
                session.add(row)
            row.provider = provider
            row.username_encrypted = self.box.encrypt(username, clinic_id=cid, what="username")
            row.password_encrypted = self.box.encrypt(password, clinic_id=cid, what="password")
            row.company_id_encrypted = (
                None
                if company_id is None
                else self.box.encrypt(company_id, clinic_id=cid, what="company_id")
            )
            row.key_version = (row.key_version or 0) + 1 if row.id else 1
            row.validated_at = None
            row.updated_at = now
            session.execute(delete(PimsSession).where(PimsSession.clinic_id == clinic_id))
            # A credentials change is a config change the daemon must notice.
            clinic = session.get(Clinic, clinic_id)
            if clinic is not None:
                clinic.updated_at = now

    def has(self, clinic_id: uuid.UUID) -> bool:
        with self.db.session() as session:
            return (
                session.execute(
                    select(PimsCredential.id).where(PimsCredential.clinic_id == clinic_id)
                ).first()
                is not None
            )

    def get(self, clinic_id: uuid.UUID) -> Credentials:
        cid = str(clinic_id)
        with self.db.session() as session:
            row = session.execute(
                select(PimsCredential).where(PimsCredential.clinic_id == clinic_id)
            ).scalar_one_or_none()
            if row is None:
                raise NoCredentials(clinic_id)
            return Credentials.of(
                username=self.box.decrypt(row.username_encrypted, clinic_id=cid, what="username"),
                password=self.box.decrypt(row.password_encrypted, clinic_id=cid, what="password"),
                company_id=None
                if row.company_id_encrypted is None
                else self.box.decrypt(row.company_id_encrypted, clinic_id=cid, what="company_id"),
            )

    def username(self, clinic_id: uuid.UUID) -> str:
        return self.get(clinic_id).get("username") or ""

    def mark_validated(self, clinic_id: uuid.UUID) -> None:
        with self.db.session() as session:
            row = session.execute(
                select(PimsCredential).where(PimsCredential.clinic_id == clinic_id)
            ).scalar_one_or_none()
            if row is not None:
                row.validated_at = utcnow()

    def rotate_all(self) -> int:
        """Re-encrypt every stored secret (credentials and sessions) with the current key.

        Everything is decrypted first: if any value cannot be opened, nothing is written and the
        error names the clinic."""
        reencrypted = 0
        with self.db.session() as session:
            for row in session.execute(select(PimsCredential)).scalars():
                cid = str(row.clinic_id)
                fields = [("username", "username_encrypted"), ("password", "password_encrypted")]
                if row.company_id_encrypted is not None:
                    fields.append(("company_id", "company_id_encrypted"))
                changed = False
                for what, column in fields:
                    stored = getattr(row, column)
                    if self.box.needs_rotation(stored):
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
