"""A PostgreSQL database and a Redis db of our own, for one test run or benchmark: other
programs use the same servers, so we create uniquely named ones and drop only those.

AMENDS_TEST_DATABASE_URL names the PostgreSQL server (its database is only where we connect to
create and drop ours; default the local server's `postgres`), AMENDS_TEST_QUEUE_URL the Redis
server (we claim the first empty db from 1 to 15 with a marker key, and flush only a db we hold).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import uuid
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

SERVER_URL = os.environ.get("AMENDS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("AMENDS_TEST_QUEUE_URL", "redis://127.0.0.1:6379/0")
MARKER = "amends:scratch-owner"


def redis_db_url(number: int) -> str:
    """The Redis server's URL for db `number` (a db in the URL's path wins over redis-py's `db=`)."""
    parts = urlsplit(REDIS_SERVER)
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, parts.fragment))


class Unavailable(Exception):
    """Why the scratch database or queue could not be made (the tests that need them skip)."""


HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]  # names fit PostgreSQL's 63 characters
OURS = re.compile(r"^amends_[a-z]+_([0-9a-f]{6})_(\d+)_[0-9a-f]{8}$")


def _left_behind(token: str) -> bool:
    """A scratch name of this machine whose process is gone (killed before it could drop it)."""
    match = OURS.match(token)
    if not match or match.group(1) != HOST:
        return False
    try:
        os.kill(int(match.group(2)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Scratch:
    def __init__(self, label: str = "test"):
        self.token = f"amends_{label}_{HOST}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.database_url = ""
        self.queue_url = ""
        self._redis = None

    def create(self) -> "Scratch":
        server = sa.engine.make_url(SERVER_URL.replace("postgresql://", "postgresql+psycopg://"))
        try:
            admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 2})
            with admin.connect() as conn:
                for (name,) in conn.execute(sa.text("SELECT datname FROM pg_database")).all():
                    if _left_behind(name):
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{self.token}"'))
            admin.dispose()
        except Exception as exc:
            raise Unavailable(f"PostgreSQL not reachable at {SERVER_URL} ({exc.__class__.__name__}); "
                              "set AMENDS_TEST_DATABASE_URL") from None
        self.database_url = server.set(database=self.token).render_as_string(hide_password=False)
        try:
            self.queue_url = self._claim_redis_db()
        except Unavailable:
            self.drop()
            raise
        return self

    def _claim_redis_db(self) -> str:
        try:
            import redis

            for number in range(1, 16):
                client = redis.Redis.from_url(redis_db_url(number), socket_connect_timeout=2)
                holder = client.get(MARKER)
                if holder and _left_behind(holder.decode(errors="replace")) and client.dbsize() >= 1:
                    client.flushdb()  # a scratch db of ours whose process was killed
                if client.set(MARKER, self.token, nx=True):
                    if client.dbsize() == 1:  # empty but for our marker: ours now
                        self._redis = client
                        return redis_db_url(number)
                    client.delete(MARKER)  # someone else's data is there: leave it alone
        except Exception as exc:
            raise Unavailable(f"Redis not reachable at {REDIS_SERVER} ({exc.__class__.__name__}); "
                              "set AMENDS_TEST_QUEUE_URL") from None
        raise Unavailable(f"no empty Redis db (1-15) at {REDIS_SERVER} to use")

    def reset(self) -> None:
        """Empty our database and our Redis db (nothing else) so the next test starts clean."""
        from plugin import db

        engine = db.make_engine(self.database_url)
        with engine.begin() as conn:
            db.metadata.drop_all(conn)
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
        self._redis.flushdb()
        self._redis.set(MARKER, self.token)

    def drop(self) -> None:
        if self._redis is not None and self._redis.get(MARKER) == self.token.encode():
            self._redis.flushdb()
            self._redis = None
        if self.database_url:
            admin = sa.create_engine(sa.engine.make_url(SERVER_URL.replace("postgresql://", "postgresql+psycopg://")),
                                     isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.token}" WITH (FORCE)'))
            admin.dispose()
            self.database_url = ""
