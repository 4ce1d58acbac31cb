"""page sessions kept on the server: sign-out ends a session everywhere, a copied cookie stops working

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from pmo.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "page_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], name=op.f("fk_page_sessions_token_id_tokens")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_sessions")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_page_sessions_key_hash")),
    )
    with op.batch_alter_table("page_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_page_sessions_token_id"), ["token_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("page_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_page_sessions_token_id"))
    op.drop_table("page_sessions")
