"""GET /healthz: 200 when the database and the queue answer and waiting events have a live
worker; 503 otherwise, naming what failed.

The worker part reads the database (the truth about waiting events, and the workers'
heartbeats), so it holds in both shapes: `amends serve`, or web + separate `amends worker`.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify

from plugin import db, queue

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    runtime = current_app.extensions["amends"]
    checks = {}
    for name, probe in (("database", lambda: db.ping(runtime.engine)), ("queue", lambda: queue.ping(runtime.huey))):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # any failure means unhealthy; say which
            log.warning("health check %s failed: %s", name, exc.__class__.__name__)
            checks[name] = f"unreachable ({exc.__class__.__name__})"
    healthy = all(v == "ok" for v in checks.values())
    if checks["database"] == "ok":  # without it nothing is known about the worker
        checks["worker"], worker_ok = _worker_check(runtime.engine, runtime.settings.worker_stale_seconds)
        healthy = healthy and worker_ok
    return jsonify(status="ok" if healthy else "unavailable", **checks), 200 if healthy else 503


def _worker_check(engine, stale_seconds: float) -> tuple[dict, bool]:
    """The latest worker heartbeat against the waiting events: unhealthy only when events wait
    and no worker has beaten for `stale_seconds` (an idle service with no worker is fine)."""
    now = time.time()
    try:
        last = db.latest_heartbeat(engine)
        fresh = db.workers_seen_since(engine, now - stale_seconds)
        waiting = db.waiting_events(engine)
    except Exception as exc:  # the database went away between the probes
        log.warning("health check worker failed: %s", exc.__class__.__name__)
        return {"status": f"unknown ({exc.__class__.__name__})"}, False
    report = _worker_report(last, fresh, waiting, now)
    if report["status"] == "ok" or not waiting.depth:
        return report, True
    seen = f"last seen {report['name']} {report['seconds_since_heartbeat']:g} s ago" if last else "none ever seen"
    report["error"] = (f"no worker has written a heartbeat for {stale_seconds:g} s ({seen}) "
                       f"while {waiting.depth} event(s) wait")
    log.error("health check worker failed: %s", report["error"])
    return report, False


def _worker_report(last: db.Heartbeat | None, fresh: int, waiting: db.Waiting, now: float) -> dict:
    return {
        "status": "ok" if fresh else ("stale" if last else "missing"),
        "name": last.worker if last else None,
        "last_heartbeat": _iso(last.beat_at) if last else None,
        "seconds_since_heartbeat": round(now - last.beat_at, 1) if last else None,
        "live_workers": fresh,
        "queue_depth": waiting.depth,
        "oldest_waiting_seconds": (round(now - waiting.oldest_received_at, 1)
                                   if waiting.oldest_received_at is not None else None),
    }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")
