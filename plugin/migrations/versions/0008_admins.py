"""named console admins, and which admin each console session belongs to (issue 14)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admins",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_sign_in_at", sa.Float),
        sqlite_autoincrement=True,
    )
    # NULL for the sessions open before: they were all signed in with the shared password.
    with op.batch_alter_table("admin_sessions") as batch:
        batch.add_column(sa.Column("admin_id", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("admin_sessions") as batch:
        batch.drop_column("admin_id")
    op.drop_table("admins")
