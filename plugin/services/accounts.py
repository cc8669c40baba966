"""Which helpdesk account the console and the CLI act on (one place, so they always agree)."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from plugin import db
from plugin.config import Settings

log = logging.getLogger(__name__)


def console_account(settings: Settings, engine: Engine) -> tuple[str, str]:
    """The configured Zendesk subdomain, else the one connected in the console, else
    "default" until one is set."""
    if settings.zendesk_subdomain:
        return "zendesk", settings.zendesk_subdomain
    connected = db.connected_accounts(engine, "zendesk")
    return "zendesk", connected[0] if connected else db.DEFAULT_ACCOUNT


def settled_console_account(settings: Settings, engine: Engine, actor: str) -> tuple[str, str]:
    """console_account(), after carrying over to it what was made under "default" before it was
    set (rules document with its incidents, audit entries) when that overwrites nothing.

    When the account already has rules of its own nothing moves: the console's overview asks the
    admin to choose. In the steady state this is one cheap read (nothing under "default")."""
    helpdesk, account = console_account(settings, engine)
    if account == db.DEFAULT_ACCOUNT or not db.has_default_leftovers(engine, helpdesk):
        return helpdesk, account
    if db.default_leftovers(engine, helpdesk, account).conflict:
        return helpdesk, account  # no write per page while the admin has not chosen
    done = db.carry_over_default(engine, helpdesk, account, actor)
    if done.moved:
        log.info("%s/%s: carried over from %r: rules document %s, %d audit entries", helpdesk, account,
                 db.DEFAULT_ACCOUNT, done.rules_version or "none", done.audit_entries)
    return helpdesk, account


def serves(settings: Settings, engine: Engine, helpdesk: str, account: str) -> bool:
    """Only accounts this deployment works for: the configured subdomain, else those
    connected in the console."""
    if helpdesk != "zendesk":
        return False
    if settings.zendesk_subdomain:
        return account == settings.zendesk_subdomain
    return account in db.connected_accounts(engine, helpdesk)
