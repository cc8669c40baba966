"""admin console: rule documents, audit log, helpdesk connections, login attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_documents",
        sa.Column("helpdesk", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("helpdesk", sa.String(32), nullable=False),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
    )
    op.create_index("ix_audit_account_at", "audit_log", ["helpdesk", "account", "at"])
    op.create_table(
        "connections",
        sa.Column("helpdesk", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(255), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("remote", sa.String(64), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
    )
    op.create_index("ix_login_attempts_remote_at", "login_attempts", ["remote", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_attempts_remote_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_table("connections")
    op.drop_index("ix_audit_account_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("rule_documents")
