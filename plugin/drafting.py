"""What `amends draft` and `amends lint` do, apart from argument parsing: one ticket file to a
suggestion, and every shipped (or given) template rendered in all its variants and linted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import product
from pathlib import Path
from typing import Any

from plugin.classify import classify
from plugin.compose import TEMPLATES_DIR, Options, Previous, compose
from plugin.connectors.zendesk import ticket_from_show_response
from plugin.lint import Finding, lint
from plugin.models import Classification, Person, Ticket
from plugin.rules import CATEGORIES, Rules

DRAFT_MARKER = "draft"


def draft(data: dict[str, Any], rules: Rules, options: Options, category: str | None = None,
          audience: str | None = None) -> dict[str, Any]:
    """The `--json` object of `amends draft` for a Zendesk show-ticket response."""
    ticket = ticket_from_show_response(data)
    if category:
        found = classify(ticket.subject, ticket.description)
        evidence = found.evidence if found.category == category else ()
        classification = Classification(category, 1.0, found.runner_up if found.category == category else
                                        found.category, evidence)
    else:
        classification = classify(ticket.subject, ticket.description)
    if classification.category == "other":
        note = (f"Amends suggestion: other (confidence {classification.confidence:.2f})\n"
                "No apology suggested: this does not read as a complaint.")
        return {"category": "other", "confidence": classification.confidence, "subject": "", "letter": "",
                "to_fill": [], "compensation": "", "lint": [], "note": note}
    s = compose(ticket, classification, DRAFT_MARKER, rules=rules, options=options, audience=audience)
    return {
        "category": classification.category,
        "confidence": classification.confidence,
        "subject": s.subject,
        "letter": s.letter,
        "to_fill": list(s.to_fill),
        "compensation": s.compensation,
        "lint": [f.to_dict() for f in s.lint],
        "note": s.note,
    }


# --- linting templates in every variant -------------------------------------------

SAMPLE_TICKETS = (
    Ticket(id="1", subject="A problem with my order", description="Please help me with this.",
           requester=Person(id="1", name="Alex Morgan")),
    Ticket(id="2", subject="Order #A1234 from the 3rd of March",
           description="I ordered a blue kettle on March 3rd and paid $45.50 for it.",
           requester=Person(id="2", name="Jordan Lee"), organization="Lee & Partners",
           assignee=Person(name="Sam Rivera")),
)


@dataclass(frozen=True)
class Checked:
    where: str
    words: int
    findings: tuple[Finding, ...]


def lint_template(path: Path, rules: Rules) -> list[Checked]:
    """Render one template in each tone, fault wording, repeat state and sample ticket; lint each."""
    source = path.read_text()
    category, audience = _category_and_audience(path)
    previous = Previous("1", datetime(2026, 1, 1, tzinfo=timezone.utc), category)
    results = []
    for ticket, tone, no_fault, repeat in product(SAMPLE_TICKETS, ("warm", "formal"), (False, True),
                                                  (False, True)):
        s = compose(ticket, Classification(category, 1.0), "lint", rules=rules, options=Options(),
                    audience=audience, tone=tone, no_fault=no_fault, previous=previous if repeat else None,
                    template_source=source)
        variant = f"{tone}{', no-fault' if no_fault else ''}{', repeat' if repeat else ''}, ticket {ticket.id}"
        results.append(Checked(f"{path} [{variant}]", len(s.letter.split()), s.lint))
    return results


def lint_letter_file(path: Path) -> Checked:
    """A plain letter (e.g. an edited draft): 'Subject: ...' on its first line, then the letter."""
    text = path.read_text()
    first, _, rest = text.partition("\n")
    subject = first.removeprefix("Subject:").strip() if first.startswith("Subject:") else None
    letter = rest.strip() if subject is not None else text.strip()
    return Checked(str(path), len(letter.split()), tuple(lint(letter, subject=subject)))


def shipped_templates() -> list[Path]:
    return sorted(p for p in (TEMPLATES_DIR / "apologies" / "en").glob("*.txt.j2") if not p.name.startswith("_"))


def _category_and_audience(path: Path) -> tuple[str, str]:
    parts = path.name.split(".")
    category = parts[0] if parts[0] in CATEGORIES else "delivery_delay"
    audience = parts[1] if len(parts) > 1 and parts[1] in ("customer", "client") else "customer"
    return category, audience


def load_ticket_file(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
