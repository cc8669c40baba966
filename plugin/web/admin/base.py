"""Blueprint /admin and what every console page shares: the login gate, the account the
console works on, who is acting, the overview page. Each area adds its routes to `bp` in its
own module (auth, connect, rules_pages, rules_transfer, watch); the package imports them all.

Every route refuses without a session (`_require_login`), every form carries a CSRF
token (Flask-WTF's CSRFProtect, installed in create_app), and the console is off
until AMENDS_ADMIN_PASSWORD and AMENDS_SECRET_KEY are both set.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from plugin import db
from plugin.core.decision import SkipReason
from plugin.services.accounts import console_account

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Endpoints open without a session: the login form itself.
PUBLIC_ENDPOINTS = frozenset({"admin.login"})


def runtime():
    return current_app.extensions["amends"]


def helpdesk_account() -> tuple[str, str]:
    """The (helpdesk, account) the console works on: the configured Zendesk subdomain,
    else the one connected in the console, else "default" until one is set (the CLI's
    `amends rules` commands use the same plugin.services.accounts.console_account)."""
    return console_account(runtime().settings, runtime().engine)


def actor() -> str:
    """Who is acting, for the audit log: the name given at login and where from."""
    return f"{session.get('admin_name') or 'admin'} ({request.remote_addr or 'unknown'})"


def console_enabled() -> bool:
    settings = runtime().settings
    return bool(settings.admin_password and settings.secret_key)


def event_reason(row: dict) -> str:
    """Why an event has no note (its skip code as a sentence), or its last error."""
    if row.get("skip_reason"):
        return SkipReason(row["skip_reason"]).sentence(row.get("skip_category") or "")
    return row.get("last_error") or ""


@bp.before_request
def _require_login():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not console_enabled():
        return render_template("admin/off.html"), 503
    if session.get("admin") is True:
        return None
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    return render_template("admin/refused.html", reason="You are not signed in, or your session has ended."), 401


@bp.context_processor
def _page_helpers():
    # The nav shows only areas that exist, so each area can land on its own.
    return {"has_page": lambda endpoint: endpoint in current_app.view_functions}


@bp.after_request
def _no_store(response):
    # Admin pages show tokens and customer text: never keep them in shared caches.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.get("/")
def overview():
    helpdesk, account = helpdesk_account()
    settings = runtime().settings
    recent = db.list_events(runtime().engine, limit=10)
    return render_template("admin/overview.html", helpdesk=helpdesk, account=account, recent=recent,
                           api_configured=settings.zendesk_can_post, event_reason=event_reason,
                           connected=db.get_connection(runtime().engine, helpdesk, account) is not None)
