"""What `amends draft` does, apart from argument parsing: a Zendesk ticket file to the note the
pipeline would post for it, as the `--json` object. With the configured database in place it
drafts as the pipeline does for the console's account: its stored rules, its agents'
corrections, the requester's previous suggestion; without one, from the rules file alone. The
console's live preview of a letter uses `draft_ticket`, so what the admin sees is what gets posted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from plugin import db
from plugin.config import Settings, sqlite_path
from plugin.connectors.zendesk import ticket_from_show_response
from plugin.core.classify import Classifier, default_classifier
from plugin.core.compose import Options
from plugin.core.rules import Rules
from plugin.core.rules_layer import load_rules
from plugin.core.suggest import DRAFT_MARKER, Suggested, suggest
from plugin.models import Ask, Ticket
from plugin.services.accounts import console_account
from plugin.services.rulebook import Rulebooks
from plugin.services.suggesting import AccountContext


def draft(data: dict[str, Any], settings: Settings, category: str | None = None,
          audience: str | None = None) -> dict[str, Any]:
    """The `--json` object of `amends draft` for a Zendesk show-ticket response."""
    ticket = ticket_from_show_response(data)
    context = account_context(settings)
    if context is None:
        return draft_ticket(ticket, load_rules(settings.rules_file), Options.from_settings(settings),
                            category=category, audience=audience)
    return as_draft(context.suggest(ticket, category=category or "", audience=audience or ""))


def account_context(settings: Settings) -> AccountContext | None:
    """The console's account as the pipeline sees it, from the configured database; None when
    that database does not exist yet (a file not created, no migrations run) or cannot be reached."""
    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        return None  # do not create an empty database just to draft
    engine = db.make_engine(settings.database_url)
    try:
        if db.current_revision(engine) is None:
            return None
        helpdesk, account = console_account(settings, engine)
        rules = Rulebooks(engine, load_rules(settings.rules_file)).rules_for(helpdesk, account)
    except SQLAlchemyError:
        return None
    return AccountContext(engine, settings, helpdesk, account, rules)


def classifier_for_rules(rules: Rules, base: Classifier | None = None) -> Classifier:
    """The classifier with the rules' extra phrases and custom categories in its phrase layer."""
    return (base or default_classifier()).with_phrases(rules.classifier_phrases())


def draft_ticket(ticket: Ticket, rules: Rules, options: Options, category: str | None = None,
                 audience: str | None = None, template_source: str | None = None,
                 classifier: Classifier | None = None) -> dict[str, Any]:
    """One ticket to the draft's fields; `template_source` previews an unsaved letter."""
    return as_draft(suggest(ticket, rules, classifier or classifier_for_rules(rules), marker=DRAFT_MARKER,
                            options=options, category=category or "", audience=audience or "",
                            template_source=template_source))


def as_draft(result: Suggested) -> dict[str, Any]:
    c, s = result.classification, result.suggestion
    if s is None:
        note = (f"Amends suggestion: {c.category} (confidence {c.confidence:.2f})\n"
                f"No note: {result.reason}.")
        return {"category": c.category, "confidence": c.confidence, "subject": "", "letter": "", "to_fill": [],
                "compensation": "", "lint": [], "note": note, "asks": asks_json(result.asks)}
    return {
        "category": c.category,
        "confidence": c.confidence,
        "subject": s.subject,
        "letter": s.letter,
        "to_fill": list(s.to_fill),
        "compensation": s.compensation,
        "lint": [f.to_dict() for f in s.lint],
        "note": s.note,
        "asks": asks_json(s.asks),
    }


def asks_json(asks: tuple[Ask, ...]) -> list[dict[str, str]]:
    """The customer's explicit requests as the draft's `asks`: kind and their exact words."""
    return [{"kind": a.kind, "text": a.text} for a in asks]


def load_ticket_file(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
