"""notifications: each message is also an in-app notification (read or not, with its page), mailed at once,
in the daily digest or not at all as its recipient chose per topic

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

from pmo.db import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("delivery", sa.String(10), nullable=False, server_default=sa.text("'immediate'")))
        batch.add_column(sa.Column("path", sa.String(300), nullable=True, comment="the page the message is about"))
        batch.add_column(
            sa.Column(
                "read_at", UTCDateTime(timezone=True), nullable=True, comment="read in the app's notification list"
            )
        )
        batch.create_index("ix_outbox_unread", ["account_id", "read_at"])
    op.create_table(
        "notification_preferences",
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("topic", sa.String(20), primary_key=True),
        sa.Column("mode", sa.String(10), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_unread")
        batch.drop_column("read_at")
        batch.drop_column("path")
        batch.drop_column("delivery")
