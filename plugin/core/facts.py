"""Facts a letter may use, taken only from the ticket: references (order, invoice, PO, booking, ...),
product, amounts with their role, dates; and what the ticket is about (topics.py). Pure.

Anything not found here stays a visible placeholder in the letter; nothing is guessed. References
are quoted as the customer wrote them; an amount gets a role (charged, shown, refund, fee) only when
the words around it say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from plugin.core.topics import Topics, topics_of
from plugin.models import Ticket

# An identifier: letters, digits and inner hyphens, with at least three digits (so "order 12 items"
# or "case 2" are not references), optionally written with a leading "#".
_ID = r"#?(?=(?:[A-Za-z-]*\d){3})[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# Between a keyword and its identifier: "number", "no.", "ref", then "is", ":" or a spaced "#".
_LABEL = r"(?:\s+(?:number|no\.?|num|id|code|ref(?:erence)?))?"
_SEP = r"\s*(?:(?:is|was)\s+)?(?::\s*)?(?:#\s+)?"
# Kinds in the order the main reference is chosen: what was bought or billed before a support case.
REFERENCE_KINDS = ("order", "invoice", "po", "booking", "account", "tracking", "ticket", "case")
_KEYWORDS = {
    "order": r"(?<!purchase )\border", "invoice": r"\binvoice", "po": r"\b(?:purchase\s+order|PO)",
    "booking": r"\b(?:booking|reservation|confirmation)", "account": r"\b(?:account|customer)",
    "tracking": r"\btracking", "ticket": r"\bticket", "case": r"\bcase",
}
KEYWORD_REFERENCES = tuple(
    (kind, re.compile(rf"(?i:{keyword}{_LABEL}){_SEP}(?P<value>{_ID})\b")) for kind, keyword in _KEYWORDS.items()
)
# Identifiers that say their kind themselves; and, last, a bare "#B20931", read as an order as before.
SELF_DESCRIBED_REFERENCES = (
    ("invoice", re.compile(r"\b(?P<value>INV[- ]?\d{3,}[A-Z0-9-]*)\b", re.I)),
    ("po", re.compile(r"\b(?P<value>PO[- #]?\d{3,}[A-Z0-9-]*)\b")),
)
HASH_REFERENCE = ("order", re.compile(rf"(?<![\w#])(?P<value>#\s?{_ID.removeprefix('#?')})\b"))
MONEY = re.compile(
    r"(?:[$€£]\s?\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|[$€£]\s?\d+(?:\.\d{1,2})?"
    r"|\b\d+(?:\.\d{1,2})?\s?(?:USD|EUR|GBP|CAD|AUD|dollars|euros|pounds)\b)",
    re.I,
)
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
          r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_DATE = (rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?"
         rf"|\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTH})\b")
DATE = re.compile(_DATE)
# What a customer writes for a day: the above, "the 21st", "Friday", "next Tuesday".
_ORDINAL_DAY = r"\bthe\s+\d{1,2}(?:st|nd|rd|th)\b(?!\s+(?:century|floor|time|anniversary|birthday))"
_WEEKDAY = r"\b(?:(?:this|next)\s+)?(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b"
CUSTOMER_DATE = re.compile(rf"(?:\bthe\s+)?{_DATE}|{_ORDINAL_DAY}|{_WEEKDAY}")
DEADLINE_BEFORE = re.compile(r"\b(?:by|before|until|till|no later than|in time for|for|due)\s+$", re.I)
PRODUCT = re.compile(
    r"\b(?:ordered|bought|purchased)\s+(?:a|an|the|two|three|some|my|our)\s+"
    r"([A-Za-z][\w'-]*(?: [A-Za-z][\w'-]*){0,4}?)(?=\s+(?:on|from|in|last|and|but|which|that|for|at|with|as|to"
    r"|under|because|yesterday|today|so|via|online|off)\b|[,.;:!?()]|$)",
)
NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")

AMOUNT_ROLES = ("charged", "shown", "refund", "fee")
_FEE = (r"fees?|surcharges?|postage|(?:delivery|shipping|postage|booking|admin|administration|service|late"
        r"|cancellation|express|handling)\s+(?:charges?|costs?)")


def _cues(*pairs: tuple[str, str]) -> tuple[tuple[str, re.Pattern], ...]:
    return tuple((role, re.compile(rf"\b(?:{words})\b", re.I)) for role, words in pairs)


# Words that give an amount its role. Listed most specific first: at equal distance, "delivery
# charge" (fee) wins over "charge" (charged).
ROLE_CUES = _cues(
    ("fee", _FEE), ("refund", r"refund(?:s|ed)?|reimburse(?:d|ment)?|money back"),
    ("shown", r"show(?:s|ed|n|ing)?|advertised|advertising|listed|displayed|quoted|price[ds]?|instead of|rather than"
              r"|expected|on (?:the|your) (?:site|website|app|page)|supposed to (?:be|cost)|should have (?:been|cost)"),
    ("charged", r"charge[ds]?|overcharged|billed|debited|deducted|taken|took|paid|payments?|twice|double"
                r"|cost|costs|spent|bought|purchased|ordered|order"),
)
# The noun right after an amount ("the £7.95 express fee", "my £12 refund") names it before any
# cue in front, within a few words and before the next clause.
AFTER_CUES = _cues(("fee", _FEE), ("refund", r"refunds?|reimbursement|back"), ("shown", r"price"),
                   ("charged", r"charges?|twice|double"))
AFTER_WINDOW = re.compile(r"[^.!?;,\n]{0,25}")
CLAUSE_BREAK = re.compile(r"\b(?:but|and|or|when|while|although|though|yet|so|whereas|instead|rather|I|we|you|they)\b")
SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


@dataclass(frozen=True)
class Reference:
    kind: str  # one of REFERENCE_KINDS
    value: str  # as the customer wrote it: "INV-2291", "#B20931", "LMX204"


@dataclass(frozen=True)
class Amount:
    value: str  # as written: "$84.50", "£12"
    role: str = ""  # one of AMOUNT_ROLES, or "" when the words around it do not say


@dataclass(frozen=True)
class Facts:
    order: str = ""
    product: str = ""
    amounts: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    money: tuple[Amount, ...] = ()
    customer_date: str = ""  # a date or deadline the customer gave: "the 21st", "Friday", "March 3rd"
    customer_deadline: bool = False  # the customer_date came with "by", "before", "until", ...
    topics: Topics = field(default_factory=Topics)  # what the ticket is about: a meal, a flight, ... (topics.py)

    def amount(self, role: str) -> str:
        """The first amount the ticket gives in this role, or ""."""
        return next((a.value for a in self.money if a.role == role), "")

    @property
    def reference(self) -> str:
        """The reference the complaint is about: the first of the most relevant kind."""
        ranked = sorted(self.references, key=lambda r: REFERENCE_KINDS.index(r.kind))
        return ranked[0].value if ranked else ""


DUPLICATE_CHARGE = re.compile(r"\b(?:charged|billed|debited|taken)\s+(?:me\s+)?(?:twice|two times|double)\b|"
                              r"\bdouble[- ](?:charged|billed|charge)\b|\bduplicate (?:charge|payment|transaction)", re.I)


def safe(text: str) -> str:
    """Ticket text shown in a letter must not look like one of our [placeholders]."""
    return text.replace("[", "(").replace("]", ")").strip()


def extract(ticket: Ticket, order_field_id: str = "") -> Facts:
    text = f"{ticket.subject}\n{ticket.description}"
    field_order = dict(ticket.custom_fields).get(str(order_field_id), "") if order_field_id else ""
    references = references_in(text)
    if field_order:  # the helpdesk's own order field is the most reliable reference
        references = (Reference("order", safe(field_order)[:40]), *references)
    product = PRODUCT.search(ticket.description)
    money = amounts_in(text)
    if DUPLICATE_CHARGE.search(text) and not any(a.role == "refund" for a in money):
        # Charged twice: the amount of the extra charge is exactly what is owed back. Any other
        # overcharge ("$1,840 instead of $1,150") leaves the refund to the agent.
        charged = next((a for a in money if a.role == "charged"), None)
        money = money + (Amount(charged.value, "refund"),) if charged else money
    customer_date, deadline = customer_date_in(text)
    return Facts(
        order=order_of(references),
        product=safe(product.group(1))[:60] if product else "",
        amounts=tuple(dict.fromkeys(a.value for a in money)),
        dates=tuple(dict.fromkeys(m.group(0) for m in DATE.finditer(text))),
        references=references, money=money, customer_date=customer_date, customer_deadline=deadline,
        topics=topics_of(text),
    )


def references_in(text: str) -> tuple[Reference, ...]:
    """Every reference in the text, in order of appearance, each once."""
    found: list[tuple[int, int, Reference]] = []
    # Self-describing shapes first ("purchase order PO 3310" is "PO 3310", not "3310"), then
    # keywords ("ticket #4471" is a ticket), then a "#" alone.
    for kind, pattern in (*SELF_DESCRIBED_REFERENCES, *KEYWORD_REFERENCES, HASH_REFERENCE):
        for match in pattern.finditer(text):
            start, end = match.span("value")
            if any(start < e and s < end for s, e, _ in found):
                continue  # the same characters, already read with a more telling keyword
            value = safe(match.group("value"))[:40]
            found.append((start, end, Reference(_kind_by_prefix(value, kind), value)))
    return tuple(dict.fromkeys(ref for _, _, ref in sorted(found, key=lambda f: f[0])))


def _kind_by_prefix(value: str, kind: str) -> str:
    """"order PO-7714" is a purchase order and "order INV-2291" an invoice, whatever the keyword."""
    bare = value.lstrip("#").upper()
    if bare.startswith("INV") and kind in ("order", "po"):
        return "invoice"
    if re.match(r"PO[- #]?\d", bare) and kind == "order":
        return "po"
    return kind


def order_of(references: tuple[Reference, ...]) -> str:
    """The order number for letters that say "order ...": an order reference, else a purchase order
    (written "PO-3310"); without the "#" the customer may have put in front."""
    for kind in ("order", "po"):
        for ref in references:
            if ref.kind == kind:
                return re.sub(r"^#\s?", "", ref.value).replace(" ", "-")
    return ""


def amounts_in(text: str) -> tuple[Amount, ...]:
    """Each amount once (its first role wins), with the role the words around it give."""
    found: dict[str, str] = {}
    for match in MONEY.finditer(text):
        value = match.group(0).strip()
        role = role_of(text, match.start(), match.end())
        if not found.get(value):
            found[value] = role
    return tuple(Amount(value, role) for value, role in found.items())


def role_of(text: str, start: int, end: int) -> str:
    """charged / shown / refund / fee, by the words right after the amount, else the nearest cue
    before it in the same sentence; "" when nothing says."""
    after = AFTER_WINDOW.match(text, end).group(0)
    after = after[:next((m.start() for m in CLAUSE_BREAK.finditer(after)), len(after))]
    hits = [(m.start(), order, role) for order, (role, cue) in enumerate(AFTER_CUES) for m in cue.finditer(after)]
    if hits:
        return min(hits)[2]
    sentence_start = max((m.end() for m in SENTENCE_END.finditer(text, 0, start)), default=0)
    before = text[sentence_start:start]
    hits = [(-m.end(), order, role) for order, (role, cue) in enumerate(ROLE_CUES) for m in cue.finditer(before)]
    return min(hits)[2] if hits else ""


def customer_date_in(text: str) -> tuple[str, bool]:
    """(the date the customer gave, whether it is a deadline): the first deadline ("by Friday",
    "before the 21st"), else the first date."""
    dates = [(m.group(0), bool(DEADLINE_BEFORE.search(text[max(0, m.start() - 20):m.start()])))
             for m in CUSTOMER_DATE.finditer(text)]
    deadline = next((d for d in dates if d[1]), None)
    date, is_deadline = deadline or (dates[0] if dates else ("", False))
    return safe(" ".join(date.split())), is_deadline


def numbers_in(*texts: str) -> set[str]:
    """Every run of digits in the texts, the reference for the linter's invented-number check."""
    found: set[str] = set()
    for text in texts:
        for match in NUMBER.finditer(text or ""):
            token = match.group(0)
            found.add(token)
            found.update(re.findall(r"\d+", token))
    return found
