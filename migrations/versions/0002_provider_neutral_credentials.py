"""provider-neutral credentials and per-clinic provider settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 01:10:00

Credentials: the IDEXX Neo columns stay as they are (no stored login is rewritten, and a
migration cannot re-encrypt anyway: it has no key); other providers' fields go to
``secrets_encrypted``, so the username and password columns become nullable.
Clinics gain ``status_map`` and ``block_types`` (``pims-sync clinic set``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("pims_credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secrets_encrypted", sa.Text(), nullable=True))
        batch_op.alter_column("username_encrypted", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("password_encrypted", existing_type=sa.Text(), nullable=True)
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_map", _json(), nullable=True))
        batch_op.add_column(sa.Column("block_types", _json(), nullable=True))


def downgrade() -> None:
    # Only an IDEXX Neo login fits the 0001 columns: other providers' credentials are dropped
    # (they could not be used by that release anyway).
    op.execute(
        "DELETE FROM pims_credentials "
        "WHERE username_encrypted IS NULL OR password_encrypted IS NULL"
    )
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("block_types")
        batch_op.drop_column("status_map")
    with op.batch_alter_table("pims_credentials", schema=None) as batch_op:
        batch_op.alter_column("password_encrypted", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("username_encrypted", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("secrets_encrypted")
