"""Console overview: what a new admin meets first. What Zendesk still needs (each missing piece with
what it is for and the page that fixes it), rules made before the account was set, then the latest
tickets.

Carry-over from "default": until AMENDS_ZENDESK_SUBDOMAIN is set or an account is connected, the
console and `amends rules` work on the account "default". It runs on every signed-in console
request (`_carry_over_default`) and in the `amends rules` commands, not at start-up: the account
becomes real either at a restart with the setting or when an OAuth connection is stored by any web
process, and the next console page or rules command is the first moment anyone looks for those
rules; a start-up hook would miss the connection. The check is one cheap read while nothing lies
under "default". When the account already has rules of its own, nothing moves until the admin
chooses on this page (carry them over, replacing the account's, or discard them).
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for

from plugin import db
from plugin.connectors.zendesk_console import CONNECTED, NEEDS_REAUTH, PENDING
from plugin.db.carry_over import DISCARD, REPLACE
from plugin.services.accounts import settled_console_account
from plugin.services.setup_check import zendesk_connection, zendesk_gaps
from plugin.web.admin.base import actor, bp, event_reason, helpdesk_account, runtime
from plugin.web.admin.watch import ticket_url

# Where the environment settings are explained, for the lines that can also be fixed there.
ENV_DOCS = "README, “Connect Zendesk › Or with environment settings”"


@bp.before_request
def _carry_over_default():
    # After the sign-in gate (registered before this): only a signed-in admin's request, named in the audit.
    if g.get("admin") is not None:
        settled_console_account(runtime().settings, runtime().engine, actor())


def _connect_link(anchor: str) -> str:
    return url_for("admin.connect", _anchor=anchor) if "admin.connect" in current_app.view_functions else ""


def checklist(account: str) -> list[dict]:
    """What Zendesk still needs, each as {key, what, why, fix_url, fix_label, env}; empty: all set."""
    settings = runtime().settings
    data = zendesk_connection(runtime().engine, account)
    status, env_credentials, gaps = data.get("status"), settings.zendesk_can_post, zendesk_gaps(settings, data)
    missing = []
    if "webhook-secret" in gaps:
        missing.append({
            "key": "webhook-secret", "what": "Webhook secret",
            "why": "Zendesk signs every webhook delivery with it; until there is one Amends refuses them all, "
                   "so no ticket gets a note.",
            "fix_url": _connect_link("webhook"), "fix_label": "Set up Zendesk for me",
            "env": "AMENDS_ZENDESK_WEBHOOK_SECRET"})
    if "credentials" in gaps:
        missing.append({
            "key": "credentials", "what": "Zendesk credentials",
            "why": "Amends reads each ticket and posts its note with them.",
            "fix_url": _connect_link("oauth"), "fix_label": "Connect with OAuth",
            "env": "AMENDS_ZENDESK_SUBDOMAIN with AMENDS_ZENDESK_OAUTH_TOKEN "
                   "(or AMENDS_ZENDESK_EMAIL and AMENDS_ZENDESK_API_TOKEN)"})
    if not env_credentials and status != CONNECTED:
        subdomain = data.get("subdomain") or account
        why = {NEEDS_REAUTH: f"Zendesk no longer accepts the stored access to {subdomain}.zendesk.com: "
                             "no note can be posted until you connect again.",
               PENDING: f"The authorisation for {subdomain}.zendesk.com was started but not finished."
               }.get(status, "Amends is connected to no Zendesk account, so nothing reaches it yet"
                     + (" and the console works on the placeholder account “default”."
                        if account == db.DEFAULT_ACCOUNT else "."))
        missing.append({"key": "connection", "what": "Connection", "why": why,
                        "fix_url": _connect_link("oauth"), "fix_label": "Connect Zendesk", "env": ""})
    return missing


@bp.get("/")
def overview():
    helpdesk, account = helpdesk_account()
    engine = runtime().engine
    # The cheap check first: in the steady state nothing lies under "default".
    leftovers = (db.default_leftovers(engine, helpdesk, account)
                 if account != db.DEFAULT_ACCOUNT and db.has_default_leftovers(engine, helpdesk) else None)
    return render_template("admin/overview.html", helpdesk=helpdesk, account=account,
                           recent=db.suggestion_log(engine, helpdesk, account, limit=10), event_reason=event_reason,
                           ticket_url=ticket_url,
                           missing=checklist(account), env_docs=ENV_DOCS,
                           leftovers=leftovers if leftovers is not None and leftovers.conflict else None,
                           api_configured=runtime().settings.zendesk_can_post)


@bp.post("/carry-over")
def carry_over():
    """The admin's choice when both "default" and the account have rules."""
    choice = request.form.get("choice", "")
    helpdesk, account = helpdesk_account()
    if choice not in (REPLACE, DISCARD):
        return render_template("admin/refused.html", reason="Choose to carry the rules over or to discard them."), 400
    if account == db.DEFAULT_ACCOUNT:
        return render_template("admin/refused.html", reason=(
            "The console still works on the account “default”: set AMENDS_ZENDESK_SUBDOMAIN or connect "
            "Zendesk first; there is nothing to carry over to.")), 409
    done = db.carry_over_default(runtime().engine, helpdesk, account, actor(), choice)
    if done.rules_version is not None:
        flash(f"The rules made under “default” are now {account}'s (version {done.rules_version}); "
              "the rules they replaced are kept in the audit log.", "ok")
    elif done.discarded_version is not None:
        flash("The rules made under “default” were discarded; the audit log keeps a copy.", "ok")
    else:
        flash("Nothing was left under “default”: someone chose already.", "ok")
    return redirect(url_for("admin.overview"), 303)
