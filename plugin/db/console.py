"""What the admin console stores: login attempts, the audit log, the rules document and
helpdesk connections."""


from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from plugin.db.engine import writing
from plugin.db.schema import audit_log, connections, login_attempts, rule_documents

# --- admin: login attempts ------------------------------------------------------

def record_login(engine: Engine, remote: str, ok: bool, now: float | None = None) -> None:
    with writing(engine) as conn:
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
    with writing(engine) as own:
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
