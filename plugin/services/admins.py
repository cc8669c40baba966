"""Named console admins: adding, removing and listing them (the `amends admin` commands) and
checking a sign-in (the console's login form). Passwords are hashed with scrypt
(plugin.core.passwords); the audit log records each change, on the account the console uses."""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy.engine import Engine

from plugin import db
from plugin.config import Settings
from plugin.core.passwords import dummy_verify, hash_password, password_problem, verify_password
from plugin.services.accounts import console_account

# Letters, digits and . _ @ -, starting with a letter or digit: no spaces or look-alikes to
# confuse who is who in the audit log.
ADMIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class AdminRefused(ValueError):
    """A change that cannot be made; the message says why, for the person at the command line."""


def name_problem(name: str) -> str | None:
    if not ADMIN_NAME.fullmatch(name):
        return "a name is 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
    return None


def add(engine: Engine, settings: Settings, name: str, password: str, actor: str = "cli") -> None:
    problem = name_problem(name) or password_problem(password)
    if problem:
        raise AdminRefused(problem)
    audit = (*console_account(settings, engine), actor)
    if not db.add_admin(engine, name, hash_password(password), time.time(), audit):
        raise AdminRefused(f"an admin called {name!r} exists already (names are compared ignoring case)")


def remove(engine: Engine, settings: Settings, name: str, actor: str = "cli") -> tuple[str, int]:
    """Remove the admin (name compared ignoring case); returns their name as added and how many
    of their open sessions ended."""
    removed = db.remove_admin(engine, name, time.time(), (*console_account(settings, engine), actor))
    if removed is None:
        raise AdminRefused(f"no admin called {name!r}")
    return removed


def listing(engine: Engine) -> list[dict[str, Any]]:
    return db.list_admins(engine)


def signing_in(engine: Engine, name: str, password: str) -> dict[str, Any] | None:
    """The admin (id, name) whose name and password these are, else None. An unknown name costs
    the same scrypt work as a wrong password, so the time taken does not tell which names exist."""
    name = name.strip()
    admin = db.find_admin(engine, name) if ADMIN_NAME.fullmatch(name) else None
    if admin is None:
        dummy_verify(password)
        return None
    if not verify_password(password, admin["password_hash"]):
        return None
    return {"id": admin["id"], "name": admin["name"]}
