"""delegated administration: an account that manages the accounts of its scope

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column(
                "administrator",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="manages the accounts of its body (a prefecture: also its municipalities' administrators)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("administrator")
