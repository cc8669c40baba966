"""A skipped ticket in the console: what the classifier reads in it, and whether "Suggest anyway"
can post a letter for it. Nothing is stored at skip time but the code and category, so the
reading is made again, now, from the ticket's stored text, through the same
AccountContext -> core.suggest path as the pipeline (today's rules and classifier; the page says so).
The route that acts on it is in watch.py, beside the other actions on an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plugin import db
from plugin.core.rules import GENERAL_LETTER
from plugin.errors import LetterOverBudget
from plugin.models import Classification, Ticket, TicketEvent
from plugin.services.suggesting import AccountContext
from plugin.web.admin.base import helpdesk_account, runtime


@dataclass(frozen=True)
class Reading:
    """The classifier's reading of a skipped ticket, or why there is none (`problem`)."""

    found: Classification | None = None
    skip_now: str = ""  # the skip reason today's rules give ("" when they would now post a note)
    problem: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)  # (category id, label) to suggest anyway
    default: str = ""  # the best guess among the choices


def removed_after(event: dict) -> int | None:
    """Days after which retention removed the ticket's text, or None while it is there."""
    payload = event["payload"]
    return payload.get("retention_days") if db.is_purged(payload) else None


def posting_problem(event: dict) -> str:
    """Why "Suggest anyway" cannot post for this event now ("" when it can)."""
    helpdesk, account = helpdesk_account()
    if event["status"] != db.SKIPPED:
        return f"ticket #{event['ticket_id']} is {event['status']}, not skipped"
    days = removed_after(event)
    if days is not None:
        return (f"the ticket's text was removed after {days} days (retention), so Amends cannot read it "
                "again; write the reply in Zendesk")
    settings = runtime().settings
    if not (settings.zendesk_can_post or db.get_connection(runtime().engine, helpdesk, account)):
        return ("Zendesk is not connected, so no note can be posted: connect it on the Connect page "
                "(or set AMENDS_ZENDESK_API_TOKEN or AMENDS_ZENDESK_OAUTH_TOKEN)")
    return ""


def category_choices(rules) -> list[tuple[str, str]]:
    """The letters an admin may post: every category's (disabled ones too: choosing is the point)
    and the general letter."""
    return [(c, rules.label(c)) for c in rules.ids()] + [(GENERAL_LETTER, "The general letter")]


def reading_of(event: dict, rules) -> Reading:
    """Classify the skipped ticket's stored text again, as the pipeline would now."""
    choices = category_choices(rules)
    fallback = event.get("skip_category") or ""
    days = removed_after(event)
    if days is not None:
        return Reading(problem=f"The ticket's text was removed after {days} days (retention), so it cannot be "
                               "read again.", choices=choices, default=fallback)
    ticket_event = TicketEvent.from_dict(event["payload"])
    if not (ticket_event.subject or ticket_event.description):
        return Reading(problem="Amends did not keep this ticket's text (the webhook carried only its ids), so "
                               "it cannot be read again here; \"Suggest anyway\" fetches it from Zendesk.",
                       choices=choices, default=fallback)
    helpdesk, account = helpdesk_account()
    context = AccountContext(runtime().engine, runtime().settings, helpdesk, account, rules)
    try:
        result = context.suggest(Ticket.from_event(ticket_event))
    except LetterOverBudget as exc:  # the reading was made; only the letter could not be written
        return Reading(problem=f"Amends could not write the letter for it: {exc.reason}.", choices=choices,
                       default=fallback)
    found = result.found
    known = {c for c, _ in choices}
    best = next((c for c in (found.category, *(c for c, _ in found.candidates), fallback) if c in known), "")
    return Reading(found=found, skip_now=result.reason, choices=choices, default=best)
