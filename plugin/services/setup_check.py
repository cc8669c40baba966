"""What a new deployment still needs, as `amends serve` says it at start-up: where the console is,
which settings the console lacks, and what Zendesk lacks (the console can supply the latter, so
those are hints, not errors). The console's own overview shows the same Zendesk list with links.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from plugin import db
from plugin.config import Settings
from plugin.services.accounts import console_account

WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def console_url(host: str, port: int) -> str:
    """The console's address for someone on this machine (a wildcard bind is reached on localhost)."""
    host = "127.0.0.1" if host in WILDCARD_HOSTS else host
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/admin/"


def console_gaps(settings: Settings, engine: Engine) -> list[str]:
    """The settings the console still needs before it opens (start-up and the console's 503 page
    word them each their own way)."""
    gaps = [] if settings.secret_key else ["AMENDS_SECRET_KEY"]
    # The shared password only opens the console while no named admin exists (`amends admin add`).
    if not settings.admin_password and not db.admins_exist(engine):
        gaps.append("AMENDS_ADMIN_PASSWORD")
    return gaps


CONSOLE_WORDING = {
    "AMENDS_SECRET_KEY": "AMENDS_SECRET_KEY (signs the console's cookies and forms; long and random)",
    "AMENDS_ADMIN_PASSWORD": "AMENDS_ADMIN_PASSWORD (the first sign-in, until a named admin is added with "
                             "`amends admin add`)",
}


def missing_for_console(settings: Settings, engine: Engine) -> list[str]:
    return [CONSOLE_WORDING[name] for name in console_gaps(settings, engine)]


def zendesk_connection(engine: Engine, account: str) -> dict:
    """The console's stored connection for the account ({} for "default" or none)."""
    return {} if account == db.DEFAULT_ACCOUNT else db.get_connection(engine, "zendesk", account) or {}


def zendesk_gaps(settings: Settings, connection: dict) -> list[str]:
    """What Zendesk lacks, from the environment or the console's connection: "webhook-secret",
    "credentials" (start-up and the console's overview word them each their own way)."""
    gaps = []
    if not settings.zendesk_webhook_secret and not connection.get("webhook_secret"):
        gaps.append("webhook-secret")
    if not settings.zendesk_can_post and not connection.get("access_token"):
        gaps.append("credentials")
    return gaps


STARTUP_WORDING = {
    "webhook-secret": "webhook secret: AMENDS_ZENDESK_WEBHOOK_SECRET, or press \"Set up Zendesk for me\" in the "
                      "console (until then every webhook is refused)",
    "credentials": "credentials: AMENDS_ZENDESK_SUBDOMAIN with AMENDS_ZENDESK_OAUTH_TOKEN (or "
                   "AMENDS_ZENDESK_EMAIL + AMENDS_ZENDESK_API_TOKEN), or connect from the console "
                   "(until then no note is posted)",
}


def missing_for_zendesk(settings: Settings, engine: Engine) -> list[str]:
    _, account = console_account(settings, engine)
    return [STARTUP_WORDING[gap] for gap in zendesk_gaps(settings, zendesk_connection(engine, account))]


def startup_report(settings: Settings, engine: Engine, url: str) -> list[tuple[int, str]]:
    """(log level, line) for each thing to say at start-up."""
    lines = [(logging.INFO, f"admin console: {url}")]
    try:
        console, zendesk = missing_for_console(settings, engine), missing_for_zendesk(settings, engine)
    except SQLAlchemyError as exc:  # start-up goes on; the console says it again once the database answers
        return lines + [(logging.WARNING, f"could not check the console's settings: {exc.__class__.__name__}")]
    if console:
        lines.append((logging.WARNING, "the console stays off (503) until these are set: " + "; ".join(console)))
    if zendesk:
        lines.append((logging.WARNING, f"Zendesk is not set up yet; missing: {'; '.join(zendesk)}. "
                                       f"Connect from the console: {url}connect"))
    return lines
