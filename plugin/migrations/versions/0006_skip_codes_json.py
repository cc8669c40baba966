"""skip reasons as codes; JSON columns where the database has them (issue 11)

Skipped events recorded their reason as a sentence in `last_error`; it becomes a code in
`skip_reason` (plugin.core.decision.SkipReason) and the category in `skip_category`, and the
console renders the sentence. The event payload and the suggestion's lists become JSON
columns on PostgreSQL (`json`); SQLite, which has no JSON type, keeps the text.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""
import re

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON_COLUMNS = (("events", "payload"), ("suggestions", "evidence"), ("suggestions", "tags"),
                ("suggestions", "to_fill"), ("suggestions", "lint"))
DISABLED = re.compile(r"^the rule for (\S+) is disabled$")
BELOW = "below the rule's"  # "confidence 0.41 below the rule's 0.60"


def code_for(sentence: str) -> tuple[str, str | None]:
    """The code (and category) for a skip sentence an earlier version wrote."""
    text = (sentence or "").strip()
    if text.startswith("not a complaint"):
        return "not_a_complaint", None
    match = DISABLED.match(text)
    if match:
        return "rule_disabled", match.group(1)
    if BELOW in text:
        return "below_threshold", None
    return "other", None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("skip_reason", sa.String(32)))
        batch.add_column(sa.Column("skip_category", sa.String(64)))
    bind = op.get_bind()
    events = sa.table("events", sa.column("id", sa.Integer), sa.column("status", sa.String),
                      sa.column("last_error", sa.Text), sa.column("skip_reason", sa.String),
                      sa.column("skip_category", sa.String))
    rows = bind.execute(sa.select(events.c.id, events.c.last_error).where(events.c.status == "skipped")).all()
    for event_id, sentence in rows:
        code, category = code_for(sentence)
        # An unknown old reason keeps its words in last_error; a known one is now the code alone.
        bind.execute(events.update().where(events.c.id == event_id).values(
            skip_reason=code, skip_category=category, last_error=sentence if code == "other" else None))
    if bind.dialect.name == "postgresql":  # SQLite has no JSON type: the text stays as it is
        for table, column in JSON_COLUMNS:
            op.alter_column(table, column, type_=sa.JSON, existing_type=sa.Text, postgresql_using=f"{column}::json")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, column in JSON_COLUMNS:
            op.alter_column(table, column, type_=sa.Text, existing_type=sa.JSON, postgresql_using=f"{column}::text")
    events = sa.table("events", sa.column("status", sa.String), sa.column("last_error", sa.Text),
                      sa.column("skip_reason", sa.String), sa.column("skip_category", sa.String))
    bind.execute(events.update().where(events.c.status == "skipped", events.c.skip_reason == "not_a_complaint")
                 .values(last_error="not a complaint that calls for an apology"))
    bind.execute(events.update().where(events.c.status == "skipped", events.c.skip_reason == "rule_disabled")
                 .values(last_error="the rule for " + sa.func.coalesce(events.c.skip_category, "its category")
                         + " is disabled"))
    with op.batch_alter_table("events") as batch:
        batch.drop_column("skip_category")
        batch.drop_column("skip_reason")
