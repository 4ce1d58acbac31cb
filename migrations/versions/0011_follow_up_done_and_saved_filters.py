"""a follow-up can be marked done (when, by whom, a note); people keep named inquiry-queue filters

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from pmo.db import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("follow_ups") as batch:
        batch.add_column(
            sa.Column(
                "done_at", UTCDateTime(timezone=True), nullable=True, comment="when the agreed actions were confirmed"
            )
        )
        batch.add_column(sa.Column("done_by", sa.String(80), nullable=True))
        batch.add_column(sa.Column("done_note", sa.Text(), nullable=True))
    op.create_table(
        "saved_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("query", sa.String(1000), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_saved_filters_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_filters")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_saved_filters_account_name")),
    )
    op.create_index(op.f("ix_saved_filters_account_id"), "saved_filters", ["account_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_saved_filters_account_id"), table_name="saved_filters")
    op.drop_table("saved_filters")
    with op.batch_alter_table("follow_ups") as batch:
        batch.drop_column("done_note")
        batch.drop_column("done_by")
        batch.drop_column("done_at")
