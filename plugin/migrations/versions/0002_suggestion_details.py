"""suggestions: requester (repeat memory), audience, tone, compensation, to_fill, lint

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = (
    ("requester_key", sa.String(255)),
    ("audience", sa.String(16)),
    ("tone", sa.String(16)),
    ("compensation", sa.Text),
    ("to_fill", sa.Text),
    ("lint", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("suggestions") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind))
    op.create_index("ix_suggestions_requester", "suggestions", ["helpdesk", "account", "requester_key", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_suggestions_requester", table_name="suggestions")
    with op.batch_alter_table("suggestions") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
