"""Which helpdesk account the console and the CLI act on (one place, so they always agree)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from plugin import db
from plugin.config import Settings


def console_account(settings: Settings, engine: Engine) -> tuple[str, str]:
    """The configured Zendesk subdomain, else the one connected in the console, else
    "default" until one is set."""
    if settings.zendesk_subdomain:
        return "zendesk", settings.zendesk_subdomain
    connected = db.connected_accounts(engine, "zendesk")
    return "zendesk", connected[0] if connected else "default"


def serves(settings: Settings, engine: Engine, helpdesk: str, account: str) -> bool:
    """Only accounts this deployment works for: the configured subdomain, else those
    connected in the console."""
    if helpdesk != "zendesk":
        return False
    if settings.zendesk_subdomain:
        return account == settings.zendesk_subdomain
    return account in db.connected_accounts(engine, helpdesk)
