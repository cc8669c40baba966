"""GET /metrics: Prometheus text for every process of this deployment (see plugin/metrics.py).

Open by default, like /healthz; with AMENDS_METRICS_TOKEN set it answers 401 unless the request
carries `Authorization: Bearer <token>` (compared in constant time). The output holds counts and
durations only, never a setting's value.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from plugin import metrics

log = logging.getLogger(__name__)
bp = Blueprint("prometheus", __name__)


@bp.get("/metrics")
def scrape():
    runtime = current_app.extensions["amends"]
    if not _authorised(runtime.settings.metrics_token, request.headers.get("Authorization", "")):
        return Response("unauthorised\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain")
    try:
        body = metrics.exposition(runtime.engine)
    except SQLAlchemyError as exc:  # queue depth is read from the database; say so rather than 500
        log.warning("metrics scrape failed: database %s", exc.__class__.__name__)
        return Response("database unavailable\n", 503, mimetype="text/plain")
    return Response(body, 200, {"Content-Type": metrics.CONTENT_TYPE})


def _authorised(token: str, header: str) -> bool:
    if not token:
        return True
    scheme, _, given = header.partition(" ")
    # Compare even when the scheme is wrong, so the answer's timing says nothing about the token.
    matches = hmac.compare_digest(given.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and matches
