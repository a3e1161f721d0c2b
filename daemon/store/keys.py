"""Per-clinic API keys: creation, listing, revocation and lookup by hash."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from daemon.store import apikeys
from daemon.store.database import Database
from daemon.store.models import PERMISSIONS, Clinic, ClinicApiKey
from daemon.store.types import utcnow

LAST_USED_RESOLUTION = timedelta(minutes=1)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ApiKeyView:
    id: uuid.UUID
    clinic_id: uuid.UUID
    name: str
    prefix: str
    permissions: tuple[str, ...]
    expires_at: datetime | None
    is_active: bool
    last_used_at: datetime | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "clinicId": str(self.clinic_id),
            "name": self.name,
            "prefix": self.prefix,
            "permissions": list(self.permissions),
            "expiresAt": _iso(self.expires_at),
            "isActive": self.is_active,
            "lastUsedAt": _iso(self.last_used_at),
            "createdAt": _iso(self.created_at),
        }


@dataclass(frozen=True)
class KeyOwner:
    """What an authenticated request knows about its key."""

    key_id: uuid.UUID
    clinic_id: uuid.UUID
    permissions: frozenset[str]
    is_active: bool
    expires_at: datetime | None
    clinic_active: bool
    last_used_at: datetime | None


def _view(row: ClinicApiKey) -> ApiKeyView:
    return ApiKeyView(
        id=row.id,
        clinic_id=row.clinic_id,
        name=row.name,
        prefix=row.key_prefix,
        permissions=tuple(row.permissions or ()),
        expires_at=row.expires_at,
        is_active=row.is_active,
        last_used_at=row.last_used_at,
        created_at=row.created_at,
    )


class ApiKeyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        clinic_id: uuid.UUID,
        *,
        name: str,
        permissions: tuple[str, ...] = PERMISSIONS,
        expires_in_days: int | None = None,
    ) -> tuple[ApiKeyView, str]:
        """Returns the stored key and the plaintext key, which is never stored nor shown again."""
        key = apikeys.generate_key()
        now = utcnow()
        with self.db.session() as session:
            row = ClinicApiKey(
                clinic_id=clinic_id,
                name=name,
                key_hash=apikeys.hash_key(key),
                key_prefix=apikeys.display_prefix(key),
                permissions=list(dict.fromkeys(permissions)),
                expires_at=None
                if expires_in_days is None
                else now + timedelta(days=expires_in_days),
                is_active=True,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return _view(row), key

    def list(self, clinic_id: uuid.UUID) -> list[ApiKeyView]:
        with self.db.session() as session:
            rows = session.execute(
                select(ClinicApiKey)
                .where(ClinicApiKey.clinic_id == clinic_id)
                .order_by(ClinicApiKey.created_at)
            ).scalars()
            return [_view(row) for row in rows]

    def get(self, key_id: uuid.UUID) -> ApiKeyView | None:
        with self.db.session() as session:
            row = session.get(ClinicApiKey, key_id)
            return None if row is None else _view(row)

    def revoke(self, key_id: uuid.UUID) -> ApiKeyView | None:
        with self.db.session() as session:
            row = session.get(ClinicApiKey, key_id)
            if row is None:
                return None
            row.is_active = False
            row.updated_at = utcnow()
            session.flush()
            return _view(row)

    def lookup(self, presented_key: str) -> KeyOwner | None:
        """Find a key by the SHA-256 of what the caller presented (constant-time compare)."""
        digest = apikeys.hash_key(presented_key)
        with self.db.session() as session:
            row = session.execute(
                select(ClinicApiKey, Clinic.is_active)
                .join(Clinic, Clinic.id == ClinicApiKey.clinic_id)
                .where(ClinicApiKey.key_hash == digest)
            ).first()
            if row is None:
                return None
            key, clinic_active = row
            if not hmac.compare_digest(key.key_hash, digest):
                return None
            return KeyOwner(
                key_id=key.id,
                clinic_id=key.clinic_id,
                permissions=frozenset(key.permissions or ()),
                is_active=key.is_active,
                expires_at=key.expires_at,
                clinic_active=bool(clinic_active),
                last_used_at=key.last_used_at,
            )

    def touch(self, key_id: uuid.UUID, last_used_at: datetime | None) -> None:
        """Record use at most once a minute per key (a write per request would be wasteful)."""
        now = utcnow()
        if last_used_at is not None and now - last_used_at < LAST_USED_RESOLUTION:
            return
        with self.db.session() as session:
            session.execute(
                update(ClinicApiKey).where(ClinicApiKey.id == key_id).values(last_used_at=now)
            )
