"""Queue workers' heartbeats, and the waiting work they are measured against (/healthz).

Each worker process writes its own row (`beat`) every few seconds; nobody else writes it,
so an update-then-insert needs no upsert syntax and cannot race. The rows say only that a
worker was alive; the events table stays the truth about what is waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from plugin.db.engine import writing
from plugin.db.schema import UNFINISHED, events, heartbeats


@dataclass(frozen=True)
class Heartbeat:
    worker: str
    host: str
    pid: int
    started_at: float
    beat_at: float


@dataclass(frozen=True)
class Waiting:
    """Unfinished events: how many, and when the oldest of them arrived (None: none wait)."""

    depth: int
    oldest_received_at: float | None


def beat(engine: Engine, worker: Heartbeat) -> None:
    """Record that `worker` is alive now (its row's beat_at), creating the row on its first beat."""
    with writing(engine) as conn:
        updated = conn.execute(
            heartbeats.update().where(heartbeats.c.worker == worker.worker).values(beat_at=worker.beat_at)
        ).rowcount
        if not updated:
            conn.execute(heartbeats.insert(), dict(worker=worker.worker, host=worker.host, pid=worker.pid,
                                                   started_at=worker.started_at, beat_at=worker.beat_at))


def forget_workers(engine: Engine, silent_since: float) -> int:
    """Delete heartbeats older than `silent_since` (workers long gone), so the table stays small."""
    with writing(engine) as conn:
        return conn.execute(heartbeats.delete().where(heartbeats.c.beat_at < silent_since)).rowcount


def latest_heartbeat(engine: Engine) -> Heartbeat | None:
    """The worker seen most recently, or None if no worker ever beat."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(heartbeats).order_by(heartbeats.c.beat_at.desc()).limit(1)).first()
    return Heartbeat(**row._mapping) if row else None


def workers_seen_since(engine: Engine, since: float) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(heartbeats).where(heartbeats.c.beat_at >= since)
        ).scalar_one()


def waiting_events(engine: Engine) -> Waiting:
    with engine.connect() as conn:
        depth, oldest = conn.execute(
            sa.select(sa.func.count(), sa.func.min(events.c.received_at)).where(events.c.status.in_(UNFINISHED))
        ).one()
    return Waiting(depth=depth, oldest_received_at=oldest)

