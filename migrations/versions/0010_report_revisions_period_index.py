"""an index on report revisions by period and time: a period's newest submission is one index read

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_report_revisions_period_submitted_at", "report_revisions", ["period", "submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_report_revisions_period_submitted_at", table_name="report_revisions")
