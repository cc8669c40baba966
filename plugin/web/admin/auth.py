"""Console sign-in and sign-out. Named admins (`amends admin add`) sign in with their name and
password (scrypt hashes, plugin.services.admins); only while none exists does the shared
AMENDS_ADMIN_PASSWORD open the console, as the bootstrap, compared in constant time. Attempts
are counted per address by one atomic statement before the password is checked, so even
concurrent guesses get no more than MAX_FAILURES checks a window. A sign-in opens a session row
on the server and the cookie carries only its random token; signing out revokes the row. Both go
to the audit log, with the admin's name and address."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from flask import current_app, redirect, render_template, request, session, url_for

from plugin import db
from plugin.services import admins
from plugin.web.admin.base import SESSION_TOKEN, actor, bp, describe_actor, helpdesk_account, runtime

MAX_FAILURES = 5  # per address ...
WINDOW_SECONDS = 15 * 60  # ... in this window; then refused until the window passes
# A console path and query, printable ASCII only: no CR/LF for a header, no other host.
LOCAL_NEXT = re.compile(r"/admin(?:[/?][!-~]*)?")


def password_matches(given: str, expected: str) -> bool:
    # Hash both first so the comparison takes the same time whatever the lengths.
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest())


def _local_next(target: str | None) -> str:
    """`target` when it is a console address of this site, else "": never an open redirect to
    another host, nor a header that breaks (a CR/LF in Location is a 500)."""
    if target and LOCAL_NEXT.fullmatch(target) and "\\" not in target:
        return target
    return ""


def _login_page(error: str | None = None, status: int = 200, named: bool | None = None):
    named = db.admins_exist(runtime().engine) if named is None else named
    return render_template("admin/login.html", error=error, bootstrap=not named,
                           next=_local_next(request.values.get("next"))), status


def _bootstrap_password_matches(given: str) -> bool:
    expected = runtime().settings.admin_password
    return bool(expected) and password_matches(given, expected)  # an unset password opens nothing


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        return _sign_in()
    return _login_page()


def _sign_in():
    engine, remote, now = runtime().engine, request.remote_addr or "unknown", time.time()
    # The attempt is counted before the password is checked: the count is the limit's only state.
    if db.reserve_login_attempt(engine, remote, now, WINDOW_SECONDS) > MAX_FAILURES:
        return _login_page(f"Too many wrong passwords from your address. Try again in {WINDOW_SECONDS // 60} "
                           "minutes.", 429)
    name, password = (request.form.get("name") or "").strip()[:80], request.form.get("password", "")
    # Once a named admin exists, the shared password opens nothing, whatever name comes with it.
    named = db.admins_exist(engine)
    admin = admins.signing_in(engine, name, password) if named else None
    right = admin is not None if named else _bootstrap_password_matches(password)
    db.record_login(engine, remote, right, now)
    if not right:
        return _login_page("Wrong name or password." if named else "Wrong password.", 401, named)
    db.clear_login_attempts(engine, remote, now, WINDOW_SECONDS)
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    if admin is not None:
        name = admin["name"]  # as it was added, whatever case was typed
        db.mark_admin_signed_in(engine, admin["id"], now)
    token = db.open_admin_session(engine, name, remote, now, lifetime, 
                                  admin_id=admin["id"] if admin else None)
    session.clear()  # nothing from before the sign-in carries over (a fixed session, an old CSRF token)
    session.permanent = True
    session[SESSION_TOKEN] = token
    db.add_audit(engine, *helpdesk_account(), describe_actor(name), "admin.sign_in", "console", now=now)
    return redirect(_local_next(request.form.get("next")) or url_for("admin.overview"))


@bp.post("/logout")
def logout():
    now = time.time()
    # Revoked on the server: a copy of the cookie kept anywhere opens nothing any more.
    if db.revoke_admin_session(runtime().engine, session.get(SESSION_TOKEN, ""), now):
        db.add_audit(runtime().engine, *helpdesk_account(), actor(), "admin.sign_out", "console", now=now)
    session.clear()
    return redirect(url_for("admin.login"))
