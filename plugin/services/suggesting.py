"""What the pipeline knows when it suggests for an account's ticket, gathered in one place so
every path that suggests (the pipeline, the sidebar, the console's "Try a ticket", `amends
draft`) hands core.suggest the same things: the account's classifier (its agents' corrections
included), its effective rules, the letter options, and the requester's previous suggestion
for the repeat-apology memory."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from plugin import db
from plugin.config import Settings
from plugin.core.compose import Options
from plugin.core.rules import Rules
from plugin.core.suggest import DRAFT_MARKER, Suggested, requester_key, suggest
from plugin.models import Previous, Ticket
from plugin.services import learning


def previous_for(engine: Engine, settings: Settings, helpdesk: str, account: str, ticket: Ticket) -> Previous | None:
    """The requester's latest suggestion on another ticket within AMENDS_REPEAT_WINDOW_DAYS (by
    email, else helpdesk user id): a ticket's own earlier suggestion is not a repeat."""
    key = requester_key(ticket)
    if not key:
        return None
    return db.previous_suggestion(engine, helpdesk, account, key,
                                  since=time.time() - settings.repeat_window_days * 86400,
                                  exclude_ticket_id=ticket.id)


@dataclass(frozen=True)
class AccountContext:
    """One account as the pipeline sees it."""

    engine: Engine
    settings: Settings
    helpdesk: str
    account: str
    rules: Rules

    def suggest(self, ticket: Ticket, *, marker: str = DRAFT_MARKER, category: str = "", audience: str = "",
                tone: str = "") -> Suggested:
        classifier = learning.classifier_for(self.engine, self.helpdesk, self.account, self.rules.classifier_phrases())
        previous = previous_for(self.engine, self.settings, self.helpdesk, self.account, ticket)
        return suggest(ticket, self.rules, classifier, marker=marker, options=Options.from_settings(self.settings),
                       previous=previous, category=category, audience=audience, tone=tone)
