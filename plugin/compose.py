"""Render the letter and the note: sandboxed Jinja2, visible placeholders, never invented facts.

Ticket text is data passed into the template, never template source, so a
customer writing `{{ config }}` gets those characters back verbatim.
Interim letter for the spine; issue #3 brings the per-category library.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from plugin.models import Classification, Suggestion, Ticket

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
PLACEHOLDER_RE = re.compile(r"\[[a-z][a-z ]*\]")
DIVIDER = "-" * 40

LABELS = {
    "delivery_delay": "your late delivery",
    "wrong_item": "receiving the wrong item",
    "out_of_stock": "the item that turned out to be unavailable",
    "damaged_item": "the item that arrived damaged",
    "product_defect": "the product that is not working as it should",
    "website_issue": "the problem you hit on our website",
    "pricing_error": "the price you were charged",
    "billing_error": "the error on your bill",
    "refund_delay": "your refund that has not arrived",
    "order_cancelled": "the cancellation of your order",
    "slow_response": "how long you waited for a reply",
    "poor_support": "the support you received",
    "missed_deadline": "the deadline we missed",
    "miscommunication": "the misunderstanding about your project",
    "service_quality": "the quality of the work we delivered",
    "contract_issue": "the problem with your agreement",
    "security_incident": "the security concern you raised",
    "other": "your message",
}


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=StrictUndefined,
        autoescape=False,  # plain-text letters; HTML pages use their own autoescaping env
        keep_trailing_newline=False,
    )


def compose(ticket: Ticket, classification: Classification, marker: str) -> Suggestion:
    first_name = ticket.requester.first_name or "[customer name]"
    context = {
        "first_name": first_name,
        "issue": LABELS.get(classification.category, LABELS["other"]),
        "remedy": "[remedy]",
        "agent_name": ticket.assignee.name or "[your name]",
        "company_name": "[company name]",
    }
    letter = environment().get_template("apologies/en/interim.txt.j2").render(**context).strip()
    subject = f"About {context['issue']}"
    to_fill = tuple(dict.fromkeys(PLACEHOLDER_RE.findall(letter)))
    tags = ("amends_suggested", f"amends_{classification.category}")
    note = render_note(classification, subject, letter, to_fill, marker)
    return Suggestion(classification=classification, subject=subject, letter=letter, note=note,
                      tags=tags, to_fill=to_fill)


def render_note(c: Classification, subject: str, letter: str, to_fill: tuple[str, ...], marker: str) -> str:
    lines = [f"Amends suggestion: {c.category} (confidence {c.confidence:.2f})"]
    if c.runner_up:
        lines.append(f"Runner-up: {c.runner_up}")
    if c.evidence:
        lines.append("Decided by: " + ", ".join(f'"{e}"' for e in c.evidence))
    lines.append("To fill before sending: " + (", ".join(to_fill) if to_fill else "nothing"))
    lines += [DIVIDER, f"Subject: {subject}", "", letter, DIVIDER, f"amends-ref: {marker}"]
    return "\n".join(lines)
