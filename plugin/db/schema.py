"""The tables and the event statuses. Alembic migrations (plugin/migrations) create them."""


from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


class JSONDocument(sa.TypeDecorator):
    """JSON in a `json` column where the database has one (PostgreSQL); on SQLite, which has
    none, the same JSON as text. Callers store and read lists and dicts either way."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(postgresql.JSON() if dialect.name == "postgresql" else sa.Text())

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name == "postgresql":
            return value
        return json.dumps(value)

    def process_result_value(self, value, dialect):
        if value is None or dialect.name == "postgresql":
            return value
        return json.loads(value)


metadata = sa.MetaData()

# Event status: queued -> processing -> (retrying -> processing)* -> posted | failed | skipped
QUEUED, PROCESSING, RETRYING, POSTED, FAILED, SKIPPED = (
    "queued", "processing", "retrying", "posted", "failed", "skipped",
)
UNFINISHED = (QUEUED, PROCESSING, RETRYING)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("helpdesk", sa.String(32), nullable=False),
    sa.Column("account", sa.String(255), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", JSONDocument, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("next_attempt_at", sa.Float),
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("lease_until", sa.Float),
    sa.Column("note_marker", sa.String(64), nullable=False),
    sa.Column("post_started_at", sa.Float),
    sa.Column("note_posted_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("last_error", sa.Text),  # why the last attempt failed or is retrying (a helpdesk's words)
    # Why no note was posted (status skipped): a plugin.core.decision.SkipReason code, and the
    # category it concerned; the console renders the sentence from them (migration 0006).
    sa.Column("skip_reason", sa.String(32)),
    sa.Column("skip_category", sa.String(64)),
    sa.UniqueConstraint("helpdesk", "account", "ticket_id", "kind", name="uq_events_ticket_kind"),
    sa.Index("ix_events_status_next", "status", "next_attempt_at"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("helpdesk", sa.String(32), nullable=False),
    sa.Column("account", sa.String(255), nullable=False),
    sa.Column("delivery_key", sa.String(255), nullable=False),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.UniqueConstraint("helpdesk", "account", "delivery_key", name="uq_deliveries_key"),
)

suggestions = sa.Table(
    "suggestions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False, unique=True),
    sa.Column("helpdesk", sa.String(32), nullable=False),
    sa.Column("account", sa.String(255), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("runner_up", sa.String(64)),
    sa.Column("evidence", JSONDocument, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("letter", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("tags", JSONDocument, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("requester_key", sa.String(255)),
    sa.Column("audience", sa.String(16)),
    sa.Column("tone", sa.String(16)),
    sa.Column("compensation", sa.Text),
    sa.Column("to_fill", JSONDocument),
    sa.Column("lint", JSONDocument),
    sa.Column("text", sa.Text),
    sa.Index("ix_suggestions_requester", "helpdesk", "account", "requester_key", "created_at"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False, index=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(128), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("error", sa.Text),
)


feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("helpdesk", sa.String(32), nullable=False),
    sa.Column("account", sa.String(255), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # correction | thumbs_up | thumbs_down | insert
    sa.Column("from_category", sa.String(64)),
    sa.Column("to_category", sa.String(64)),
    sa.Column("text", sa.Text),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_feedback_account", "helpdesk", "account", "created_at"),
)

account_models = sa.Table(
    "account_models",
    metadata,
    sa.Column("helpdesk", sa.String(32), primary_key=True),
    sa.Column("account", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("corrections", sa.Integer, nullable=False),
    sa.Column("trained_at", sa.Float, nullable=False),
)


# --- admin console (migration 0004) ---------------------------------------------

# The admin's rules and templates for one account, as one YAML document (rules.py owns
# its format); `version` goes up on every save so workers know to reload.
rule_documents = sa.Table(
    "rule_documents",
    metadata,
    sa.Column("helpdesk", sa.String(32), primary_key=True),
    sa.Column("account", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("updated_by", sa.String(255), nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("helpdesk", sa.String(32), nullable=False),
    sa.Column("account", sa.String(255), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
    sa.Index("ix_audit_account_at", "helpdesk", "account", "at"),
)

# A helpdesk connection made in the console (OAuth tokens, webhook id and secret): one JSON
# object whose secret values are encrypted before they get here (see plugin/core/secretbox.py).
connections = sa.Table(
    "connections",
    metadata,
    sa.Column("helpdesk", sa.String(32), primary_key=True),
    sa.Column("account", sa.String(255), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("remote", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Index("ix_login_attempts_remote_at", "remote", "at"),
)


# --- outcomes: how much of our letter the agent's first public reply kept (issue 6) -------

# One row per ticket: only the first agent public reply after our note counts, so the unique
# key per ticket makes a redelivered or later comment a no-op. plugin/services/outcomes.py computes it.
outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("helpdesk", sa.String(32), nullable=False),
    sa.Column("account", sa.String(255), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False, index=True),
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


# --- trust (migration 0007) -------------------------------------------------------

# One row per worker process, rewritten every few seconds: /healthz tells a dead worker by it.
heartbeats = sa.Table(
    "heartbeats",
    metadata,
    sa.Column("worker", sa.String(128), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("beat_at", sa.Float, nullable=False),
)

# A signed-in admin: the cookie carries only the session's random id, whose hash is `id`, so
# signing out (revoked_at) ends it on the server, whatever copy of the cookie remains.
admin_sessions = sa.Table(
    "admin_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("remote", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_seen_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float),
    # The named admin who signed in (migration 0008); NULL: signed in with the shared bootstrap password.
    # No foreign key: removing an admin must not turn their sessions into bootstrap ones (SET NULL).
    sa.Column("admin_id", sa.Integer),
)

# Failed sign-ins per remote address in the current window, counted by one atomic upsert, so
# concurrent guesses cannot all read the same count.
login_counters = sa.Table(
    "login_counters",
    metadata,
    sa.Column("remote", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
)


# --- named admins (migration 0008) ----------------------------------------------------

# Who may sign in to the console, each with a scrypt hash of their password (plugin.core.passwords).
# Ids are never reused (AUTOINCREMENT on SQLite), so a session can never pass to a later admin.
admins = sa.Table(
    "admins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_sign_in_at", sa.Float),
    sqlite_autoincrement=True,
)
