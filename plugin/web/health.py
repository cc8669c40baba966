"""GET /healthz: 200 when the database and the queue answer, 503 otherwise."""

from __future__ import annotations

import logging

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
    return jsonify(status="ok" if healthy else "unavailable", **checks), 200 if healthy else 503
