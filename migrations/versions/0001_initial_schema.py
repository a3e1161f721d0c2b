"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 10:18:19.480843
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("pims_provider", sa.Text(), nullable=False),
        sa.Column("pims_base_url", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinics")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sync_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'ongoing', 'completed', 'reviewed')", name=op.f("ck_cases_status")
        ),
        sa.CheckConstraint(
            "type IN ('checkup', 'emergency', 'surgery', 'follow_up')", name=op.f("ck_cases_type")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_cases_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint(
            "clinic_id", "external_id", name=op.f("uq_cases_clinic_id_external_id")
        ),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_clinic_scheduled", ["clinic_id", "scheduled_at"], unique=False
        )

    op.create_table(
        "clinic_api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=12), nullable=False),
        sa.Column(
            "permissions",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "length(key_prefix) = 12", name=op.f("ck_clinic_api_keys_key_prefix_length")
        ),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 100", name=op.f("ck_clinic_api_keys_name_length")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_clinic_api_keys_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_clinic_api_keys_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_clinic_api_keys_key_hash")),
    )
    with op.batch_alter_table("clinic_api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinic_api_keys_clinic_id"), ["clinic_id"], unique=False
        )

    op.create_table(
        "clinic_schedule_configs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column(
            "sync_schedules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sync_horizon_days", sa.Integer(), nullable=False),
        sa.Column("slot_duration_minutes", sa.Integer(), nullable=True),
        sa.Column("default_capacity", sa.Integer(), nullable=False),
        sa.Column(
            "daily_hours",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "default_capacity >= 0", name=op.f("ck_clinic_schedule_configs_capacity_non_negative")
        ),
        sa.CheckConstraint(
            "slot_duration_minutes IS NULL OR slot_duration_minutes BETWEEN 5 AND 120",
            name=op.f("ck_clinic_schedule_configs_slot_range"),
        ),
        sa.CheckConstraint(
            "sync_horizon_days BETWEEN 1 AND 60",
            name=op.f("ck_clinic_schedule_configs_horizon_range"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_clinic_schedule_configs_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_schedule_configs")),
        sa.UniqueConstraint("clinic_id", name=op.f("uq_clinic_schedule_configs_clinic_id")),
    )
    op.create_table(
        "pims_appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("patient_name", sa.Text(), nullable=True),
        sa.Column("client_name", sa.Text(), nullable=True),
        sa.Column("client_phone", sa.Text(), nullable=True),
        sa.Column("provider_name", sa.Text(), nullable=True),
        sa.Column("room_id", sa.Text(), nullable=True),
        sa.Column("appointment_type", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("consultation_id", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("is_block", sa.Boolean(), nullable=False),
        sa.Column("sync_hash", sa.String(length=64), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_pims_appointments_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pims_appointments")),
        sa.UniqueConstraint(
            "clinic_id", "external_id", name=op.f("uq_pims_appointments_clinic_id_external_id")
        ),
    )
    with op.batch_alter_table("pims_appointments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pims_appointments_clinic_date", ["clinic_id", "local_date"], unique=False
        )

    op.create_table(
        "pims_credentials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("username_encrypted", sa.Text(), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("company_id_encrypted", sa.Text(), nullable=True),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_pims_credentials_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pims_credentials")),
        sa.UniqueConstraint("clinic_id", name=op.f("uq_pims_credentials_clinic_id")),
    )
    op.create_table(
        "pims_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("cookies_encrypted", sa.Text(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_pims_sessions_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pims_sessions")),
        sa.UniqueConstraint("clinic_id", name=op.f("uq_pims_sessions_clinic_id")),
    )
    op.create_table(
        "schedule_slots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("local_start", sa.String(length=5), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("is_blocked", sa.Boolean(), nullable=False),
        sa.Column("block_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_schedule_slots_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_slots")),
        sa.UniqueConstraint(
            "clinic_id", "starts_at", name=op.f("uq_schedule_slots_clinic_id_starts_at")
        ),
    )
    with op.batch_alter_table("schedule_slots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_schedule_slots_clinic_date", ["clinic_id", "local_date"], unique=False
        )

    op.create_table(
        "schedule_syncs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("sync_type", sa.String(length=20), nullable=False),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column(
            "options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("total_items", sa.Integer(), nullable=False),
        sa.Column("processed_items", sa.Integer(), nullable=False),
        sa.Column(
            "stats",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "errors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'partial', 'failed', 'interrupted')",
            name=op.f("ck_schedule_syncs_status"),
        ),
        sa.CheckConstraint(
            "sync_type IN ('inbound', 'cases', 'reconciliation')",
            name=op.f("ck_schedule_syncs_sync_type"),
        ),
        sa.CheckConstraint(
            "trigger IN ('api', 'schedule', 'cli')", name=op.f("ck_schedule_syncs_trigger")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_schedule_syncs_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_syncs")),
    )
    with op.batch_alter_table("schedule_syncs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_schedule_syncs_clinic_started",
            ["clinic_id", "sync_type", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_schedule_syncs_status_heartbeat", ["status", "heartbeat_at"], unique=False
        )
        batch_op.create_index(
            "uq_schedule_syncs_active_type",
            ["clinic_id", "sync_type"],
            unique=True,
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )
        batch_op.create_index(
            "uq_schedule_syncs_running_clinic",
            ["clinic_id"],
            unique=True,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )

    op.create_table(
        "case_sync_audits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("sync_id", sa.Uuid(), nullable=False),
        sa.Column("sync_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("appointments_found", sa.Integer(), nullable=False),
        sa.Column("cases_created", sa.Integer(), nullable=False),
        sa.Column("cases_updated", sa.Integer(), nullable=False),
        sa.Column("cases_skipped", sa.Integer(), nullable=False),
        sa.Column("cases_deleted", sa.Integer(), nullable=False),
        sa.Column("cases_failed", sa.Integer(), nullable=False),
        sa.Column(
            "errors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "sync_type IN ('quick', 'full', 'reconciliation')",
            name=op.f("ck_case_sync_audits_sync_type"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_case_sync_audits_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sync_id"],
            ["schedule_syncs.id"],
            name=op.f("fk_case_sync_audits_sync_id_schedule_syncs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_sync_audits")),
    )
    with op.batch_alter_table("case_sync_audits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_sync_audits_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_sync_audits_sync_id"), ["sync_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_sync_audits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_sync_audits_sync_id"))
        batch_op.drop_index(batch_op.f("ix_case_sync_audits_clinic_id"))

    op.drop_table("case_sync_audits")
    with op.batch_alter_table("schedule_syncs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_schedule_syncs_running_clinic",
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )
        batch_op.drop_index(
            "uq_schedule_syncs_active_type",
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )
        batch_op.drop_index("ix_schedule_syncs_status_heartbeat")
        batch_op.drop_index("ix_schedule_syncs_clinic_started")

    op.drop_table("schedule_syncs")
    with op.batch_alter_table("schedule_slots", schema=None) as batch_op:
        batch_op.drop_index("ix_schedule_slots_clinic_date")

    op.drop_table("schedule_slots")
    op.drop_table("pims_sessions")
    op.drop_table("pims_credentials")
    with op.batch_alter_table("pims_appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_pims_appointments_clinic_date")

    op.drop_table("pims_appointments")
    op.drop_table("clinic_schedule_configs")
    with op.batch_alter_table("clinic_api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinic_api_keys_clinic_id"))

    op.drop_table("clinic_api_keys")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_clinic_scheduled")

    op.drop_table("cases")
    op.drop_table("users")
    op.drop_table("clinics")
