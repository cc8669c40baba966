"""Blueprint /admin and what every console page shares: the login gate, the account the
console works on, who is acting. Each area adds its routes to `bp` in its own module (auth,
overview, connect, rules_pages, rules_transfer, watch); the package imports them all.

Every route refuses without an open session (`_require_login`: the cookie carries a random token
whose session row must be neither signed out nor expired), every form carries a CSRF token
(Flask-WTF's CSRFProtect, installed in create_app), and the console is off until
AMENDS_SECRET_KEY is set and someone can sign in: a named admin (`amends admin add`) or, as the
bootstrap, AMENDS_ADMIN_PASSWORD (`console_off_page`).
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from plugin import db
from plugin.core.decision import SkipReason
from plugin.services.accounts import console_account
from plugin.services.setup_check import console_gaps

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Endpoints open without a session: the login form itself.
PUBLIC_ENDPOINTS = frozenset({"admin.login"})
# The cookie's key for the session token (auth.py signs in and out).
SESSION_TOKEN = "admin_session"
# What the console needs, and what each is for (the console-off page names the missing ones).
CONSOLE_SETTINGS = {
    "AMENDS_SECRET_KEY": "signs the console's cookies and forms (long and random)",
    "AMENDS_ADMIN_PASSWORD": "the shared password for the first sign-in, until a named admin is added with "
                             "amends admin add NAME --password-stdin",
}


def runtime():
    return current_app.extensions["amends"]


def helpdesk_account() -> tuple[str, str]:
    """The (helpdesk, account) the console works on: the configured Zendesk subdomain,
    else the one connected in the console, else "default" until one is set (the CLI's
    `amends rules` commands use the same plugin.services.accounts.console_account)."""
    return console_account(runtime().settings, runtime().engine)


def describe_actor(name: str) -> str:
    return f"{name or 'admin'} ({request.remote_addr or 'unknown'})"


def actor() -> str:
    """Who is acting, for the audit log: the named admin signed in (with the shared bootstrap
    password, the name typed at sign-in) and where from."""
    return describe_actor((g.get("admin") or {}).get("name", ""))


def missing_settings() -> list[str]:
    return console_gaps(runtime().settings, runtime().engine)


def console_off_page():
    """Any console page while a setting it needs is missing: a 503 page naming them.

    create_app installs this ahead of CSRF protection, which cannot run without the secret key
    that may be the very setting missing (it would answer a bare 500)."""
    if request.blueprint != bp.name:
        return None
    missing = missing_settings()
    if not missing:
        return None
    g.admin = None  # no session counts while the console is off
    return render_template("admin/off.html", missing={name: CONSOLE_SETTINGS[name] for name in missing}), 503


def open_session() -> dict | None:
    """The signed-in session the cookie's token names, while it is open and its admin may still
    sign in (not removed; a bootstrap session only while no named admin exists), else None."""
    token = session.get(SESSION_TOKEN)
    if not isinstance(token, str):
        return None
    found = db.admin_session(runtime().engine, token, time.time())
    if found is None or not db.session_holder_allowed(runtime().engine, found["admin_id"]):
        return None
    return found


def event_reason(row: dict) -> str:
    """Why an event has no note (its skip code as a sentence), or its last error."""
    if row.get("skip_reason"):
        return SkipReason(row["skip_reason"]).sentence(row.get("skip_category") or "")
    return row.get("last_error") or ""


@bp.before_request
def _require_login():
    g.admin = open_session()  # also read by the pages' header (the nav and Sign out)
    if g.admin is not None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    return render_template("admin/refused.html", reason="You are not signed in, or your session has ended."), 401


def _signed_in() -> bool:
    # _require_login looked the session up; a page answered before it ran (a CSRF refusal) looks now.
    if "admin" not in g:
        g.admin = open_session()
    return g.admin is not None


@bp.context_processor
def _page_helpers():
    # The nav shows only areas that exist, so each area can land on its own.
    return {"has_page": lambda endpoint: endpoint in current_app.view_functions, "signed_in": _signed_in()}


@bp.after_request
def _no_store(response):
    # Admin pages show tokens and customer text: never keep them in shared caches.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
