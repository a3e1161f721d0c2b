"""replicas: the replica registry, clinic leases, and the cron tick of a scheduled sync

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 01:15:00

Several daemons may share one PostgreSQL: ``clinic_leases`` says which replica serves a clinic
(with a fencing token that grows on every change of owner), ``replicas`` is the live set used for
balancing, and ``schedule_syncs.scheduled_for`` with its partial unique index makes a cron tick
run once across replicas. On SQLite the tables exist with the same meaning and stay empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replicas",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("draining", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replicas")),
    )
    op.create_table(
        "clinic_leases",
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=True),
        sa.Column("fencing_token", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_clinic_leases_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("clinic_id", name=op.f("pk_clinic_leases")),
    )
    with op.batch_alter_table("clinic_leases", schema=None) as batch_op:
        batch_op.create_index("ix_clinic_leases_owner", ["owner_id"], unique=False)

    with op.batch_alter_table("schedule_syncs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replica_id", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "uq_schedule_syncs_tick",
            ["clinic_id", "sync_type", "scheduled_for"],
            unique=True,
            sqlite_where=sa.text("scheduled_for IS NOT NULL"),
            postgresql_where=sa.text("scheduled_for IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("schedule_syncs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_schedule_syncs_tick",
            sqlite_where=sa.text("scheduled_for IS NOT NULL"),
            postgresql_where=sa.text("scheduled_for IS NOT NULL"),
        )
        batch_op.drop_column("scheduled_for")
        batch_op.drop_column("replica_id")
    with op.batch_alter_table("clinic_leases", schema=None) as batch_op:
        batch_op.drop_index("ix_clinic_leases_owner")
    op.drop_table("clinic_leases")
    op.drop_table("replicas")
