"""Named console admins (issue 14): who may sign in, with a password hash each; which sessions
still count. Names are unique ignoring case ("Ada" and "ada" would be one person in the audit log)
and matched ignoring case at sign-in."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from plugin.db.console import add_audit
from plugin.db.engine import writing
from plugin.db.schema import admin_sessions, admins

# (helpdesk, account, actor) of the audit entry written with each change, in the same transaction.
Audit = tuple[str, str, str]


def _same_name(name: str):
    return sa.func.lower(admins.c.name) == name.lower()


def add_admin(engine: Engine, name: str, password_hash: str, now: float, audit: Audit) -> bool:
    """Add an admin; False when the name is taken. The sessions opened with the shared bootstrap
    password end here: from now on only named admins sign in."""
    try:
        with writing(engine) as conn:
            if conn.execute(sa.select(admins.c.id).where(_same_name(name))).first():
                return False
            conn.execute(admins.insert().values(name=name, password_hash=password_hash, created_at=now))
            conn.execute(admin_sessions.update().where(
                admin_sessions.c.admin_id.is_(None), admin_sessions.c.revoked_at.is_(None)).values(revoked_at=now))
            add_audit(engine, *audit, "admin.add", name, now=now, conn=conn)
    except IntegrityError:
        return False  # added by someone else meanwhile
    return True


def remove_admin(engine: Engine, name: str, now: float, audit: Audit) -> tuple[str, int] | None:
    """Remove an admin and end their open sessions at once: (their name as added, how many sessions
    ended), or None when there is no such admin."""
    with writing(engine) as conn:
        found = conn.execute(sa.select(admins.c.id, admins.c.name).where(_same_name(name))).first()
        if found is None:
            return None
        admin_id, name = found
        conn.execute(admins.delete().where(admins.c.id == admin_id))
        ended = conn.execute(admin_sessions.update().where(
            admin_sessions.c.admin_id == admin_id, admin_sessions.c.revoked_at.is_(None)).values(revoked_at=now))
        add_audit(engine, *audit, "admin.remove", name, now=now, conn=conn)
        return name, ended.rowcount


def list_admins(engine: Engine) -> list[dict[str, Any]]:
    """Every admin's name, created_at and last_sign_in_at (None: never), by name; never the hash."""
    columns = (admins.c.name, admins.c.created_at, admins.c.last_sign_in_at)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(*columns).order_by(admins.c.name)).mappings()]


def find_admin(engine: Engine, name: str) -> dict[str, Any] | None:
    """The admin called `name` (ignoring case) with their password hash, for a sign-in."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(admins).where(_same_name(name))).mappings().first()
    return dict(row) if row else None


def admins_exist(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(admins.c.id).limit(1)).first() is not None


def mark_admin_signed_in(engine: Engine, admin_id: int, now: float) -> None:
    with writing(engine) as conn:
        conn.execute(admins.update().where(admins.c.id == admin_id).values(last_sign_in_at=now))


def session_holder_allowed(engine: Engine, admin_id: int | None) -> bool:
    """Whether a session's holder may still use the console: a named admin who still exists, or,
    for a session opened with the shared password, only while no named admin exists. (Adding and
    removing revoke such sessions too; this also closes a sign-in that raced with them.)"""
    if admin_id is None:
        return not admins_exist(engine)
    with engine.connect() as conn:
        return conn.execute(sa.select(admins.c.id).where(admins.c.id == admin_id)).first() is not None
