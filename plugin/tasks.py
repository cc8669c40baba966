"""Task bodies and retry policy: the queue carries only event ids; the database holds the state.

`Tasks` binds the two tasks to one Huey instance, under fixed names, so the web
process (which only enqueues) and the worker (which runs them) agree on them.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from contextlib import nullcontext
from datetime import datetime, timezone

from huey import crontab
from huey.api import Huey
from huey.storage import SqliteStorage
from sqlalchemy.engine import Engine

from plugin import db
from plugin.config import Settings
from plugin.connectors import get_connector
from plugin.services import learning, pipeline, retention, rulebook

log = logging.getLogger(__name__)

SWEEP_STALE_SECONDS = 60.0


class Tasks:
    def __init__(self, settings: Settings, huey: Huey, engine: Engine, rulebooks: rulebook.Rulebooks):
        self.settings = settings
        self.huey = huey
        self.engine = engine
        self.rulebooks = rulebooks
        # One name per worker process; a claim's lease records it.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._local = threading.local()
        # Same reason as db._write: SQLite's busy handler stalls; take turns in-process.
        self._enqueue_lock = threading.Lock() if isinstance(huey.storage, SqliteStorage) else nullcontext()
        self.process = huey.task(name="amends.process_event")(self._process)
        self.train = huey.task(name="amends.train")(self._train)
        self.sweep = huey.periodic_task(crontab(minute="*"), name="amends.sweep")(self._sweep)
        # Once a day, at a quiet hour off the full hour: customer text older than AMENDS_RETENTION_DAYS goes.
        self.purge = huey.periodic_task(crontab(hour="3", minute="17"), name="amends.purge")(self._purge)

    def connector(self, helpdesk: str):
        # requests.Session is not thread-safe: one connector per worker thread.
        cache = self._local.__dict__.setdefault("connectors", {})
        if helpdesk not in cache:
            cache[helpdesk] = get_connector(helpdesk, self.settings, engine=self.engine)
        return cache[helpdesk]

    def enqueue(self, event_id: int, not_before: float | None = None) -> None:
        if not_before and not_before > time.time() + 0.05:
            # Huey's SQLite storage keeps whole seconds: round up, never wake early.
            eta = datetime.fromtimestamp(math.ceil(not_before), tz=timezone.utc).replace(tzinfo=None)
            with self._enqueue_lock:
                self.process.schedule(args=(event_id,), eta=eta)
        else:
            with self._enqueue_lock:
                self.process(event_id)

    def _process(self, event_id: int) -> str:
        row = db.get_event(self.engine, event_id)
        if row is None:
            log.warning("no event %s in the database", event_id)
            return "missing"
        connector = self.connector(row["helpdesk"])
        result = pipeline.process_event(self.engine, connector, self.settings, event_id, self.owner,
                                        rules=self.rulebooks.rules_for(row["helpdesk"], row["account"]))
        if result.outcome == "retry":
            self.enqueue(event_id, time.time() + result.delay)
        elif result.outcome == "not_claimed":
            self._wake_later(event_id)
        return result.outcome

    def _wake_later(self, event_id: int) -> None:
        """A wake-up that came early (the queue's clock is coarse, or another worker's
        lease has not run out yet) schedules itself again for when the event is due."""
        row = db.get_event(self.engine, event_id)
        if row is None or row["status"] not in db.UNFINISHED:
            return
        not_before = row["lease_until"] if row["status"] == db.PROCESSING else row["next_attempt_at"]
        self.enqueue(event_id, max(not_before or 0.0, time.time()) + 0.1)

    def recover(self, overdue_by: float | None = None) -> int:
        """Re-enqueue unfinished events: all of them at start-up; every minute, the lost ones."""
        due = db.recoverable(self.engine, overdue_by=overdue_by)
        for event_id, not_before in due:
            self.enqueue(event_id, not_before)
        if due:
            log.info("re-enqueued %d unfinished event(s)", len(due))
        return len(due)

    def _train(self, helpdesk: str, account: str) -> int:
        return learning.train_account(self.engine, helpdesk, account)

    def _sweep(self) -> int:
        return self.recover(overdue_by=SWEEP_STALE_SECONDS)

    def _purge(self) -> dict[str, int] | None:
        return retention.apply(self.engine, self.settings)
