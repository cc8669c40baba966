"""Blueprint /api: agents' feedback on suggestions (corrections, thumbs, inserts).

Authenticated by `Authorization: Bearer <AMENDS_API_TOKEN>` (constant-time compare);
the sidebar (issue #6) will add its own session. Corrections feed the account's
classifier: after AMENDS_RETRAIN_AFTER new ones, the worker retrains it.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request

from plugin import db, learning
from plugin.rules import CATEGORIES

bp = Blueprint("api", __name__, url_prefix="/api")
KINDS = ("correction", "thumbs_up", "thumbs_down", "insert")


def _refuse(code: int, reason: str):
    return jsonify(status="refused", reason=reason), code


@bp.post("/feedback")
def feedback():
    runtime = current_app.extensions["amends"]
    settings = runtime.settings
    if not settings.api_token:
        return _refuse(401, "the feedback API is off: set AMENDS_API_TOKEN")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), settings.api_token.encode()):
        return _refuse(401, "missing or wrong bearer token")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _refuse(400, "body must be a JSON object")
    kind = data.get("kind", "correction")
    ticket_id = str(data.get("ticket_id") or "").strip()
    category = data.get("category")
    if kind not in KINDS:
        return _refuse(400, f"kind must be one of {', '.join(KINDS)}")
    if not ticket_id.isdigit():
        return _refuse(400, "ticket_id must be a ticket number")
    if kind == "correction" and category not in CATEGORIES + ("other",):
        return _refuse(400, "category must be one of the category ids")
    helpdesk = str(data.get("helpdesk") or "zendesk")
    account = str(data.get("account") or settings.zendesk_subdomain)
    text = "\n".join(str(data[k]) for k in ("subject", "description") if data.get(k)).strip() or \
        db.ticket_text(runtime.engine, helpdesk, account, ticket_id)
    if kind == "correction" and not text:
        return _refuse(400, "no text to learn from: send subject/description, or correct a ticket Amends has seen")
    feedback_id = db.add_feedback(runtime.engine, helpdesk, account, ticket_id, kind,
                                  from_category=data.get("from_category"), to_category=category, text=text,
                                  source=str(data.get("source") or "api"))
    retraining = False
    if kind == "correction" and learning.pending(runtime.engine, helpdesk, account) >= settings.retrain_after:
        runtime.tasks.train(helpdesk, account)
        retraining = True
    return jsonify(status="recorded", id=feedback_id, retraining=retraining), 201
