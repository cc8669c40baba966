"""What `amends draft` does, apart from argument parsing: a Zendesk ticket file to the
suggestion the pipeline would post for it (core.suggest), as the `--json` object. The console's
live preview of a letter uses `draft_ticket` too, so what the admin sees is what gets posted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plugin.connectors.zendesk import ticket_from_show_response
from plugin.core.classify import Classifier, default_classifier
from plugin.core.compose import Options
from plugin.core.rules import Rules
from plugin.core.suggest import DRAFT_MARKER, suggest
from plugin.models import Ticket


def draft(data: dict[str, Any], rules: Rules, options: Options, category: str | None = None,
          audience: str | None = None) -> dict[str, Any]:
    """The `--json` object of `amends draft` for a Zendesk show-ticket response."""
    return draft_ticket(ticket_from_show_response(data), rules, options, category=category, audience=audience)


def classifier_for_rules(rules: Rules, base: Classifier | None = None) -> Classifier:
    """The classifier with the rules' extra phrases and custom categories in its phrase layer."""
    return (base or default_classifier()).with_phrases(rules.classifier_phrases())


def draft_ticket(ticket: Ticket, rules: Rules, options: Options, category: str | None = None,
                 audience: str | None = None, template_source: str | None = None,
                 classifier: Classifier | None = None) -> dict[str, Any]:
    """One ticket to the draft's fields; `template_source` previews an unsaved letter."""
    result = suggest(ticket, rules, classifier or classifier_for_rules(rules), marker=DRAFT_MARKER,
                     options=options, category=category or "", audience=audience or "",
                     template_source=template_source)
    c, s = result.classification, result.suggestion
    if s is None:
        note = (f"Amends suggestion: {c.category} (confidence {c.confidence:.2f})\n"
                f"No note: {result.reason}.")
        return {"category": c.category, "confidence": c.confidence, "subject": "", "letter": "", "to_fill": [],
                "compensation": "", "lint": [], "note": note}
    return {
        "category": c.category,
        "confidence": c.confidence,
        "subject": s.subject,
        "letter": s.letter,
        "to_fill": list(s.to_fill),
        "compensation": s.compensation,
        "lint": [f.to_dict() for f in s.lint],
        "note": s.note,
    }


def load_ticket_file(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
