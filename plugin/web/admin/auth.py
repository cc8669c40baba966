"""Console login and logout: one shared password, compared in constant time, with
failed attempts counted per address so guessing is slowed to a crawl."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlparse

from flask import redirect, render_template, request, session, url_for

from plugin import db
from plugin.web.admin.base import bp, console_enabled, runtime

MAX_FAILURES = 5  # per address ...
WINDOW_SECONDS = 15 * 60  # ... in this window; then refused until the window passes
SESSION_HOURS = 12


def password_matches(given: str, expected: str) -> bool:
    # Hash both first so the comparison takes the same time whatever the lengths.
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest())


def _safe_next(target: str | None) -> str:
    """Only same-site paths under /admin: never an open redirect to another host."""
    if target and target.startswith("/admin") and not urlparse(target).netloc and "\\" not in target:
        return target
    return url_for("admin.overview")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not console_enabled():
        return render_template("admin/off.html"), 503
    engine = runtime().engine
    remote = request.remote_addr or "unknown"
    error = None
    status = 200
    if request.method == "POST":
        now = time.time()
        if db.failed_logins(engine, remote, now - WINDOW_SECONDS) >= MAX_FAILURES:
            error = f"Too many wrong passwords from your address. Try again in {WINDOW_SECONDS // 60} minutes."
            status = 429
        elif password_matches(request.form.get("password", ""), runtime().settings.admin_password):
            db.record_login(engine, remote, True, now)
            session.clear()
            session.permanent = True
            session["admin"] = True
            session["admin_name"] = (request.form.get("name") or "").strip()[:80]
            return redirect(_safe_next(request.form.get("next")))
        else:
            db.record_login(engine, remote, False, now)
            error = "Wrong password."
            status = 401
    return render_template("admin/login.html", error=error, next=request.values.get("next", "")), status


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("admin.login"))
