"""Column types that mean the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JsonDocument = JSON().with_variant(postgresql.JSONB(), "postgresql")

#: A list of short strings: a real text[] on PostgreSQL, a JSON array on SQLite.
StringList = JSON().with_variant(postgresql.ARRAY(Text()), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC on both databases.

    SQLite has no time zones: it would hand back naive values and silently accept local ones. We
    refuse naive input (a bug waiting to shift a pet's appointment by the server's offset) and
    return aware UTC values everywhere.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware datetimes")
        as_utc = value.astimezone(UTC)
        return as_utc.replace(tzinfo=None) if dialect.name == "sqlite" else as_utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
