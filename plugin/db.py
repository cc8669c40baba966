"""Tables, engine, migrations and every query. The only module with SQL.

An event's row is the source of truth for its progress; the queue only carries
wake-ups. So a worker killed at any moment loses nothing: unfinished rows are
found again (`recoverable`) and claimed under a lease (`claim`), and a claim is
fenced by its owner so a worker whose lease ran out cannot overwrite a newer one.
"""

from __future__ import annotations

import fcntl
import json
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from plugin.config import sqlite_path
from plugin.models import Suggestion, TicketEvent

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
    sa.Column("payload", sa.Text, nullable=False),
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
    sa.Column("last_error", sa.Text),
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
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("letter", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("requester_key", sa.String(255)),
    sa.Column("audience", sa.String(16)),
    sa.Column("tone", sa.String(16)),
    sa.Column("compensation", sa.Text),
    sa.Column("to_fill", sa.Text),
    sa.Column("lint", sa.Text),
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
# object whose secret values are encrypted before they get here (see plugin/secretbox.py).
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


# --- engine and migrations -------------------------------------------------

def sqlalchemy_url(url: str) -> str:
    """Our settings accept postgresql://; SQLAlchemy needs the psycopg 3 driver named."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str) -> Engine:
    url = sqlalchemy_url(url)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
        sa_event.listen(engine, "connect", _sqlite_pragmas)
        _WRITE_LOCKS[engine] = threading.Lock()
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


_WRITE_LOCKS: "weakref.WeakKeyDictionary[Engine, threading.Lock]" = weakref.WeakKeyDictionary()


@contextmanager
def _write(engine: Engine) -> Iterator[sa.Connection]:
    """A write transaction. On SQLite, threads of one process take turns first:
    SQLite's own busy handler sleeps 1, 2, 5, 10... ms between tries, which turns
    a few contended writes into 100 ms stalls; a Python lock hands over at once."""
    lock = _WRITE_LOCKS.get(engine)
    if lock is None:
        with engine.begin() as conn:
            yield conn
        return
    with lock, engine.begin() as conn:
        yield conn


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the web and the worker read while one writes; NORMAL sync keeps
    # every commit across a process kill (only an OS crash could lose the last ones).
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Several processes may start at once; only one migrates at a time."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(727274)"))
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(727274)"))
                conn.commit()
        return
    path = Path(engine.url.database or "amends.db").with_suffix(".migrate.lock")
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with _migration_lock(engine):
        command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


# --- receiving ---------------------------------------------------------------

@dataclass(frozen=True)
class Accepted:
    event_id: int
    duplicate: bool


def note_marker(event: TicketEvent) -> str:
    """Stable per (helpdesk, account, ticket, kind): the same event always has the same marker."""
    import hashlib

    key = f"{event.helpdesk}/{event.account}/{event.ticket_id}/{event.kind}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def accept_event(engine: Engine, event: TicketEvent, now: float | None = None) -> Accepted:
    """Store a new event and its delivery keys in one transaction, or report a repeat.

    Both unique constraints (per delivery, per ticket+kind) decide; whichever
    fires first makes this a duplicate and nothing is written.
    """
    now = now or time.time()
    try:
        with _write(engine) as conn:
            # Parameters apart from the statement: SQLAlchemy compiles it once and reuses it.
            event_id = conn.execute(events.insert(), dict(
                helpdesk=event.helpdesk,
                account=event.account,
                ticket_id=event.ticket_id,
                kind=event.kind,
                payload=json.dumps(event.to_dict()),
                status=QUEUED,
                attempts=0,
                received_at=now,
                updated_at=now,
                note_marker=note_marker(event),
            )).inserted_primary_key[0]
            if event.delivery_keys:
                conn.execute(
                    deliveries.insert(),
                    [
                        dict(helpdesk=event.helpdesk, account=event.account, delivery_key=key,
                             event_id=event_id, received_at=now)
                        for key in event.delivery_keys
                    ],
                )
        return Accepted(event_id, duplicate=False)
    except IntegrityError:
        return Accepted(_existing_event_id(engine, event) or 0, duplicate=True)


def _existing_event_id(engine: Engine, event: TicketEvent) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(events.c.id).where(
                events.c.helpdesk == event.helpdesk,
                events.c.account == event.account,
                events.c.ticket_id == event.ticket_id,
                events.c.kind == event.kind,
            )
        ).scalar()


# --- working -------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    event_id: int
    attempt: int
    owner: str
    event: TicketEvent
    note_marker: str
    post_started: bool
    note_posted: bool


def claim(engine: Engine, event_id: int, owner: str, lease_seconds: float, now: float | None = None) -> Claim | None:
    """Take the event for one attempt, or None if it is finished, leased, or not due."""
    now = now or time.time()
    due = sa.or_(
        sa.and_(events.c.status.in_((QUEUED, RETRYING)),
                sa.or_(events.c.next_attempt_at.is_(None), events.c.next_attempt_at <= now + 0.5)),
        sa.and_(events.c.status == PROCESSING, events.c.lease_until < now),
    )
    with _write(engine) as conn:
        result = conn.execute(
            events.update()
            .where(events.c.id == event_id, due)
            .values(status=PROCESSING, lease_owner=owner, lease_until=now + lease_seconds,
                    attempts=events.c.attempts + 1, updated_at=now)
        )
        if result.rowcount != 1:
            return None
        row = conn.execute(sa.select(events).where(events.c.id == event_id)).mappings().one()
    return Claim(
        event_id=event_id,
        attempt=row["attempts"],
        owner=owner,
        event=TicketEvent.from_dict(json.loads(row["payload"])),
        note_marker=row["note_marker"],
        post_started=row["post_started_at"] is not None,
        note_posted=row["note_posted_at"] is not None,
    )


def _fenced(c: Claim):
    return sa.and_(events.c.id == c.event_id, events.c.lease_owner == c.owner, events.c.status == PROCESSING)


def mark_post_started(engine: Engine, c: Claim, now: float | None = None) -> bool:
    """Written before the note is sent: a later attempt then checks the ticket first."""
    now = now or time.time()
    with _write(engine) as conn:
        result = conn.execute(events.update().where(_fenced(c)).values(post_started_at=now, updated_at=now))
    return result.rowcount == 1


def mark_note_posted(engine: Engine, c: Claim, now: float | None = None) -> None:
    now = now or time.time()
    with _write(engine) as conn:
        conn.execute(events.update().where(_fenced(c)).values(note_posted_at=now, updated_at=now))


def finish(engine: Engine, c: Claim, status: str, error: str | None = None, now: float | None = None) -> bool:
    now = now or time.time()
    with _write(engine) as conn:
        result = conn.execute(
            events.update().where(_fenced(c)).values(
                status=status, last_error=error, finished_at=now, updated_at=now,
                lease_owner=None, lease_until=None, next_attempt_at=None,
            )
        )
    return result.rowcount == 1


def schedule_retry(engine: Engine, c: Claim, delay: float, error: str, now: float | None = None) -> bool:
    now = now or time.time()
    with _write(engine) as conn:
        result = conn.execute(
            events.update().where(_fenced(c)).values(
                status=RETRYING, last_error=error, next_attempt_at=now + delay, updated_at=now,
                lease_owner=None, lease_until=None,
            )
        )
    return result.rowcount == 1


def record_attempt(engine: Engine, c: Claim, started_at: float, outcome: str,
                   http_status: int | None = None, error: str | None = None) -> None:
    with _write(engine) as conn:
        conn.execute(attempts.insert().values(
            event_id=c.event_id, number=c.attempt, worker=c.owner, started_at=started_at,
            finished_at=time.time(), outcome=outcome, http_status=http_status, error=error,
        ))


def save_suggestion(engine: Engine, c: Claim, s: Suggestion, requester_key: str = "", text: str = "",
                    now: float | None = None) -> None:
    """One row per event; a later attempt replaces what an earlier one composed."""
    now = now or time.time()
    values = dict(
        requester_key=requester_key or None, audience=s.audience, tone=s.tone, compensation=s.compensation,
        to_fill=json.dumps(list(s.to_fill)), lint=json.dumps([f.to_dict() for f in s.lint]), text=text or None,
        helpdesk=c.event.helpdesk, account=c.event.account, ticket_id=c.event.ticket_id,
        category=s.classification.category, confidence=s.classification.confidence,
        runner_up=s.classification.runner_up, evidence=json.dumps(list(s.classification.evidence)),
        subject=s.subject, letter=s.letter, note=s.note, tags=json.dumps(list(s.tags)), created_at=now,
    )
    with _write(engine) as conn:
        updated = conn.execute(suggestions.update().where(suggestions.c.event_id == c.event_id).values(**values))
        if updated.rowcount == 0:
            conn.execute(suggestions.insert().values(event_id=c.event_id, **values))


def previous_suggestion(engine: Engine, helpdesk: str, account: str, requester_key: str, since: float,
                        exclude_event_id: int | None = None):
    """The newest suggestion this requester got since `since`, for the repeat-apology memory."""
    from datetime import datetime, timezone

    from plugin.compose import Previous

    query = (
        sa.select(suggestions.c.ticket_id, suggestions.c.created_at, suggestions.c.category)
        .where(suggestions.c.helpdesk == helpdesk, suggestions.c.account == account,
               suggestions.c.requester_key == requester_key, suggestions.c.created_at >= since)
        .order_by(suggestions.c.created_at.desc()).limit(1)
    )
    if exclude_event_id is not None:
        query = query.where(suggestions.c.event_id != exclude_event_id)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return Previous(row.ticket_id, datetime.fromtimestamp(row.created_at, tz=timezone.utc), row.category)


def recoverable(engine: Engine, now: float | None = None, overdue_by: float | None = None) -> list[tuple[int, float]]:
    """Unfinished events and when each may next be tried: (event id, not-before time).

    At start-up (`overdue_by=None`) that is every unfinished event. The periodic
    sweep passes `overdue_by` to pick only events whose wake-up is that late,
    i.e. lost: a queued event nobody claimed, a retry whose time has long
    passed, a lease that ran out.
    """
    now = now or time.time()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(events.c.id, events.c.status, events.c.updated_at, events.c.next_attempt_at,
                      events.c.lease_until)
            .where(events.c.status.in_(UNFINISHED))
            .order_by(events.c.id)
        ).all()
    due: list[tuple[int, float]] = []
    for event_id, status, updated_at, next_attempt_at, lease_until in rows:
        if status == PROCESSING:
            not_before = lease_until or now
        elif status == RETRYING:
            not_before = next_attempt_at or now
        else:
            not_before = updated_at
        if overdue_by is None:
            due.append((event_id, max(not_before, now)))
        elif not_before <= now - overdue_by:
            due.append((event_id, now))
    return due


# --- feedback and per-account models ----------------------------------------------

def add_feedback(engine: Engine, helpdesk: str, account: str, ticket_id: str, kind: str, *,
                 from_category: str | None = None, to_category: str | None = None, text: str | None = None,
                 source: str = "api", now: float | None = None) -> int:
    with _write(engine) as conn:
        return conn.execute(feedback.insert(), dict(
            helpdesk=helpdesk, account=account, ticket_id=ticket_id, kind=kind, from_category=from_category,
            to_category=to_category, text=text, source=source, created_at=now or time.time(),
        )).inserted_primary_key[0]


def corrections(engine: Engine, helpdesk: str, account: str) -> list[tuple[str, str]]:
    """(text, category) an account's agents chose, newest last; one per ticket (the latest)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(feedback.c.ticket_id, feedback.c.text, feedback.c.to_category)
            .where(feedback.c.helpdesk == helpdesk, feedback.c.account == account,
                   feedback.c.kind == "correction", feedback.c.text.is_not(None))
            .order_by(feedback.c.id)
        ).all()
    latest = {ticket: (text, category) for ticket, text, category in rows}
    return list(latest.values())


def account_model(engine: Engine, helpdesk: str, account: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(account_models).where(
            account_models.c.helpdesk == helpdesk, account_models.c.account == account)).mappings().first()
    return dict(row) if row else None


def record_account_model(engine: Engine, helpdesk: str, account: str, fingerprint: str, count: int) -> None:
    with _write(engine) as conn:
        updated = conn.execute(account_models.update().where(
            account_models.c.helpdesk == helpdesk, account_models.c.account == account
        ).values(fingerprint=fingerprint, corrections=count, trained_at=time.time()))
        if updated.rowcount == 0:
            conn.execute(account_models.insert().values(helpdesk=helpdesk, account=account, fingerprint=fingerprint,
                                                        corrections=count, trained_at=time.time()))


def ticket_text(engine: Engine, helpdesk: str, account: str, ticket_id: str) -> str | None:
    """The text we classified for a ticket (its suggestion, else its event), to learn from a correction."""
    with engine.connect() as conn:
        stored = conn.execute(sa.select(suggestions.c.text).where(
            suggestions.c.helpdesk == helpdesk, suggestions.c.account == account,
            suggestions.c.ticket_id == ticket_id).order_by(suggestions.c.id.desc()).limit(1)).scalar()
        if stored:
            return stored
        payload = conn.execute(sa.select(events.c.payload).where(
            events.c.helpdesk == helpdesk, events.c.account == account, events.c.ticket_id == ticket_id,
        ).order_by(events.c.id.desc()).limit(1)).scalar()
    if not payload:
        return None
    data = json.loads(payload)
    return f"{data.get('subject', '')}\n{data.get('description', '')}".strip() or None


# --- reading (admin log, tests, CLI) ------------------------------------------

def get_event(engine: Engine, event_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(events).where(events.c.id == event_id)).mappings().first()
    return dict(row) if row else None


def list_events(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events).order_by(events.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def get_suggestion(engine: Engine, event_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(suggestions).where(suggestions.c.event_id == event_id)).mappings().first()
    return dict(row) if row else None


def list_attempts(engine: Engine, event_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(attempts).where(attempts.c.event_id == event_id).order_by(attempts.c.id)
        ).mappings().all()
    return [dict(r) for r in rows]


# --- admin: login attempts ------------------------------------------------------

def record_login(engine: Engine, remote: str, ok: bool, now: float | None = None) -> None:
    with _write(engine) as conn:
        conn.execute(login_attempts.insert().values(remote=remote[:64], at=now or time.time(), ok=ok))


def failed_logins(engine: Engine, remote: str, since: float) -> int:
    """Failures from this address since `since`, not counting those before its last success."""
    with engine.connect() as conn:
        last_ok = conn.execute(sa.select(sa.func.max(login_attempts.c.at)).where(
            login_attempts.c.remote == remote[:64], login_attempts.c.ok.is_(True))).scalar() or 0.0
        return conn.execute(sa.select(sa.func.count()).select_from(login_attempts).where(
            login_attempts.c.remote == remote[:64], login_attempts.c.ok.is_(False),
            login_attempts.c.at >= max(since, last_ok))).scalar() or 0


# --- admin: audit log -----------------------------------------------------------

def add_audit(engine: Engine, helpdesk: str, account: str, actor: str, action: str, target: str,
              before: str | None = None, after: str | None = None, now: float | None = None,
              conn: sa.Connection | None = None) -> None:
    """One change an admin made. Pass `conn` to record it in the same transaction as the change."""
    values = dict(helpdesk=helpdesk, account=account, at=now or time.time(), actor=actor, action=action,
                  target=target, before=before, after=after)
    if conn is not None:
        conn.execute(audit_log.insert().values(**values))
        return
    with _write(engine) as own:
        own.execute(audit_log.insert().values(**values))


def list_audit(engine: Engine, helpdesk: str, account: str, limit: int = 200) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).where(
            audit_log.c.helpdesk == helpdesk, audit_log.c.account == account,
        ).order_by(audit_log.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


# --- admin: rule documents (issue 5, rules and templates) --------------------------

def rule_document(engine: Engine, helpdesk: str, account: str) -> dict[str, Any] | None:
    """The account's console rules document: version, document, updated_at, updated_by."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(rule_documents).where(
            rule_documents.c.helpdesk == helpdesk, rule_documents.c.account == account)).mappings().first()
    return dict(row) if row else None


def rule_document_version(engine: Engine, helpdesk: str, account: str) -> int:
    """0 when the account has no document: the one cheap query a worker makes per event."""
    with engine.connect() as conn:
        return conn.execute(sa.select(rule_documents.c.version).where(
            rule_documents.c.helpdesk == helpdesk, rule_documents.c.account == account)).scalar() or 0


def save_rule_document(engine: Engine, helpdesk: str, account: str, document: str, *, expect_version: int,
                       actor: str, action: str, target: str, before: str | None, after: str | None,
                       now: float | None = None) -> int | None:
    """Store the document if the stored version is still `expect_version` (0: none yet), with
    its audit entry in the same transaction. The new version, or None when someone saved first."""
    now = now or time.time()
    where = (rule_documents.c.helpdesk == helpdesk, rule_documents.c.account == account)
    try:
        with _write(engine) as conn:
            if expect_version == 0:
                conn.execute(rule_documents.insert().values(helpdesk=helpdesk, account=account, version=1,
                                                            document=document, updated_at=now,
                                                            updated_by=actor[:255]))
            elif not conn.execute(rule_documents.update().where(*where, rule_documents.c.version == expect_version)
                                  .values(version=expect_version + 1, document=document, updated_at=now,
                                          updated_by=actor[:255])).rowcount:
                return None
            add_audit(engine, helpdesk, account, actor[:255], action, target[:255], before, after, now=now,
                      conn=conn)
    except IntegrityError:
        return None  # another save created the row first
    return expect_version + 1



# --- admin: helpdesk connections (issue 5, connect Zendesk) ------------------------

def connected_accounts(engine: Engine, helpdesk: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(connections.c.account).where(
            connections.c.helpdesk == helpdesk).order_by(connections.c.updated_at.desc())).scalars())


def _connection_text(data: dict[str, Any]) -> str:
    # Deterministic, so a loaded dict dumps back to the stored text (compare-and-swap below).
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def get_connection(engine: Engine, helpdesk: str, account: str) -> dict[str, Any] | None:
    """The connection's data as stored (secret values still encrypted), or None."""
    with engine.connect() as conn:
        text = conn.execute(sa.select(connections.c.data).where(
            connections.c.helpdesk == helpdesk, connections.c.account == account)).scalar()
    return json.loads(text) if text else None


_ANY = object()


def save_connection(engine: Engine, helpdesk: str, account: str, data: dict[str, Any], *, expect: Any = _ANY,
                    audit: tuple[str, str, str, str | None, str | None] | None = None,
                    now: float | None = None) -> bool:
    """Store `data`; with `expect`, only if the row still holds exactly `expect` (None: no row yet).

    Returns False when that compare-and-swap lost, so several workers refreshing one token
    can tell who won. `audit` = (actor, action, target, before, after), written in the
    same transaction; it must never carry secret values.
    """
    text, now = _connection_text(data), now or time.time()
    where = (connections.c.helpdesk == helpdesk, connections.c.account == account)
    try:
        with _write(engine) as conn:
            if expect is None:
                conn.execute(connections.insert().values(helpdesk=helpdesk, account=account, data=text,
                                                         updated_at=now))
            else:
                cond = where if expect is _ANY else (*where, connections.c.data == _connection_text(expect))
                changed = conn.execute(connections.update().where(*cond).values(data=text, updated_at=now)).rowcount
                if not changed and expect is not _ANY:
                    return False
                if not changed:
                    conn.execute(connections.insert().values(helpdesk=helpdesk, account=account, data=text,
                                                             updated_at=now))
            if audit is not None:
                add_audit(engine, helpdesk, account, *audit, now=now, conn=conn)
    except IntegrityError:
        return False  # someone inserted the row first
    return True



# --- admin: suggestion log and stats (issue 5, watching the work) ------------------

def _account_events(helpdesk: str, account: str):
    return sa.and_(events.c.helpdesk == helpdesk, events.c.account == account)


# The status the log shows: a queued event with attempts behind it was put back by a retry.
_shown_status = sa.case(
    (sa.and_(events.c.status == QUEUED,
             sa.exists().where(attempts.c.event_id == events.c.id)), sa.literal_column(f"'{RETRYING}'")),
    else_=events.c.status,
)


def _log_query(helpdesk: str, account: str, status: str | None, category: str | None, *columns):
    query = (sa.select(*columns)
             .select_from(events.outerjoin(suggestions, suggestions.c.event_id == events.c.id))
             .where(_account_events(helpdesk, account)))
    if status:
        query = query.where(_shown_status == status)
    if category:
        query = query.where(suggestions.c.category == category)
    return query


def suggestion_log(engine: Engine, helpdesk: str, account: str, *, status: str | None = None,
                   category: str | None = None, before: int | None = None, after: int | None = None,
                   limit: int = 50) -> list[dict[str, Any]]:
    """One page of processed tickets, newest first, keyset-paged on the event id.

    `before`: rows older than that id (the next page); `after`: rows newer (the previous
    page). Each row is the event with its suggestion's category and confidence (None when
    nothing was composed, e.g. skipped), `tries` (attempts recorded over its life) and
    `shown`, the status as the log shows it (`status` filters on that too).
    """
    tries = (sa.select(sa.func.count()).select_from(attempts)
             .where(attempts.c.event_id == events.c.id).scalar_subquery())
    query = _log_query(helpdesk, account, status, category,
                       events.c.id, events.c.ticket_id, events.c.account, events.c.status, events.c.attempts,
                       events.c.received_at, events.c.next_attempt_at, events.c.last_error,
                       events.c.note_posted_at, suggestions.c.category, suggestions.c.confidence,
                       tries.label("tries"), _shown_status.label("shown"))
    if after is not None:
        query = query.where(events.c.id > after).order_by(events.c.id.asc())
    else:
        if before is not None:
            query = query.where(events.c.id < before)
        query = query.order_by(events.c.id.desc())
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query.limit(limit)).mappings()]
    return rows[::-1] if after is not None else rows


def suggestion_has_rows(engine: Engine, helpdesk: str, account: str, *, status: str | None = None,
                        category: str | None = None, before: int | None = None,
                        after: int | None = None) -> bool:
    """Whether any row lies beyond a page edge (for the log's Older/Newer links)."""
    query = _log_query(helpdesk, account, status, category, events.c.id)
    if before is not None:
        query = query.where(events.c.id < before)
    if after is not None:
        query = query.where(events.c.id > after)
    with engine.connect() as conn:
        return conn.execute(query.limit(1)).first() is not None


def suggestion_status_counts(engine: Engine, helpdesk: str, account: str,
                             category: str | None = None) -> dict[str, int]:
    """Rows per shown status (see _shown_status), for the log's status tabs."""
    shown = _shown_status.label("shown")
    query = _log_query(helpdesk, account, None, category, shown, sa.func.count()).group_by(shown)
    with engine.connect() as conn:
        return {status: count for status, count in conn.execute(query)}


def suggestion_categories(engine: Engine, helpdesk: str, account: str) -> list[str]:
    """Categories that occur in this account's suggestions (admins may add their own)."""
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(suggestions.c.category).distinct().where(
            suggestions.c.helpdesk == helpdesk, suggestions.c.account == account)).scalars())


def retry_failed_event(engine: Engine, helpdesk: str, account: str, event_id: int, actor: str,
                       now: float | None = None) -> bool:
    """Put a failed event back in the queue with a fresh attempt budget; False if it was not failed.

    One guarded UPDATE, so two admins pressing retry (or a retry racing a worker) change
    it once. `post_started_at`, `note_posted_at` and `note_marker` stay: the pipeline then
    looks for our marker on the ticket before posting, so a note that did reach the
    helpdesk is not posted twice. The audit entry is written in the same transaction.
    """
    now = now or time.time()
    with _write(engine) as conn:
        reason = conn.execute(sa.select(events.c.last_error).where(
            events.c.id == event_id, _account_events(helpdesk, account), events.c.status == FAILED)).scalar()
        changed = conn.execute(
            events.update()
            .where(events.c.id == event_id, _account_events(helpdesk, account), events.c.status == FAILED)
            .values(status=QUEUED, lease_owner=None, lease_until=None, last_error=None, attempts=0,
                    next_attempt_at=now, finished_at=None, updated_at=now)
        ).rowcount
        if changed != 1:
            return False
        add_audit(engine, helpdesk, account, actor, "retry", f"event {event_id}",
                  before=f"failed: {reason or 'no reason recorded'}", after="queued", now=now, conn=conn)
    return True


def period_figures(engine: Engine, helpdesk: str, account: str, start: float, end: float) -> dict[str, Any]:
    """Raw figures for events received in [start, end): counts by status, skip reasons,
    suggestions per category (by best guess), general letters posted, and each posted note's
    seconds from webhook to note."""
    window = sa.and_(_account_events(helpdesk, account), events.c.received_at >= start, events.c.received_at < end)
    with engine.connect() as conn:
        by_status = {s: n for s, n in conn.execute(
            sa.select(events.c.status, sa.func.count()).where(window).group_by(events.c.status))}
        skipped = [(r or "", n) for r, n in conn.execute(
            sa.select(events.c.last_error, sa.func.count()).where(window, events.c.status == SKIPPED)
            .group_by(events.c.last_error))]
        posted_by_category = sa.func.sum(sa.case((events.c.status == POSTED, 1), else_=0))
        categories = [(c, n, int(p or 0)) for c, n, p in conn.execute(
            sa.select(suggestions.c.category, sa.func.count(), posted_by_category)
            .select_from(events.join(suggestions, suggestions.c.event_id == events.c.id))
            .where(window).group_by(suggestions.c.category)
            .order_by(sa.func.count().desc(), suggestions.c.category))]
        durations = sorted(conn.execute(
            sa.select(events.c.note_posted_at - events.c.received_at)
            .where(window, events.c.note_posted_at.is_not(None))).scalars())
        # General letters (category unclear) carry the amends_general tag; the row's category is the best guess.
        general = conn.execute(
            sa.select(sa.func.count()).select_from(events.join(suggestions, suggestions.c.event_id == events.c.id))
            .where(window, events.c.status == POSTED, suggestions.c.tags.like('%"amends_general"%'))).scalar() or 0
    return {"by_status": by_status, "skipped": skipped, "categories": categories, "durations": durations,
            "general": int(general)}


# --- sidebar: the agents' panel in Zendesk (issue 6) ------------------------------

def ticket_suggestion(engine: Engine, helpdesk: str, account: str, ticket_id: str) -> dict[str, Any] | None:
    """The latest suggestion stored for one ticket of one account (what the sidebar shows first)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(suggestions).where(
            suggestions.c.helpdesk == helpdesk, suggestions.c.account == account,
            suggestions.c.ticket_id == ticket_id).order_by(suggestions.c.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


# --- outcomes: how much of our letter the agent's first public reply kept (issue 6) -------

# One row per ticket: only the first agent public reply after our note counts, so the unique
# key per ticket makes a redelivered or later comment a no-op. plugin/outcomes.py computes it.
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


def posted_suggestion(engine: Engine, helpdesk: str, account: str, ticket_id: str) -> dict[str, Any] | None:
    """The ticket's suggestion whose note reached the helpdesk (what the agent could use), or None."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(suggestions.c.event_id, suggestions.c.category, suggestions.c.letter,
                      events.c.note_marker, events.c.note_posted_at)
            .select_from(suggestions.join(events, events.c.id == suggestions.c.event_id))
            .where(suggestions.c.helpdesk == helpdesk, suggestions.c.account == account,
                   suggestions.c.ticket_id == ticket_id, events.c.note_posted_at.is_not(None))
            .order_by(suggestions.c.id.desc()).limit(1)
        ).mappings().first()
    return dict(row) if row else None


def sidebar_inserted(engine: Engine, helpdesk: str, account: str, ticket_id: str) -> bool:
    """Whether an agent pressed "Insert into reply" in the sidebar on this ticket."""
    with engine.connect() as conn:
        return conn.execute(sa.select(feedback.c.id).where(
            feedback.c.helpdesk == helpdesk, feedback.c.account == account, feedback.c.ticket_id == ticket_id,
            feedback.c.kind == "insert").limit(1)).first() is not None


def record_outcome(engine: Engine, values: dict[str, Any]) -> str | None:
    """Store the ticket's outcome. None when stored; else the comment id of the outcome the
    ticket already had (the same comment redelivered, or an earlier reply)."""
    try:
        with _write(engine) as conn:
            conn.execute(outcomes.insert(), values)
        return None
    except IntegrityError:
        existing = get_outcome(engine, values["helpdesk"], values["account"], values["ticket_id"])
        return existing["comment_id"] if existing else ""


def get_outcome(engine: Engine, helpdesk: str, account: str, ticket_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(outcomes).where(
            outcomes.c.helpdesk == helpdesk, outcomes.c.account == account,
            outcomes.c.ticket_id == ticket_id)).mappings().first()
    return dict(row) if row else None


def outcome_figures(engine: Engine, helpdesk: str, account: str, start: float, end: float) -> dict[str, dict]:
    """Per category, for tickets whose webhook arrived in [start, end): notes posted, agent replies
    measured (accepted, edited, sum of kept ratios) and the sidebar feedback on those tickets."""
    window = sa.and_(_account_events(helpdesk, account), events.c.received_at >= start, events.c.received_at < end)
    figures: dict[str, dict] = {}

    def row(category: str) -> dict:
        return figures.setdefault(category, {
            "posted": 0, "replies": 0, "accepted": 0, "edited": 0, "ratio_sum": 0.0,
            "insert": 0, "correction": 0, "thumbs_up": 0, "thumbs_down": 0})

    def count_true(column):
        return sa.func.sum(sa.case((column.is_(True), 1), else_=0))

    posted = events.join(suggestions, suggestions.c.event_id == events.c.id)
    with engine.connect() as conn:
        for category, n in conn.execute(
                sa.select(suggestions.c.category, sa.func.count()).select_from(posted)
                .where(window, events.c.note_posted_at.is_not(None)).group_by(suggestions.c.category)):
            row(category)["posted"] = n
        for category, n, accepted, edited, ratio_sum in conn.execute(
                sa.select(outcomes.c.category, sa.func.count(), count_true(outcomes.c.accepted),
                          count_true(outcomes.c.edited), sa.func.sum(outcomes.c.ratio))
                .select_from(outcomes.join(events, events.c.id == outcomes.c.event_id))
                .where(window).group_by(outcomes.c.category)):
            row(category).update(replies=n, accepted=int(accepted or 0), edited=int(edited or 0),
                                 ratio_sum=float(ratio_sum or 0.0))
        on_ticket = sa.and_(feedback.c.helpdesk == suggestions.c.helpdesk, feedback.c.account == suggestions.c.account,
                            feedback.c.ticket_id == suggestions.c.ticket_id)
        for category, kind, n in conn.execute(
                sa.select(suggestions.c.category, feedback.c.kind, sa.func.count())
                .select_from(posted.join(feedback, on_ticket))
                .where(window, feedback.c.kind.in_(("insert", "correction", "thumbs_up", "thumbs_down")))
                .group_by(suggestions.c.category, feedback.c.kind)):
            row(category)[kind] = n
    return figures
