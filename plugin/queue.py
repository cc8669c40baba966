"""The Huey instance chosen by AMENDS_QUEUE_URL: SQLite file by default, Redis at scale."""

from __future__ import annotations

from huey import RedisHuey, SqliteHuey
from huey.api import Huey

from plugin.config import Settings, sqlite_path

QUEUE_NAME = "amends"


def make_huey(settings: Settings, immediate: bool = False) -> Huey:
    path = sqlite_path(settings.queue_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # WAL without fsync on every commit: a killed process keeps every
        # committed task; the event rows in the database are the safety net anyway.
        return SqliteHuey(QUEUE_NAME, filename=str(path), results=False, utc=True, immediate=immediate,
                          journal_mode="wal", fsync=False, timeout=30)
    return RedisHuey(QUEUE_NAME, url=settings.queue_url, results=False, utc=True, immediate=immediate,
                     blocking=True, read_timeout=1)


def ping(huey: Huey) -> None:
    """Raise if the queue's storage cannot be reached."""
    storage = huey.storage
    conn = getattr(storage, "conn", None)
    if conn is not None and hasattr(conn, "ping"):
        conn.ping()  # Redis
    else:
        storage.queue_size()  # SQLite: a real query on the file
