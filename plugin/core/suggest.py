"""The one decision from a ticket to what Amends suggests, for every path that makes one: the
pipeline (the note it posts), `amends draft`, the console's "Try a ticket" and the sidebar.

Classify the ticket's text with its tags, apply the account's rules (the category's letter, the
general letter, or nothing and why), then compose the letter and the note, with the repeat
memory the caller looked up for `requester_key(ticket)`. Pure: the caller brings the classifier,
the rules, the letter options and the previous suggestion; nothing here stores or sends."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from plugin.core.asks import extract as extract_asks
from plugin.core.classify import Classifier
from plugin.core.compose import Options, compose
from plugin.core.decision import SkipReason, skip_reason, with_rules
from plugin.core.rules import GENERAL_LETTER, Rules
from plugin.models import GENERAL, SPECIFIC, Ask, Classification, Previous, Suggestion, Ticket

DRAFT_MARKER = "draft"  # the note's reference line where nothing is posted (draft, preview, sidebar)


@dataclass(frozen=True)
class Suggested:
    """The reading acted on, and either the suggestion or why there is none. `found` is the
    classifier's own reading (under the rules), which differs from `classification` when the
    caller chose a category; `chosen` says it did."""

    found: Classification
    classification: Classification
    suggestion: Suggestion | None
    skip: SkipReason | None = None
    chosen: bool = False
    asks_found: tuple[Ask, ...] = ()  # the customer's requests when there is no suggestion to carry them

    @property
    def asks(self) -> tuple[Ask, ...]:
        """The customer's explicit requests, whether or not a letter was written."""
        return self.suggestion.asks if self.suggestion is not None else self.asks_found

    @property
    def reason(self) -> str:
        """The skip reason as a sentence ("" when there is a suggestion)."""
        return self.skip.sentence(self.classification.category) if self.skip else ""


def requester_key(ticket: Ticket) -> str:
    """Who the repeat-apology memory follows: the requester's email (what the helpdesk's events,
    the sidebar and an admin trying a ticket all know), else the helpdesk's user id."""
    email = ticket.requester.email.strip().lower()
    return email or ticket.requester.id


def read(ticket: Ticket, rules: Rules, classifier: Classifier) -> Classification:
    """The classifier's reading of the ticket (text and tags) under the account's thresholds."""
    return with_rules(classifier.classify(ticket.subject, ticket.description, ticket.tags), rules)


def suggest(ticket: Ticket, rules: Rules, classifier: Classifier, *, marker: str = DRAFT_MARKER,
            options: Options = Options(), previous: Previous | None = None, category: str = "",
            audience: str = "", tone: str = "", template_source: str | None = None,
            now: datetime | None = None, found: Classification | None = None) -> Suggested:
    """What Amends suggests for this ticket. `category` is one an agent or admin chose (written
    even when its rule is off; `general` asks for the general letter); `found` a reading the
    caller already made with `read`."""
    found = found or read(ticket, rules, classifier)
    chosen = False
    if category == GENERAL_LETTER:
        reading = (replace(found, decision=GENERAL) if found.category != "other" else
                   Classification(found.runner_up or "other", 0.0, decision=GENERAL, candidates=found.candidates))
    elif category and (category != found.category or found.decision != SPECIFIC):
        same = category == found.category
        reading = Classification(category, 1.0, runner_up=found.runner_up if same else found.category,
                                 evidence=found.evidence if same else ())
        chosen = True
    else:
        reading = found
    skip = skip_reason(reading, rules) if not category or category == "other" else None
    if skip:
        return Suggested(found, reading, None, skip, chosen, extract_asks(ticket.subject, ticket.description))
    suggestion = compose(ticket, reading, marker, rules=rules, options=options, previous=previous, now=now,
                         audience=audience or None, tone=tone or None, template_source=template_source)
    return Suggested(found, reading, suggestion, None, chosen)
