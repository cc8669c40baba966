"""What the admin console stores: sign-in attempts and sessions, the audit log, the rules document and
helpdesk connections."""


from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from plugin.db.engine import writing
from plugin.db.schema import admin_sessions, audit_log, connections, login_attempts, login_counters, rule_documents

# --- admin: sign-in limit and sessions (issue 12) ---------------------------------

def record_login(engine: Engine, remote: str, ok: bool, now: float | None = None) -> None:
    """A log of password checks (who tried from where, when); the limit itself is login_counters."""
    with writing(engine) as conn:
        conn.execute(login_attempts.insert().values(remote=remote[:64], at=now or time.time(), ok=ok))


def _upsert(engine: Engine):
    """INSERT ... ON CONFLICT, which both our databases have (SQLite's RETURNING needs 3.35+)."""
    return postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert


def reserve_login_attempt(engine: Engine, remote: str, now: float, window: float) -> int:
    """Count one more attempt from `remote` in its window (a new window once the last one has
    passed) and return the count, in one atomic statement: concurrent guesses each get their
    own number, so no more than the limit of them can go on to check the password."""
    expired = login_counters.c.window_start <= now - window
    statement = _upsert(engine)(login_counters).values(remote=remote[:64], window_start=now, failures=1)
    statement = statement.on_conflict_do_update(index_elements=[login_counters.c.remote], set_={
        "failures": sa.case((expired, 1), else_=login_counters.c.failures + 1),
        "window_start": sa.case((expired, now), else_=login_counters.c.window_start),
    }).returning(login_counters.c.failures)
    with writing(engine) as conn:
        return conn.execute(statement).scalar_one()


def clear_login_attempts(engine: Engine, remote: str, now: float, window: float) -> None:
    """After a right password: this address starts afresh (and long-passed windows go)."""
    with writing(engine) as conn:
        conn.execute(login_counters.delete().where(sa.or_(
            login_counters.c.remote == remote[:64], login_counters.c.window_start <= now - window)))


SESSION_KEEP_SECONDS = 30 * 24 * 3600  # ended sessions are deleted this long after they expired
SESSION_TOUCH_SECONDS = 60  # last_seen_at is refreshed at most this often: one write a minute, not per page


def _session_id(token: str) -> str:
    # Only the hash is stored: a copy of the table opens no session.
    return hashlib.sha256(token.encode()).hexdigest()


def open_admin_session(engine: Engine, name: str, remote: str, now: float, lifetime: float,
                       admin_id: int | None = None) -> str:
    """A new signed-in session; returns its random token, the only thing the cookie carries.
    `admin_id`: the named admin signing in; None for the shared bootstrap password."""
    token = secrets.token_urlsafe(32)
    with writing(engine) as conn:
        # Sessions that ended long ago are of no use any more: drop them as new ones open.
        conn.execute(admin_sessions.delete().where(admin_sessions.c.expires_at < now - SESSION_KEEP_SECONDS))
        conn.execute(admin_sessions.insert().values(id=_session_id(token), name=name[:255], remote=remote[:64],
                                                    created_at=now, last_seen_at=now, expires_at=now + lifetime,
                                                    admin_id=admin_id))
    return token


def admin_session(engine: Engine, token: str, now: float) -> dict[str, Any] | None:
    """The session behind `token` while it is open (not signed out, not expired), else None."""
    where = (admin_sessions.c.id == _session_id(token), admin_sessions.c.revoked_at.is_(None),
             admin_sessions.c.expires_at > now)
    with engine.connect() as conn:
        row = conn.execute(sa.select(admin_sessions).where(*where)).mappings().first()
    if row is None:
        return None
    if now - row["last_seen_at"] >= SESSION_TOUCH_SECONDS:
        with writing(engine) as conn:
            conn.execute(admin_sessions.update().where(*where).values(last_seen_at=now))
    return dict(row)


def revoke_admin_session(engine: Engine, token: str, now: float) -> bool:
    """Sign out: the session ends on the server, so any copy of its cookie opens nothing."""
    with writing(engine) as conn:
        return bool(conn.execute(admin_sessions.update().where(
            admin_sessions.c.id == _session_id(token), admin_sessions.c.revoked_at.is_(None),
        ).values(revoked_at=now)).rowcount)


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
    with writing(engine) as own:
        own.execute(audit_log.insert().values(**values))


def list_audit(engine: Engine, helpdesk: str, account: str, limit: int = 200) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).where(
            audit_log.c.helpdesk == helpdesk, audit_log.c.account == account,
        ).order_by(audit_log.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


# --- admin: rule documents (issue 5, rules and templates) --------------------------

def rule_document(engine: Engine, helpdesk: str, account: str,
                  conn: sa.Connection | None = None) -> dict[str, Any] | None:
    """The account's console rules document: version, document, updated_at, updated_by. Pass
    `conn` to read it inside a transaction of yours."""
    query = sa.select(rule_documents).where(rule_documents.c.helpdesk == helpdesk,
                                            rule_documents.c.account == account)
    if conn is None:
        with engine.connect() as conn:
            row = conn.execute(query).mappings().first()
    else:
        row = conn.execute(query).mappings().first()
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
        with writing(engine) as conn:
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
        with writing(engine) as conn:
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
