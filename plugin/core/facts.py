"""Facts a letter may use, taken only from the ticket: order number, product, amounts, dates. Pure.

Anything not found here stays a visible placeholder in the letter; nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plugin.models import Ticket

_REF = r"[A-Z]{0,4}-?\d{3,}[A-Z0-9-]*"
ORDER_PATTERNS = (
    re.compile(rf"\border\s*(?:number|no\.?|num|id|ref(?:erence)?)?\s*[:#]?\s*#?\s*({_REF})\b", re.I),
    re.compile(r"\b(PO[- ]?\d{3,})\b", re.I),
    re.compile(rf"#\s?({_REF})\b"),
)
MONEY = re.compile(
    r"(?:[$€£]\s?\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|[$€£]\s?\d+(?:\.\d{1,2})?"
    r"|\b\d+(?:\.\d{1,2})?\s?(?:USD|EUR|GBP|CAD|AUD|dollars|euros|pounds)\b)",
    re.I,
)
_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTH})\b",
)
PRODUCT = re.compile(
    r"\b(?:ordered|bought|purchased)\s+(?:a|an|the|two|three|some|my|our)\s+"
    r"([A-Za-z][\w'-]*(?: [A-Za-z][\w'-]*){0,4}?)(?=\s+(?:on|from|in|last|and|but|which|that|for|at|with|as|to|under|because|yesterday|today|so|via|online|off)\b|[,.;:!?()]|$)",
)
NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")


@dataclass(frozen=True)
class Facts:
    order: str = ""
    product: str = ""
    amounts: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()


def safe(text: str) -> str:
    """Ticket text shown in a letter must not look like one of our [placeholders]."""
    return text.replace("[", "(").replace("]", ")").strip()


def extract(ticket: Ticket, order_field_id: str = "") -> Facts:
    text = f"{ticket.subject}\n{ticket.description}"
    order = ""
    if order_field_id:
        order = dict(ticket.custom_fields).get(str(order_field_id), "")
    if not order:
        for pattern in ORDER_PATTERNS:
            match = pattern.search(text)
            if match:
                order = match.group(1).replace(" ", "-")
                break
    product = PRODUCT.search(ticket.description)
    return Facts(
        order=safe(order)[:40],
        product=safe(product.group(1))[:60] if product else "",
        amounts=tuple(dict.fromkeys(m.group(0).strip() for m in MONEY.finditer(text))),
        dates=tuple(dict.fromkeys(m.group(0) for m in DATE.finditer(text))),
    )


def numbers_in(*texts: str) -> set[str]:
    """Every run of digits in the texts, the reference for the linter's invented-number check."""
    found: set[str] = set()
    for text in texts:
        for match in NUMBER.finditer(text or ""):
            token = match.group(0)
            found.add(token)
            found.update(re.findall(r"\d+", token))
    return found
