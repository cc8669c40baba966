"""Plain data shared by every part: TicketEvent, Ticket, Classification, Suggestion. No I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

# The closed sets every part shares; a new value is added here, and only here.
Audience = Literal["customer", "client"]
Tone = Literal["warm", "formal"]
FeedbackKind = Literal["correction", "thumbs_up", "thumbs_down", "insert"]
# What a customer may explicitly ask for in a ticket (plugin/core/asks.py finds them).
AskKind = Literal["refund", "replacement", "cancel_order", "expedite", "lock_account", "callback", "escalate",
                  "deadline", "compensation", "explanation"]
AUDIENCES: tuple[Audience, ...] = get_args(Audience)
TONES: tuple[Tone, ...] = get_args(Tone)
FEEDBACK_KINDS: tuple[FeedbackKind, ...] = get_args(FeedbackKind)
ASK_KINDS: tuple[AskKind, ...] = get_args(AskKind)


@dataclass(frozen=True)
class Person:
    id: str = ""
    name: str = ""
    email: str = ""
    locale: str = ""

    @property
    def first_name(self) -> str:
        parts = self.name.split()
        return parts[0] if parts else ""


@dataclass(frozen=True)
class TicketEvent:
    """One webhook delivery, parsed; what the queue carries (as its database row)."""

    helpdesk: str
    account: str
    ticket_id: str
    kind: str  # e.g. "ticket.created"
    delivery_keys: tuple[str, ...] = ()
    occurred_at: str = ""
    subject: str = ""
    description: str = ""
    requester: Person = field(default_factory=Person)
    organization: str = ""
    tags: tuple[str, ...] = ()
    channel: str = ""
    custom_fields: tuple[tuple[str, str], ...] = ()

    @property
    def is_thin(self) -> bool:
        """Event subscriptions carry ids, not names: the worker must fetch the rest."""
        return not (self.requester.name and self.description)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TicketEvent":
        # Only our fields: a payload purged by retention (plugin/db/retention.py) carries its own marker.
        data = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        data["requester"] = Person(**data.get("requester") or {})
        data["delivery_keys"] = tuple(data.get("delivery_keys") or ())
        data["tags"] = tuple(data.get("tags") or ())
        data["custom_fields"] = tuple(tuple(pair) for pair in data.get("custom_fields") or ())
        return cls(**data)


@dataclass(frozen=True)
class Ticket:
    """Everything the letter may use, from the event and, when thin, the helpdesk API."""

    id: str
    subject: str
    description: str
    requester: Person
    organization: str = ""
    tags: tuple[str, ...] = ()
    channel: str = ""
    custom_fields: tuple[tuple[str, str], ...] = ()
    assignee: Person = field(default_factory=Person)

    @classmethod
    def from_event(cls, event: TicketEvent) -> "Ticket":
        return cls(
            id=event.ticket_id,
            subject=event.subject,
            description=event.description,
            requester=event.requester,
            organization=event.organization,
            tags=event.tags,
            channel=event.channel,
            custom_fields=event.custom_fields,
        )


SPECIFIC, GENERAL, NONE = "specific", "general", "none"
DECISIONS = (SPECIFIC, GENERAL, NONE)


@dataclass(frozen=True)
class Classification:
    """`category` is the best guess (`other` when not a complaint); `decision` says what to post:
    the category's letter (specific), the general letter for a complaint whose category is unclear
    (general), or nothing (none). `complaint` is the calibrated probability that the message is a
    complaint calling for an apology; `candidates` the best complaint categories with their
    calibrated probability given that it is one, best first (up to 3)."""

    category: str
    confidence: float
    runner_up: str = ""
    evidence: tuple[str, ...] = ()
    margin: float = 0.0
    secondary: str = ""  # a second complaint in the same ticket, when clear
    decision: str = ""  # empty: derived from the category (other -> none, else specific)
    candidates: tuple[tuple[str, float], ...] = ()
    complaint: float | None = None
    disputed: bool = False  # the second opinion picked another category, so the candidates' scores were lowered

    def __post_init__(self) -> None:
        if not self.decision:
            object.__setattr__(self, "decision", NONE if self.category == "other" else SPECIFIC)
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, not {self.decision!r}")


@dataclass(frozen=True)
class Ask:
    """One explicit request in a ticket: its kind and the customer's own short words for it."""

    kind: AskKind
    text: str


@dataclass(frozen=True)
class Suggestion:
    """What gets posted: the note body and the tags to add."""

    classification: Classification
    subject: str
    letter: str
    note: str
    tags: tuple[str, ...]
    to_fill: tuple[str, ...] = ()
    compensation: str = ""
    lint: tuple = ()  # plugin.core.lint.Finding
    audience: Audience | Literal[""] = ""
    tone: Tone | Literal[""] = ""
    asks: tuple[Ask, ...] = ()  # the customer's explicit requests, in the order they came


@dataclass(frozen=True)
class Previous:
    """An apology suggestion (its ticket, when, which category) the same requester got recently."""

    ticket_id: str
    created_at: datetime
    category: str


@dataclass(frozen=True)
class CommentEvent:
    """One comment added to a ticket, as the helpdesk's event reports it. Plain data, no I/O."""

    helpdesk: str
    account: str
    ticket_id: str
    comment_id: str
    body: str
    public: bool
    author_id: str
    author_is_staff: bool | None = None  # None: the payload did not say
    requester_id: str = ""
    occurred_at: str = ""
    delivery_keys: tuple[str, ...] = ()
