"""Console area "Connect Zendesk": OAuth (authorization code + PKCE) and the webhook set-up.

Zendesk has made no new API tokens since 2026-10-27 and turns them all off on 2027-04-30, so the
admin registers an OAuth client in Zendesk (Admin Center > Apps and integrations > APIs >
OAuth clients, redirect URL `<public URL>/admin/connect/callback`), enters it here, and is
sent to Zendesk to allow access. Tokens and secrets are stored encrypted (plugin.core.secretbox);
no page ever shows them back. The protocol lives in plugin/connectors/zendesk_oauth.py, the
stored connection in zendesk_console.py, the Webhooks API calls in zendesk_webhooks.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from datetime import datetime, timezone
from urllib.parse import urlparse

import requests
from flask import flash, redirect, render_template, request, send_from_directory, session, url_for

from plugin.config import SUBDOMAIN_RE
from plugin.connectors import zendesk_oauth, zendesk_webhooks
from plugin.connectors.zendesk import ZendeskConnector
from plugin.connectors.zendesk_console import CONNECTED, NEEDS_REAUTH, PENDING, ConsoleConnection, store_grant
from plugin.connectors.zendesk_oauth import OAuthError
from plugin.core.paths import PROJECT_ROOT
from plugin.core.secretbox import SecretBoxError
from plugin.errors import HelpdeskError
from plugin.web.admin.base import actor, bp, runtime

SESSION_KEY = "zendesk_oauth"
AUTHORISE_WITHIN_SECONDS = 15 * 60
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,255}$")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
ADMIN_STATIC = PROJECT_ROOT / "static" / "admin"
# One webhook set-up at a time in this process; the lookup makes repeated presses reuse the webhook.
_SETUP_LOCK = threading.Lock()


def _console(account: str | None = None) -> ConsoleConnection:
    return ConsoleConnection(runtime().engine, runtime().settings, account=account)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _public_view(data: dict | None) -> dict:
    """What the audit log may keep: never a secret value, only whether one is stored."""
    data = data or {}
    return {"subdomain": data.get("subdomain"), "client_id": data.get("client_id"),
            "public_url": data.get("public_url"), "client_secret": "stored" if data.get("client_secret") else None,
            "status": data.get("status"), "webhook_id": data.get("webhook_id")}


def _when(ts: float | None) -> str:
    if not ts:
        return ""
    return datetime.fromtimestamp(float(ts), tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _normalise_subdomain(raw: str) -> str:
    # Accept what people paste: "acme", "acme.zendesk.com", "https://acme.zendesk.com/".
    text = raw.strip().lower()
    text = re.sub(r"^https?://", "", text).split("/")[0]
    return text[: -len(".zendesk.com")] if text.endswith(".zendesk.com") else text


def _validate(form, stored: dict | None) -> tuple[dict, dict]:
    settings = runtime().settings
    values = {"subdomain": _normalise_subdomain(form.get("subdomain", "")),
              "client_id": form.get("client_id", "").strip(),
              "client_secret": form.get("client_secret", "").strip(),
              "public_url": form.get("public_url", "").strip().rstrip("/")}
    errors = {}
    if not SUBDOMAIN_RE.match(values["subdomain"]):
        errors["subdomain"] = "Enter the subdomain only: acme for acme.zendesk.com."
    elif settings.zendesk_subdomain and values["subdomain"] != settings.zendesk_subdomain:
        errors["subdomain"] = (f"AMENDS_ZENDESK_SUBDOMAIN is {settings.zendesk_subdomain!r} on this server: "
                               "connect that account, or change the setting.")
    if not CLIENT_ID_RE.match(values["client_id"]):
        errors["client_id"] = ("Enter the OAuth client's unique identifier (letters, digits, _ . -), "
                               "not its name or numeric id.")
    same_client = stored and stored.get("client_id") == values["client_id"] and stored.get("client_secret")
    if not values["client_secret"] and not same_client:
        errors["client_secret"] = "Enter the OAuth client's secret."
    url = urlparse(values["public_url"])
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        errors["public_url"] = "Enter the address Zendesk can reach this server at, e.g. https://amends.example.com."
    elif url.scheme != "https" and url.hostname not in LOCAL_HOSTS:
        errors["public_url"] = "Zendesk only redirects to https addresses (http is allowed for localhost only)."
    return values, errors


def _page(values: dict | None = None, errors: dict | None = None, status: int = 200):
    settings = runtime().settings
    console = _console()
    data = console.load() if console.account else None
    key_problem = ""
    try:
        for field in ("client_secret", "access_token", "webhook_secret"):
            console.reveal(data, field)
    except SecretBoxError as exc:
        key_problem = str(exc)
    data = data or {}
    # This server's address as the browser reached it (through AMENDS_PROXY_HOPS proxies, via
    # ProxyFix): the public URL to suggest, and the redirect URL to paste into Zendesk's OAuth client.
    here = request.host_url.rstrip("/") + request.script_root
    values = values or {"subdomain": data.get("subdomain") or settings.zendesk_subdomain,
                        "client_id": data.get("client_id", ""), "public_url": data.get("public_url") or here}
    public_url = data.get("public_url") or values.get("public_url") or here
    redirect_here = url_for("admin.connect_callback", _external=True)
    stored_redirect = zendesk_oauth.redirect_uri(data["public_url"]) if data.get("public_url") else ""
    return render_template(
        "admin/connect.html", data=data, values=values, errors=errors or {}, when=_when,
        secret_stored=bool(data.get("client_secret")), key_problem=key_problem,
        connected=data.get("status") == CONNECTED, needs_reauth=data.get("status") == NEEDS_REAUTH,
        pending=data.get("status", PENDING) == PENDING and bool(data), can_set_up=_setup_refusal(data) == "",
        env_credentials=settings.zendesk_can_post, env_webhook_secret=bool(settings.zendesk_webhook_secret),
        redirect_uri=redirect_here,
        stored_redirect_uri=stored_redirect if stored_redirect != redirect_here else "",
        webhook_endpoint=zendesk_oauth.webhook_endpoint(public_url),
    ), status


@bp.route("/connect", methods=["GET", "POST"])
def connect():
    if request.method == "GET":
        return _page()
    stored = _console(_normalise_subdomain(request.form.get("subdomain", ""))).load() \
        if SUBDOMAIN_RE.match(_normalise_subdomain(request.form.get("subdomain", ""))) else None
    values, errors = _validate(request.form, stored)
    if errors:
        return _page({k: v for k, v in values.items() if k != "client_secret"}, errors, 400)
    console = _console(values["subdomain"])
    state = zendesk_oauth.new_state()
    verifier, challenge = zendesk_oauth.new_pkce()
    box = console.box()

    def begin(data: dict) -> dict:
        data.update(subdomain=values["subdomain"], client_id=values["client_id"], public_url=values["public_url"])
        if values["client_secret"]:
            data["client_secret"] = box.encrypt(values["client_secret"])
        data.setdefault("status", PENDING)  # a working connection keeps its tokens until the new grant
        data["pending"] = {"state_hash": _digest(state), "verifier": box.encrypt(verifier), "at": time.time()}
        return data

    after = _public_view({**(stored or {}), **values, "client_secret": bool(values["client_secret"] or stored)})
    console.update(begin, audit=(actor(), "zendesk.connect.start", values["subdomain"],
                                 json.dumps(_public_view(stored)), json.dumps(after)))
    session[SESSION_KEY] = {"state": state, "account": values["subdomain"], "at": time.time()}
    return redirect(zendesk_oauth.authorization_url(runtime().settings, values["subdomain"], values["client_id"],
                                                    values["public_url"], state, challenge))


@bp.get("/connect/callback")
def connect_callback():
    started = session.pop(SESSION_KEY, None)
    state = request.args.get("state", "")
    if not started or not state or not _same(state, str(started.get("state", ""))):
        return render_template("admin/refused.html", reason=(
            "Zendesk's answer does not belong to the sign-in this browser started (state mismatch). "
            "Nothing was changed; start again from Connect Zendesk.")), 400
    console = _console(started["account"])
    data = console.load() or {}
    pending = data.get("pending") or {}
    if not pending or not _same(str(pending.get("state_hash", "")), _digest(state)):
        flash("This authorisation was replaced by a newer one; start again.", "error")
        return redirect(url_for("admin.connect"))
    if time.time() - float(pending.get("at") or 0) > AUTHORISE_WITHIN_SECONDS:
        _forget_pending(console, state)
        flash("The authorisation took too long; start again.", "error")
        return redirect(url_for("admin.connect"))
    if request.args.get("error"):
        _forget_pending(console, state)
        error = request.args.get("error", "")[:64]
        detail = request.args.get("error_description", "")[:200]
        if error == "access_denied":
            flash("Zendesk says access was denied: nothing was connected. Press Connect again and choose "
                  "Allow to give Amends access.", "error")
        else:
            flash(f"Zendesk did not authorise Amends ({error}{': ' + detail if detail else ''}).", "error")
        return redirect(url_for("admin.connect"))
    code = request.args.get("code", "")
    try:
        grant = zendesk_oauth.exchange_code(
            requests.Session(), runtime().settings, started["account"], client_id=data.get("client_id", ""),
            client_secret=console.reveal(data, "client_secret"), code=code, public_url=data.get("public_url", ""),
            code_verifier=console.reveal(pending, "verifier"))
    except OAuthError as exc:
        _forget_pending(console, state)
        flash(f"Zendesk refused the authorisation ({exc.error}). Codes are valid for 2 minutes and "
              "only once, and the client secret must match: check it and connect again.", "error")
        return redirect(url_for("admin.connect"))
    except (HelpdeskError, SecretBoxError) as exc:
        flash(f"Could not finish connecting: {exc}. Try again.", "error")
        return redirect(url_for("admin.connect"))
    box, now, who = console.box(), time.time(), actor()

    def finish(d: dict) -> dict:
        d.pop("pending", None)
        store_grant(d, grant, box, now)
        d["connected_at"], d["connected_by"] = now, who
        return d

    before = _public_view(data)
    after = {**_public_view({**data, "status": CONNECTED}), "scope": grant.scope,
             "access_expires_at": now + grant.expires_in if grant.expires_in else None}
    console.update(finish, audit=(who, "zendesk.connect", started["account"], json.dumps(before), json.dumps(after)))
    flash(f"Connected to {started['account']}.zendesk.com.", "ok")
    return redirect(url_for("admin.connect"))


def _forget_pending(console: ConsoleConnection, state: str) -> None:
    def drop(d: dict) -> dict | None:
        if (d.get("pending") or {}).get("state_hash") != _digest(state):
            return None
        d.pop("pending")
        return d
    console.update(drop)


def _setup_refusal(data: dict) -> str:
    """Why "Set up Zendesk for me" cannot run yet ("" when it can): it needs the connection's
    access (or credentials in the environment) and the public URL the webhook will post to."""
    if not data.get("public_url"):
        return "Enter this server's public URL and connect Zendesk first."
    if not runtime().settings.zendesk_can_post and data.get("status") != CONNECTED:
        return "Connect Zendesk first: the webhook is created with the connection's access."
    return ""


def _connector_for_setup():
    """The connector (environment credentials, else the console's) and the stored data; else the
    connect page saying why not (409: the button is disabled there until it can work)."""
    connector = ZendeskConnector(runtime().settings, engine=runtime().engine)
    data = connector.console.load() or {}
    refusal = _setup_refusal(data)
    if refusal:
        flash(refusal, "error")
        return None, _page(status=409)
    return (connector, data), None


@bp.get("/connect/copy.js")
def connect_script():
    # The copy button's few lines, as a file: the console keeps scripts out of its pages.
    return send_from_directory(ADMIN_STATIC, "copy.js", mimetype="text/javascript", max_age=300)


@bp.post("/connect/webhook")
def connect_webhook():
    found, refused = _connector_for_setup()
    if refused:
        return refused
    connector, data = found
    endpoint = zendesk_oauth.webhook_endpoint(data["public_url"])
    try:
        with _SETUP_LOCK:
            data = connector.console.load() or data  # a press that waited sees the webhook just stored
            setup = zendesk_webhooks.ensure_webhook(connector, endpoint, known_id=data.get("webhook_id"))
            box = connector.console.box()

            def store(d: dict) -> dict:
                d.update(webhook_id=setup.webhook_id, webhook_endpoint=setup.endpoint, webhook_set_at=time.time(),
                         webhook_secret=box.encrypt(setup.signing_secret))
                return d

            after = {"webhook_id": setup.webhook_id, "endpoint": setup.endpoint, "created": setup.created,
                     "updated": setup.updated, "signing_secret": "stored"}
            connector.console.update(store, audit=(actor(), "zendesk.webhook.setup", setup.webhook_id,
                                                   json.dumps({"webhook_id": data.get("webhook_id")}),
                                                   json.dumps(after)))
    except (HelpdeskError, SecretBoxError) as exc:
        flash(f"Could not set up the webhook: {exc}", "error")
        return redirect(url_for("admin.connect"))
    how = "Created" if setup.created else "Updated" if setup.updated else "Found"
    flash(f"{how} the webhook \"{zendesk_webhooks.WEBHOOK_NAME}\" ({setup.webhook_id}) sending new tickets "
          f"and agents' replies to {setup.endpoint}, and stored its signing secret.", "ok")
    return redirect(url_for("admin.connect"))


@bp.post("/connect/webhook/test")
def connect_webhook_test():
    found, refused = _connector_for_setup()
    if refused:
        return refused
    connector, data = found
    if not data.get("webhook_id"):
        flash("Set up the webhook first.", "error")
        return redirect(url_for("admin.connect"))
    endpoint = data.get("webhook_endpoint") or zendesk_oauth.webhook_endpoint(data["public_url"])
    try:
        result = zendesk_webhooks.send_test(connector, data["webhook_id"], endpoint)
    except (HelpdeskError, SecretBoxError) as exc:
        flash(f"Zendesk could not send the test event: {exc}", "error")
        return redirect(url_for("admin.connect"))

    def remember(d: dict) -> dict:
        d["last_test"] = {"at": time.time(), "status": result.status, "body": result.body}
        return d

    connector.console.update(remember)
    if result.ok:
        flash(f"Zendesk sent a test event to {endpoint}; Amends answered HTTP {result.status}: {result.body}", "ok")
    else:
        flash(f"Zendesk sent a test event to {endpoint} and got HTTP {result.status or 'no answer'}: "
              f"{result.body or 'no body'}", "error")
    return redirect(url_for("admin.connect"))

