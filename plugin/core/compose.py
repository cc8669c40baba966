"""Render the letter and the note: sandboxed Jinja2, visible placeholders, never invented facts.

Ticket text is data passed into the template, never template source, so a
customer writing `{{ config }}` gets those characters back verbatim. Letters live
in templates/apologies/<locale>/<category>.<audience>.txt.j2 (see the README there
for the variables each letter gets). A letter the admin changed in the console travels
in the rules (`CategoryRule.template`) and is rendered instead, in the same sandbox and
with the same loader, so `{% extends "_base.txt.j2" %}` (or the full
"apologies/en/_base.txt.j2") keeps working. A custom category without its own letter
gets the generic `_custom.<audience>.txt.j2`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, Template

from plugin.core import asks as asks_mod
from plugin.core import compensation as comp
from plugin.core import facts as facts_mod
from plugin.core.lint import Finding, lint
from plugin.core.paths import TEMPLATES_DIR
from plugin.core.rules import GENERAL_LETTER, Rules, default_rules, is_custom
from plugin.core.sandbox import LetterSandbox, render
from plugin.core.topics import Topics
from plugin.errors import LetterOverBudget
from plugin.models import AUDIENCES, GENERAL, Ask, Classification, Previous, Suggestion, Ticket

PLACEHOLDER_RE = re.compile(r"\[[a-z][a-z' -]*\]")
DIVIDER = "-" * 40
# How a second complaint in the same ticket is named in the letter ("You also mentioned ...").
ALSO = {
    "delivery_delay": "that your order is late", "wrong_item": "receiving the wrong item",
    "out_of_stock": "the item that is now unavailable", "damaged_item": "the damage to your item",
    "product_defect": "the fault with the product", "website_issue": "the problem with our website",
    "pricing_error": "the price you were charged", "billing_error": "the error on your bill",
    "refund_delay": "the refund you are still waiting for", "order_cancelled": "the cancellation",
    "slow_response": "how long you waited for a reply", "poor_support": "how our support team treated you",
    "missed_deadline": "the missed deadline", "miscommunication": "the misunderstanding about what was agreed",
    "service_quality": "the quality of the work", "contract_issue": "the question about your agreement",
    "security_incident": "your concern about the security of your account",
}
LOCALE = "en"


@dataclass(frozen=True)
class Options:
    company_name: str = ""
    sign_off: str = ""
    order_field_id: str = ""

    @classmethod
    def from_settings(cls, settings) -> "Options":
        """The letter options an admin sets in AMENDS_COMPANY_NAME, AMENDS_SIGN_OFF, AMENDS_ORDER_FIELD_ID."""
        return cls(settings.company_name, settings.sign_off, settings.order_field_id)


@lru_cache(maxsize=1)
def environment() -> LetterSandbox:
    """The sandbox every letter renders in, with a budget on each render (plugin/core/sandbox.py)."""
    return LetterSandbox(
        # Full names ("apologies/en/x.txt.j2") and, for letters written in the console,
        # names relative to the locale's folder ("_base.txt.j2").
        loader=ChoiceLoader([FileSystemLoader(str(TEMPLATES_DIR)),
                             FileSystemLoader(str(TEMPLATES_DIR / "apologies" / LOCALE))]),
        undefined=StrictUndefined,
        autoescape=False,  # plain-text letters; HTML pages use their own autoescaping environment
        trim_blocks=True,
        lstrip_blocks=True,
    )


def template_name(category: str, audience: str, locale: str = LOCALE) -> str:
    """The shipped letter's name; custom categories share the generic one."""
    name = category if category == GENERAL_LETTER or not is_custom(category) else "_custom"
    return f"apologies/{locale}/{name}.{audience}.txt.j2"


def shipped_source(category: str, audience: str) -> str:
    return (TEMPLATES_DIR / template_name(category, audience)).read_text(encoding="utf-8")


@lru_cache(maxsize=256)
def compiled(source: str) -> Template:
    """Letters from the rules compile once per source text, not once per ticket."""
    return environment().from_string(source)


def letter_template(rules: Rules, category: str, audience: str) -> Template:
    """The admin's letter when the rules carry one, else the shipped file."""
    source = rules.rule(category).source(audience)
    return compiled(source) if source is not None else environment().get_template(template_name(category, audience))


def audience_for(ticket: Ticket, configured: str) -> str:
    """The rule decides; 'auto' reads a requester with an organization as a business client."""
    if configured in AUDIENCES:
        return configured
    return "client" if ticket.organization else "customer"


def kinds_of_order(topics: Topics) -> tuple[str, ...]:
    """What the ticket is about beyond goods, in the order the letters and the compensation ladders
    (compensation.LADDERS) prefer them: a meal, luggage, a flight, a service outage, software. A meal
    comes first: a food app's review names the app."""
    return tuple(kind for kind in comp.LADDERS if getattr(topics, kind))


def ticket_facts(found: facts_mod.Facts) -> dict:
    """What the ticket says, for letters: references quoted as written, amounts by their role, the
    customer's date; "" / [] when it does not say. Values are already safe (no [brackets])."""
    return {
        "references": [{"kind": r.kind, "value": r.value} for r in found.references],
        "reference": found.reference,
        **{f"amount_{role}": found.amount(role) for role in facts_mod.AMOUNT_ROLES},
        "customer_date": found.customer_date,
        # What the ticket is about (topics.py): the letters fit a meal, a flight, an outage, software.
        **asdict(found.topics),
    }


def compose(ticket: Ticket, classification: Classification, marker: str, *, rules: Rules | None = None,
            options: Options = Options(), now: datetime | None = None, previous: Previous | None = None,
            audience: str | None = None, tone: str | None = None, no_fault: bool | None = None,
            template_source: str | None = None) -> Suggestion:
    """The suggestion for one ticket. `template_source` renders an unsaved template instead
    of the rule's (the admin preview, `amends lint PATH`)."""
    rules = rules or default_rules()
    now = now or datetime.now(timezone.utc)
    general = classification.decision == GENERAL or classification.category == GENERAL_LETTER
    category = GENERAL_LETTER if general else classification.category
    rule = rules.rule(category)
    audience = audience or audience_for(ticket, rule.audience)
    tone = tone or rule.tone
    no_fault = rule.no_fault if no_fault is None else no_fault
    repeat = previous is not None
    found = facts_mod.extract(ticket, options.order_field_id)
    offer = None if general else comp.suggest(category, rule.compensation, repeat=repeat,
                                                 kinds=kinds_of_order(found.topics))
    incident = None if general else rules.incident(category, now)
    asks = asks_mod.extract(ticket.subject, ticket.description)
    answered = asks_mod.for_letter(asks, rules.commitment)

    formal = tone == "formal"
    context = {
        "first_name": facts_mod.safe(ticket.requester.first_name) or "[customer name]",
        "full_name": facts_mod.safe(ticket.requester.name) or "[customer name]",
        "company": options.company_name or "[company name]",
        "agent": facts_mod.safe(ticket.assignee.name) or "[your name]",
        "sign_off": options.sign_off or ("Yours sincerely" if formal else "Kind regards"),
        "formal": formal, "tone": tone, "client": audience == "client", "audience": audience,
        "no_fault": no_fault, "repeat": repeat,
        "order": found.order or "[order number]", "has_order": bool(found.order),
        "product": found.product or "[product]", "has_product": bool(found.product),
        "amount": found.amounts[0] if found.amounts else "[amount]", "has_amount": bool(found.amounts),
        "date_given": found.dates[0] if found.dates else "[date]", "has_date": bool(found.dates),
        # Issue 13 (filled in by facts.py and asks.py): references quoted exactly, amounts by their
        # role, the date the customer gave, and the customer's asks with their answers. "" / [] when
        # the ticket does not say.
        **ticket_facts(found),
        "asks": answered,
        # Someone else, not the writer, was asked for: no letter may answer "stay with me".
        "escalation_asked": any(ask.kind == "escalate" for ask in asks),
        # Admin-given facts get a lead-in, so every letter keeps its seven parts whatever the wording.
        "explanation": f"What happened: {incident.cause}" if incident else "",
        "remedy": (incident.remedy if incident and incident.remedy else rule.remedy),
        "prevention": f"What we are changing: {rule.prevention}" if rule.prevention else "",
        "compensation": comp.letter_sentence(offer, formal) if offer and offer.in_letter else "",
        "also": ALSO.get(classification.secondary, "") if classification.secondary != category and not general else "",
        "label": rules.label(category),
    }
    template = (compiled(template_source) if template_source is not None
                else letter_template(rules, category, audience))
    try:
        subject, letter = render_letter(template, context)
    except LetterOverBudget as exc:  # the event's reason names the letter
        raise exc.for_letter(f"{category}.{audience}") if template_source is None else exc
    to_fill = tuple(dict.fromkeys(PLACEHOLDER_RE.findall(subject + "\n" + letter)))
    # The admin's own words: a claim, promise or compensation in them is the admin's to make.
    given = tuple(text for text in (rule.remedy, rule.prevention, incident.cause if incident else "",
                                    incident.remedy if incident else "", offer.text if offer else "",
                                    *(a["answer"] for a in answered if a["committed"])) if text)
    findings = lint(letter, subject=subject, to_fill=to_fill, given=given,
                    ticket_text=f"{ticket.subject}\n{ticket.description}",
                    allowed_numbers=facts_mod.numbers_in(ticket.subject, ticket.description, " ".join(given),
                                                         context["order"], *(r.value for r in found.references)))
    tags = ("amends_suggested", f"amends_{category}", *rule.tags)
    note = render_note(classification, subject, letter, to_fill, marker, offer=offer, findings=findings,
                       previous=previous, audience=audience, tone=tone, incident=bool(incident),
                       optional_prevention=not (context["prevention"] or incident or previous), asks=asks)
    return Suggestion(classification=classification, subject=subject, letter=letter, note=note,
                      tags=tuple(dict.fromkeys(tags)), to_fill=to_fill,
                      compensation=offer.text if offer else "", lint=tuple(findings),
                      audience=audience, tone=tone, asks=asks)


def render_letter(template, context: dict) -> tuple[str, str]:
    """(subject, letter). The template's first line is 'Subject: ...'. Over its budget (time,
    work, size), LetterOverBudget: a PermanentError, so the event fails with the reason."""
    text = render(template, context)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    first, _, rest = text.partition("\n")
    subject = first.removeprefix("Subject:").strip()
    return subject, rest.strip()


def render_note(c: Classification, subject: str, letter: str, to_fill: tuple[str, ...], marker: str, *,
                offer: comp.Offer | None = None, findings: list[Finding] | tuple = (),
                previous: Previous | None = None, audience: str = "", tone: str = "",
                incident: bool = False, optional_prevention: bool = False, asks: tuple[Ask, ...] = ()) -> str:
    """`optional_prevention`: the letter has no prevention line (no rule fact, incident or repeat),
    so the agent is offered one to add when they know what is changing. `asks`: the customer's
    requests, listed near the top with their exact words (the letter answers each)."""
    if c.decision == GENERAL:
        complaint = f"complaint confidence {c.complaint:.2f}; " if c.complaint is not None else ""
        lines = [f"Amends suggestion: general letter (a complaint, but the category is unclear; {complaint}"
                 f"best guess {c.category} {c.confidence:.2f})",
                 "Likely categories: " + ", ".join(f"{name} {score:.2f}" for name, score in c.candidates or
                                                   ((c.category, c.confidence),))
                 + " (switch to one in the Amends sidebar for its letter)"]
    else:
        lines = [f"Amends suggestion: {c.category} (confidence {c.confidence:.2f})"]
        if c.runner_up:
            lines.append(f"Runner-up: {c.runner_up}")
    if c.secondary:
        lines.append(f"Also complains about: {c.secondary} (address it in the letter too)")
    if asks:
        lines.append(asks_mod.note_line(asks))
    if c.evidence:
        lines.append("Decided by: " + ", ".join(f'"{e}"' for e in c.evidence))
    if audience:
        lines.append(f"Letter: {audience}, {tone}" + (", incident in effect" if incident else ""))
    if previous:
        lines.append(f"Repeat: this requester got an apology suggestion on {previous.created_at:%Y-%m-%d} "
                     f"(ticket #{previous.ticket_id}, {previous.category}); remedy stepped up, "
                     "no promise that it will not happen again")
    if offer:
        where = "in the letter" if offer.in_letter else "not in the letter"
        lines.append(f"Compensation to consider: {offer.text} ({where})")
    lines.append("To fill before sending: " + (", ".join(to_fill) if to_fill else "nothing"))
    if optional_prevention:
        lines.append("Optional: say what you are changing so it does not happen again (only if it is true)")
    lines.append("Lint: " + ("ok" if not findings else "; ".join(f.message for f in findings)))
    lines += [DIVIDER, f"Subject: {subject}", "", letter, DIVIDER, f"amends-ref: {marker}"]
    return "\n".join(lines)
