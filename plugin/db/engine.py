"""The engine (SQLite by default, PostgreSQL when configured), one writer at a time per SQLite
engine, and migrations run under a lock so machines starting together do not race."""


from __future__ import annotations

import fcntl
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from plugin.config import sqlite_path
from plugin.errors import SchemaNotCurrent

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
    # Idle connections kept: at least one per thread that may hold one (8 web threads, worker threads and
    # their lease keepers), else each burst closes and reopens connections (bench/scale.py counts them).
    return sa.create_engine(url, pool_pre_ping=True, pool_size=16, max_overflow=16)


_WRITE_LOCKS: "weakref.WeakKeyDictionary[Engine, threading.Lock]" = weakref.WeakKeyDictionary()


@contextmanager
def writing(engine: Engine) -> Iterator[sa.Connection]:
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
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parents[1] / "migrations"))
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


def head_revision(engine: Engine) -> str:
    """The newest revision this code's migrations know."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def prepare(engine: Engine, migrate: bool) -> None:
    """Start-up: migrate (AMENDS_MIGRATE_ON_START, under the lock), or refuse to run on a schema that
    is not this code's: serving on an old one would answer with errors instead of stopping."""
    if migrate:
        upgrade(engine)
        return
    current, head = current_revision(engine), head_revision(engine)
    if current == head:
        return
    if current is None:
        found = "has no schema yet"
    elif current in _known_revisions(engine):
        found = f"is at revision {current}"
    else:
        found = f"is at revision {current}, which this version does not know (did a newer release migrate it?)"
    raise SchemaNotCurrent(f"the database {found}; this version needs revision {head}. Run `amends db upgrade` "
                           "once (from one machine), then start again (AMENDS_MIGRATE_ON_START is false, so "
                           "start-up does not migrate)")


def _known_revisions(engine: Engine) -> set[str]:
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(alembic_config(engine)).walk_revisions()}


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
