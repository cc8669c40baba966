"""Blueprint /api: agents' feedback on suggestions (corrections, thumbs, inserts).

Two ways in: `Authorization: Bearer <AMENDS_API_TOKEN>` (constant-time compare; the body
may name the helpdesk and an account this deployment serves), or the agents' sidebar token
in the X-Amends-Sidebar header (plugin/core/sidebar_auth.py), which fixes the account: a
body naming another one is refused. Corrections feed the account's classifier: after AMENDS_RETRAIN_AFTER new ones,
the worker retrains it. Ids, names and the body's nesting are checked first
(plugin/core/inputs.py): a refusal is a 4xx with the reason, and stores nothing.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from plugin import db
from plugin.core import inputs, sidebar_auth
from plugin.core.rules import CATEGORIES
from plugin.models import FEEDBACK_KINDS
from plugin.services import accounts, learning

bp = Blueprint("api", __name__, url_prefix="/api")
KINDS = FEEDBACK_KINDS


@bp.errorhandler(SQLAlchemyError)
def _storage_down(_exc):
    """The database is down: the sidebar may retry; nothing was stored (as the webhook answers)."""
    current_app.logger.exception("feedback: database unavailable")
    return jsonify(status="unavailable", reason="storage unavailable, retry later"), 503


def _known_categories(runtime, helpdesk: str, account: str) -> set[str]:
    """Built-in ids, `other`, and the account's custom categories: a correction to a custom
    category teaches the account's model that class (plugin/services/learning.py)."""
    return set(CATEGORIES) | {"other"} | set(runtime.rulebooks.rules_for(helpdesk, account).categories)


def _authenticate(settings) -> tuple[sidebar_auth.SidebarSession | None, str]:
    """(the sidebar session, or None for the bearer token; why the caller is refused, or "")."""
    if sidebar_auth.HEADER in request.headers:
        try:
            return sidebar_auth.read(settings.secret_key, request.headers.get(sidebar_auth.HEADER)), ""
        except sidebar_auth.SidebarRefused as exc:
            return None, exc.reason
    if not settings.api_token:
        return None, "the feedback API is off: set AMENDS_API_TOKEN"
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), settings.api_token.encode()):
        return None, "missing or wrong bearer token"
    return None, ""


def _whose(runtime, data: dict, sidebar) -> tuple[str, str, str]:
    """(helpdesk, account, source): the sidebar session's, else the body's, which must name an
    account this deployment serves. The account names the account's model file (learning.py)
    and a retrain, so a made-up one is refused here, before anything is stored."""
    if sidebar:
        return sidebar.helpdesk, sidebar.account, "sidebar"
    helpdesk = data.get("helpdesk") or "zendesk"
    account = data.get("account") or runtime.settings.zendesk_subdomain
    source = data.get("source") or "api"
    if not inputs.is_helpdesk(helpdesk) or helpdesk not in runtime.connectors:
        raise ValueError(f"helpdesk must be one of {', '.join(runtime.connectors)}")
    if not account:
        raise ValueError("name the account: this deployment has no AMENDS_ZENDESK_SUBDOMAIN")
    if not inputs.is_account(account):
        raise ValueError(f"account must be a {helpdesk} account name: {inputs.ACCOUNT_RULE}")
    if not accounts.serves(runtime.settings, runtime.engine, helpdesk, account):
        raise ValueError(f"this deployment does not serve the {helpdesk} account {account!r}")
    if not inputs.is_source(source):
        raise ValueError("source must be a short name: lowercase letters, digits and _, at most 32")
    return helpdesk, account, source


def _refuse(code: int, reason: str):
    return jsonify(status="refused", reason=reason), code


@bp.post("/feedback")
def feedback():
    runtime = current_app.extensions["amends"]
    settings = runtime.settings
    sidebar, refusal = _authenticate(settings)
    if refusal:
        return _refuse(401, refusal)
    if not request.is_json:
        return _refuse(415, "Content-Type must be application/json")
    try:
        data = inputs.load_json_object(request.get_data(cache=False))
    except ValueError as exc:  # not JSON, too deep (Flask's get_json would raise RecursionError: a 500)
        return _refuse(400, str(exc))
    if sidebar and ((data.get("helpdesk") or sidebar.helpdesk) != sidebar.helpdesk
                    or (data.get("account") or sidebar.account) != sidebar.account):
        return _refuse(403, f"this sidebar session is for the {sidebar.helpdesk} account {sidebar.account!r} "
                            "and cannot record feedback on another account's tickets")
    kind = data.get("kind", "correction")
    category = data.get("category")
    if kind not in KINDS:
        return _refuse(400, f"kind must be one of {', '.join(KINDS)}")
    for key in ("category", "from_category"):
        if data.get(key) is not None and not (isinstance(data[key], str) and len(data[key]) <= 64):
            return _refuse(400, f"{key} must be a category id")
    try:
        ticket_id = inputs.helpdesk_id(data.get("ticket_id"), "ticket_id")
        helpdesk, account, source = _whose(runtime, data, sidebar)
    except ValueError as exc:
        return _refuse(400, str(exc))
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
