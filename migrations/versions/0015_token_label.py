"""a personal token's name, given by the person who made it on the account page

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(
            sa.Column("label", sa.String(60), nullable=True, comment="the name a person gave a personal token")
        )


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("label")
