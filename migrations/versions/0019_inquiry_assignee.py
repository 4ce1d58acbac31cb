"""inquiry assignee: the person of the handling tier who works it (cleared when the tier changes)

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inquiries") as batch:
        batch.add_column(
            sa.Column(
                "assignee_account_id",
                sa.Integer(),
                nullable=True,
                comment="the person of the current tier working it (cleared when the tier changes)",
            )
        )
        batch.create_foreign_key(
            op.f("fk_inquiries_assignee_account_id_accounts"), "accounts", ["assignee_account_id"], ["id"]
        )
        batch.create_index(op.f("ix_inquiries_assignee_account_id"), ["assignee_account_id"])


def downgrade() -> None:
    with op.batch_alter_table("inquiries") as batch:
        batch.drop_index(op.f("ix_inquiries_assignee_account_id"))
        batch.drop_constraint(op.f("fk_inquiries_assignee_account_id_accounts"), type_="foreignkey")
        batch.drop_column("assignee_account_id")
