"""feedback (agents' corrections) and account_models (per-account classifiers)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("suggestions") as batch:
        batch.add_column(sa.Column("text", sa.Text))
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("helpdesk", sa.String(32), nullable=False),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("from_category", sa.String(64)),
        sa.Column("to_category", sa.String(64)),
        sa.Column("text", sa.Text),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_feedback_account", "feedback", ["helpdesk", "account", "created_at"])
    op.create_table(
        "account_models",
        sa.Column("helpdesk", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("corrections", sa.Integer, nullable=False),
        sa.Column("trained_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_models")
    op.drop_index("ix_feedback_account", table_name="feedback")
    op.drop_table("feedback")
    with op.batch_alter_table("suggestions") as batch:
        batch.drop_column("text")
