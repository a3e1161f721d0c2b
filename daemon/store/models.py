"""The tables of contract §4, as SQLAlchemy 2 models.

The alembic migrations in ``migrations/`` create exactly these (a test runs alembic's
autogenerate comparison and expects no difference). ``updated_at`` is set by the application.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from daemon.names import PERMISSIONS as PERMISSIONS  # re-exported
from daemon.names import SYNC_TYPES as SYNC_TYPES  # re-exported
from daemon.store.types import JsonDocument, StringList, UTCDateTime, new_uuid, utcnow

SYNC_STATUSES = ("queued", "running", "completed", "partial", "failed", "interrupted")
ACTIVE_SYNC_STATUSES = ("queued", "running")
SYNC_TRIGGERS = ("api", "schedule", "cli")
CASE_STATUSES = ("draft", "ongoing", "completed", "reviewed")
CASE_TYPES = ("checkup", "emergency", "surgery", "follow_up")

# Stable constraint names, so that migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(Text, default="America/Los_Angeles")
    pims_provider: Mapped[str] = mapped_column(Text, default="idexx-neo")
    pims_base_url: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Provider settings (contract §7): status name (lower case) -> normalised status, and
    # appointment type names (lower case) that are blocks. Null = none set.
    status_map: Mapped[dict[str, str] | None] = mapped_column(JsonDocument)
    block_types: Mapped[list[str] | None] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    email: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(Text)


class ClinicApiKey(Base):
    __tablename__ = "clinic_api_keys"
    __table_args__ = (
        CheckConstraint("length(key_prefix) = 12", name="key_prefix_length"),
        CheckConstraint("length(name) BETWEEN 1 AND 100", name="name_length"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    clinic_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("clinics.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(12))
    permissions: Mapped[list[str]] = mapped_column(StringList, default=lambda: list(PERMISSIONS))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClinicScheduleConfig(Base):
    __tablename__ = "clinic_schedule_configs"
    __table_args__ = (
        CheckConstraint("sync_horizon_days BETWEEN 1 AND 60", name="horizon_range"),
        CheckConstraint(
            "slot_duration_minutes IS NULL OR slot_duration_minutes BETWEEN 5 AND 120",
            name="slot_range",
        ),
        CheckConstraint("default_capacity >= 0", name="capacity_non_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    clinic_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("clinics.id", ondelete="CASCADE"), unique=True
    )
    sync_schedules: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    sync_horizon_days: Mapped[int] = mapped_column(Integer, default=14)
    slot_duration_minutes: Mapped[int | None] = mapped_column(Integer)
    default_capacity: Mapped[int] = mapped_column(Integer, default=2)
    daily_hours: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PimsCredential(Base):
    """A clinic's PIMS login. Fields named ``username``, ``password`` and ``company_id`` keep
    their own columns (IDEXX Neo's, as release 0001 stored them); every other field of the
    provider's login lives in ``secrets_encrypted``, one encrypted JSON object."""

    __tablename__ = "pims_credentials"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    clinic_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("clinics.id", ondelete="CASCADE"), unique=True
    )
    provider: Mapped[str] = mapped_column(Text)
    username_encrypted: Mapped[str | None] = mapped_column(Text)
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    company_id_encrypted: Mapped[str | None] = mapped_column(Text)
    secrets_encrypted: Mapped[str | None] = mapped_column(Text)
    key_version: Mapped[int] = mapped_column(Integer, default=1)
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PimsSession(Base):
    __tablename__ = "pims_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    clinic_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("clinics.id", ondelete="CASCADE"), unique=True
    )
    cookies_encrypted: Mapped[str] = mapped_column(Text)
    key_version: Mapped[int] = mapped_column(Integer, default=1)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduleSync(Base):
    """One row per sync of any type: its state, progress, stats and errors."""

    __tablename__ = "schedule_syncs"
    __table_args__ = (
        CheckConstraint(_in("sync_type", SYNC_TYPES), name="sync_type"),
        CheckConstraint(_in("status", SYNC_STATUSES), name="status"),
        CheckConstraint(_in("trigger", SYNC_TRIGGERS), name="trigger"),
        # The database itself refuses a second queued/running sync of one type for a clinic,
        # and a second running sync of any type: no race between HTTP, cron and the CLI
        # (or, later, between replicas) can run two syncs of a clinic at once.
        Index(
            "uq_schedule_syncs_active_type",
            "clinic_id",
            "sync_type",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        Index(
            "uq_schedule_syncs_running_clinic",
            "clinic_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
        Index("ix_schedule_syncs_clinic_started", "clinic_id", "sync_type", "started_at"),
        Index("ix_schedule_syncs_status_heartbeat", "status", "heartbeat_at"),
        # A cron tick runs once across replicas: whichever replica queues it first wins.
        Index(
            "uq_schedule_syncs_tick",
            "clinic_id",
            "sync_type",
            "scheduled_for",
            unique=True,
            sqlite_where=text("scheduled_for IS NOT NULL"),
            postgresql_where=text("scheduled_for IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    clinic_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("clinics.id", ondelete="CASCADE"))
    sync_type: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    error_code: Mapped[str | None] = mapped_column(String(40))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    options: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    total_items: Mapped[int] = mapped_column(Integer, default=0)
    processed_items: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replica_id: Mapped[str | None] = mapped_column(Text)  # the replica that ran it
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its cron tick


class CaseSyncAudit(Base):
    __tablename__ = "case_sync_audits"
    __table_args__ = (
        CheckConstraint(_in("sync_type", ("quick", "full", "reconciliation")), name="sync_type"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    clinic_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("clinics.id", ondelete="CASCADE"), index=True
    )
    sync_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("schedule_syncs.id", ondelete="CASCADE"), index=True
    )
    sync_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="running")
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    appointments_found: Mapped[int] = mapped_column(Integer, default=0)
    cases_created: Mapped[int] = mapped_column(Integer, default=0)
    cases_updated: Mapped[int] = mapped_column(Integer, default=0)
    cases_skipped: Mapped[int] = mapped_column(Integer, default=0)
    cases_deleted: Mapped[int] = mapped_column(Integer, default=0)
    cases_failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("clinic_id", "external_id"),
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        CheckConstraint(_in("type", CASE_TYPES), name="type"),
        Index("ix_cases_clinic_scheduled", "clinic_id", "scheduled_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    clinic_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("clinics.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="completed")
    type: Mapped[str] = mapped_column(String(12), default="checkup")
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "metadata" is reserved on declarative classes; the column keeps the contract's name.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JsonDocument, default=dict)
    sync_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PimsAppointment(Base):
    __tablename__ = "pims_appointments"
    __table_args__ = (
        UniqueConstraint("clinic_id", "external_id"),
        Index("ix_pims_appointments_clinic_date", "clinic_id", "local_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    clinic_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("clinics.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_date: Mapped[date] = mapped_column(Date)
    patient_name: Mapped[str | None] = mapped_column(Text)
    client_name: Mapped[str | None] = mapped_column(Text)
    client_phone: Mapped[str | None] = mapped_column(Text)
    provider_name: Mapped[str | None] = mapped_column(Text)
    room_id: Mapped[str | None] = mapped_column(Text)
    appointment_type: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    consultation_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    is_block: Mapped[bool] = mapped_column(Boolean, default=False)
    sync_hash: Mapped[str | None] = mapped_column(String(64))
    last_synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduleSlot(Base):
    """Availability the phone agent reads: one row per slot start."""

    __tablename__ = "schedule_slots"
    __table_args__ = (
        UniqueConstraint("clinic_id", "starts_at"),
        Index("ix_schedule_slots_clinic_date", "clinic_id", "local_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    clinic_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("clinics.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_date: Mapped[date] = mapped_column(Date)
    local_start: Mapped[str] = mapped_column(String(5))
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    is_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    block_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Replica(Base):
    """A running daemon sharing this database (PostgreSQL only; see docs in README Replicas)."""

    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    draining: Mapped[bool] = mapped_column(Boolean, default=False)


class ClinicLease(Base):
    """Which replica serves a clinic, until when, and its fencing token (only ever grows)."""

    __tablename__ = "clinic_leases"
    __table_args__ = (Index("ix_clinic_leases_owner", "owner_id"),)

    clinic_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("clinics.id", ondelete="CASCADE"), primary_key=True
    )
    owner_id: Mapped[str | None] = mapped_column(Text)
    fencing_token: Mapped[int] = mapped_column(BigInteger, default=0)
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
