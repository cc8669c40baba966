"""Blueprint /api: agents' feedback on suggestions (corrections, thumbs, inserts).

Two ways in: `Authorization: Bearer <AMENDS_API_TOKEN>` (constant-time compare; the body
may name the helpdesk and account), or the agents' sidebar token in the X-Amends-Sidebar
header (plugin/core/sidebar_auth.py), which fixes the account: a body naming another one is
refused. Corrections feed the account's classifier: after AMENDS_RETRAIN_AFTER new ones,
the worker retrains it.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request

from plugin import db
from plugin.core import sidebar_auth
from plugin.core.rules import CATEGORIES
from plugin.models import FEEDBACK_KINDS
from plugin.services import learning

bp = Blueprint("api", __name__, url_prefix="/api")
KINDS = FEEDBACK_KINDS


def _known_categories(runtime, helpdesk: str, account: str) -> set[str]:
    """Built-in ids, `other`, and the account's custom categories: a correction to a custom
    category teaches the account's model that class (plugin/services/learning.py)."""
    return set(CATEGORIES) | {"other"} | set(runtime.rulebooks.rules_for(helpdesk, account).categories)


def _refuse(code: int, reason: str):
    return jsonify(status="refused", reason=reason), code


@bp.post("/feedback")
def feedback():
    runtime = current_app.extensions["amends"]
    settings = runtime.settings
    sidebar = None
    if sidebar_auth.HEADER in request.headers:
        try:
            sidebar = sidebar_auth.read(settings.secret_key, request.headers.get(sidebar_auth.HEADER))
        except sidebar_auth.SidebarRefused as exc:
            return _refuse(401, exc.reason)
    elif not settings.api_token:
        return _refuse(401, "the feedback API is off: set AMENDS_API_TOKEN")
    else:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), settings.api_token.encode()):
            return _refuse(401, "missing or wrong bearer token")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _refuse(400, "body must be a JSON object")
    if sidebar and ((data.get("helpdesk") or sidebar.helpdesk) != sidebar.helpdesk
                    or (data.get("account") or sidebar.account) != sidebar.account):
        return _refuse(403, f"this sidebar session is for the {sidebar.helpdesk} account {sidebar.account!r} "
                            "and cannot record feedback on another account's tickets")
    kind = data.get("kind", "correction")
    ticket_id = str(data.get("ticket_id") or "").strip()
    category = data.get("category")
    if kind not in KINDS:
        return _refuse(400, f"kind must be one of {', '.join(KINDS)}")
    for key in ("category", "from_category"):
        if data.get(key) is not None and not (isinstance(data[key], str) and len(data[key]) <= 64):
            return _refuse(400, f"{key} must be a category id")
    if not ticket_id.isdigit():
        return _refuse(400, "ticket_id must be a ticket number")
    if sidebar:
        helpdesk, account, source = sidebar.helpdesk, sidebar.account, "sidebar"
    else:
        helpdesk = str(data.get("helpdesk") or "zendesk")
        account = str(data.get("account") or settings.zendesk_subdomain)
        source = str(data.get("source") or "api")
    if kind == "correction" and category not in _known_categories(runtime, helpdesk, account):
        return _refuse(400, "category must be one of the category ids (built-in, or custom in this account's rules)")
    text = "\n".join(str(data[k]) for k in ("subject", "description") if data.get(k)).strip() or \
        db.ticket_text(runtime.engine, helpdesk, account, ticket_id)
    if kind == "correction" and not text:
        return _refuse(400, "no text to learn from: send subject/description, or correct a ticket Amends has seen")
    feedback_id = db.add_feedback(runtime.engine, helpdesk, account, ticket_id, kind,
                                  from_category=data.get("from_category"), to_category=category, text=text,
                                  source=source)
    retraining = False
    if kind == "correction" and learning.pending(runtime.engine, helpdesk, account) >= settings.retrain_after:
        runtime.tasks.train(helpdesk, account)
        retraining = True
    return jsonify(status="recorded", id=feedback_id, retraining=retraining), 201
