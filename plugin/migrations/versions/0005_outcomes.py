"""outcomes: how much of our letter the agent's first public reply kept (issue 6)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("helpdesk", sa.String(32), nullable=False),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("comment_id", sa.String(64), nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("ratio", sa.Float, nullable=False),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("edited", sa.Boolean, nullable=False),
        sa.Column("inserted", sa.Boolean, nullable=False),
        sa.Column("letter_words", sa.Integer, nullable=False),
        sa.Column("reply_words", sa.Integer, nullable=False),
        sa.Column("commented_at", sa.Float),
        sa.Column("recorded_at", sa.Float, nullable=False),
        sa.UniqueConstraint("helpdesk", "account", "ticket_id", name="uq_outcomes_ticket"),
    )
    op.create_index("ix_outcomes_event_id", "outcomes", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_outcomes_event_id", table_name="outcomes")
    op.drop_table("outcomes")
