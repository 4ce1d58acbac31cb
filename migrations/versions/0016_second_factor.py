"""a second factor: each account's TOTP key, when it was enabled, the last accepted step, recovery codes

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from pmo.db import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("totp_secret", sa.String(64), nullable=True, comment="TOTP key (in use once totp_enabled_at)")
        )
        batch.add_column(sa.Column("totp_enabled_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("totp_last_step", sa.Integer(), nullable=True, comment="a code's time step is accepted once")
        )
        batch.add_column(
            sa.Column("recovery_hashes", sa.JSON(), nullable=True, comment="SHA-256 of unused recovery codes")
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        for column in ("recovery_hashes", "totp_last_step", "totp_enabled_at", "totp_secret"):
            batch.drop_column(column)
