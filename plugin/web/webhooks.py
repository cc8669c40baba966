"""Blueprint /webhooks/<helpdesk>: receive, verify, parse, dedupe, enqueue. Never classifies or posts.

Status policy: 202 accepted; 200 repeat or ignored event type; 401 bad, missing or
stale signature; 400 malformed; 413 too large; 415 not JSON; 503 storage down
(the sender retries). Each answer is JSON with a `status` and, on refusal, a `reason`.

A comment event (ticket.comment_added) is not queued: its outcome, how much of our
letter the agent's reply kept, is measured and stored right here (plugin/services/outcomes.py,
one read and one insert) and answered 200 `recorded`, `duplicate`, or `ignored` with
the reason (private comment, the requester's comment, no note of ours on the ticket...).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from plugin import db, metrics
from plugin.errors import UnsupportedMediaType, WebhookRejected
from plugin.services import outcomes

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


def _answer(code: int, **fields) -> tuple[dict, int]:
    return fields, code


@bp.post("/webhooks/<helpdesk>")
def receive(helpdesk: str):
    started = time.perf_counter()
    runtime = current_app.extensions["amends"]
    known = helpdesk in runtime.connectors
    fields, code = _receive(runtime, helpdesk) if known else _answer(
        404, status="refused", reason=f"unknown helpdesk {helpdesk!r}")
    # An unknown path segment is not a label: it would let anyone add time series.
    metrics.webhook_answered(helpdesk if known else "unknown", fields["status"], time.perf_counter() - started)
    return jsonify(fields), code


def _receive(runtime, helpdesk: str) -> tuple[dict, int]:
    connector = runtime.connectors[helpdesk]
    delivery = connector.delivery_id(request.headers)
    try:
        if request.mimetype != "application/json":
            raise UnsupportedMediaType(f"Content-Type must be application/json, got {request.mimetype or 'none'!r}")
        body = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
        connector.verify(request.headers, body, connector.webhook_secret())
        event = connector.parse_event(request.headers, body, connector.account)
    except WebhookRejected as exc:
        log.warning("%s/%s delivery %s refused (%d): %s", helpdesk, connector.account, delivery, exc.status,
                    exc.reason)
        return _answer(exc.status, status="refused", reason=exc.reason)
    except RequestEntityTooLarge:  # answered here, not by the app's handler, so it is counted as refused
        reason = f"body larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes"
        log.warning("%s/%s delivery %s refused (413): %s", helpdesk, connector.account, delivery, reason)
        return _answer(413, status="refused", reason=reason)
    if event is None:
        return _answer(200, status="ignored", reason="event type not handled")
    if isinstance(event, outcomes.CommentEvent):
        return _outcome(runtime.engine, helpdesk, event, delivery)
    try:
        accepted = db.accept_event(runtime.engine, event)
    except SQLAlchemyError:
        log.exception("%s/%s delivery %s: database unavailable", helpdesk, event.account, delivery)
        return _answer(503, status="unavailable", reason="storage unavailable, retry later")
    if accepted.duplicate:
        log.info("%s/%s ticket %s delivery %s: repeat of event %s", helpdesk, event.account, event.ticket_id,
                 delivery, accepted.event_id)
        return _answer(200, status="duplicate", event_id=accepted.event_id)
    try:
        runtime.tasks.enqueue(accepted.event_id)
    except Exception:
        # Stored already: the worker's sweep finds it. The sender must not resend.
        log.exception("%s/%s event %s stored but not enqueued; the sweep will pick it up",
                      helpdesk, event.account, accepted.event_id)
    log.info("%s/%s ticket %s delivery %s: accepted as event %s", helpdesk, event.account, event.ticket_id,
             delivery, accepted.event_id, extra={"amends": {
                 "event_id": accepted.event_id, "ticket": event.ticket_id, "helpdesk": helpdesk,
                 "account": event.account, "outcome": "accepted"}})
    return _answer(202, status="accepted", event_id=accepted.event_id)


def _outcome(engine, helpdesk: str, comment: outcomes.CommentEvent, delivery: str):
    try:
        result = outcomes.record(engine, comment)
    except SQLAlchemyError:
        log.exception("%s/%s delivery %s: database unavailable", helpdesk, comment.account, delivery)
        return _answer(503, status="unavailable", reason="storage unavailable, retry later")
    if result.status == "recorded":
        log.info("%s/%s ticket %s delivery %s: agent reply kept %.2f of our letter", helpdesk, comment.account,
                 comment.ticket_id, delivery, result.ratio)
        return _answer(200, status="recorded", ratio=result.ratio, accepted=result.accepted, edited=result.edited)
    log.info("%s/%s ticket %s delivery %s: comment %s: %s", helpdesk, comment.account, comment.ticket_id,
             delivery, result.status, result.reason)
    return _answer(200, status=result.status, reason=result.reason)
