"""personal sign-in: an account's e-mail address and its password's argon2id hash

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=True, comment="sign-in name, lower-cased"))
        batch.add_column(
            sa.Column("password_hash", sa.String(200), nullable=True, comment="argon2id; never the password")
        )
        batch.create_unique_constraint(batch.f("uq_accounts_email"), ["email"])


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint(batch.f("uq_accounts_email"), type_="unique")
        batch.drop_column("password_hash")
        batch.drop_column("email")
