"""Outcomes: how much of our letter the agent's first public reply kept (issue 6, "Outcome").

Zendesk sends `zen:event-type:ticket.comment_added` for every comment; the connector parses
it into a CommentEvent and the webhook view calls `record()` in the request itself, because
it is one indexed read and one insert (no helpdesk call, nothing worth a queue round trip).

What counts: the first public comment by an agent (not the requester, not an end user CC'd
in, `is_staff` not false) on a ticket whose Amends note was posted, written after that note.
Private comments (our own note among them) never count. One outcome per ticket: a
redelivery of the same comment is a duplicate, a later reply is ignored.

The measure: `kept_ratio(letter, reply)` is difflib.SequenceMatcher's ratio over *words*
(text split on any whitespace, so line breaks and spacing never count as edits; autojunk off,
so frequent words are compared too): 2·M / T, M = words in matching blocks, T = words in both
texts. 1.0 = the reply is our letter word for word; 0.0 = nothing in common. Words rather than
characters because agents edit by words (a filled placeholder, a sentence cut) and it keeps
the cost low (texts are capped at MAX_WORDS words each).

  accepted = ratio ≥ ACCEPTED_AT (0.5): the reply is mostly our letter.
  edited   = accepted and ratio < UNEDITED_AT (0.98): the agent changed it before sending
             (filling every [placeholder] already makes it an edit, as it should).

The letter compared is the stored suggestion's letter (suggestions.letter). The sidebar's
"insert" feedback does not carry the text inserted (its `text` column holds the ticket's text,
for the classifier), so when an agent switched category, audience or tone before inserting,
the reply is still measured against our original letter: a low ratio then rightly says our
first suggestion was not used as it was. `inserted` records whether Insert was pressed.
"""

from __future__ import annotations

import difflib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from plugin import db
from plugin.models import FEEDBACK_KINDS, CommentEvent

log = logging.getLogger(__name__)

ACCEPTED_AT = 0.5
UNEDITED_AT = 0.98
MAX_WORDS = 5000
KIND = "ticket.comment_added"


@dataclass(frozen=True)
class Outcome:
    """What `record` did: status recorded | duplicate | ignored, with the reason or the measure."""

    status: str
    reason: str = ""
    ratio: float | None = None
    accepted: bool | None = None
    edited: bool | None = None


def words(text: str) -> list[str]:
    return (text or "").split()[:MAX_WORDS]


def kept_ratio(letter: str, reply: str) -> float:
    """Word-level similarity of our letter and the agent's reply, 0.0 to 1.0 (see the module doc)."""
    ours, theirs = words(letter), words(reply)
    if not ours and not theirs:
        return 1.0
    return difflib.SequenceMatcher(None, ours, theirs, autojunk=False).ratio()


def judge(ratio: float) -> tuple[bool, bool]:
    """(accepted, edited) for a kept ratio."""
    accepted = ratio >= ACCEPTED_AT
    return accepted, accepted and ratio < UNEDITED_AT


def not_a_reply(comment: CommentEvent) -> str | None:
    """Why this comment cannot be an agent's reply to the customer, from the event alone."""
    if not comment.public:
        return "a private comment (internal note), not a reply to the customer"
    if comment.requester_id and comment.author_id == comment.requester_id:
        return "a comment by the requester, not by an agent"
    if comment.author_is_staff is False:
        return "a comment by someone who is not an agent"
    if not comment.body.strip():
        return "an empty comment"
    return None


def timestamp(text: str) -> float | None:
    """Zendesk's `time` (nanoseconds allowed: 3.11's fromisoformat keeps microseconds) as epoch seconds."""
    try:
        return datetime.fromisoformat(text.strip()).timestamp() if text.strip() else None
    except ValueError:
        return None


def record(engine: Engine, comment: CommentEvent, now: float | None = None) -> Outcome:
    """Measure and store the ticket's outcome if this comment is the first agent reply after our note."""
    why = not_a_reply(comment)
    if why:
        return Outcome("ignored", why)
    ours = db.posted_suggestion(engine, comment.helpdesk, comment.account, comment.ticket_id)
    if ours is None:
        return Outcome("ignored", "no Amends note was posted on this ticket")
    if f"amends-ref: {ours['note_marker']}" in comment.body:
        return Outcome("ignored", "our own note, not an agent's reply")
    commented_at = timestamp(comment.occurred_at)
    if commented_at is not None and commented_at < ours["note_posted_at"]:
        return Outcome("ignored", "the reply was written before our note was posted")
    ratio = round(kept_ratio(ours["letter"], comment.body), 4)
    accepted, edited = judge(ratio)
    existing = db.record_outcome(engine, dict(
        helpdesk=comment.helpdesk, account=comment.account, ticket_id=comment.ticket_id,
        event_id=ours["event_id"], category=ours["category"], comment_id=comment.comment_id[:64],
        author_id=comment.author_id[:64], ratio=ratio, accepted=accepted, edited=edited,
        inserted=db.sidebar_inserted(engine, comment.helpdesk, comment.account, comment.ticket_id),
        letter_words=len(words(ours["letter"])), reply_words=len(words(comment.body)),
        commented_at=commented_at, recorded_at=now or time.time(),
    ))
    if existing is None:
        return Outcome("recorded", ratio=ratio, accepted=accepted, edited=edited)
    if existing == comment.comment_id[:64]:
        return Outcome("duplicate", "this reply was already measured")
    return Outcome("ignored", "only the first agent reply after our note counts, and it was already measured")


def summarise(figures: dict[str, dict]) -> dict[str, Any]:
    """Rates for the stats page from db.outcome_figures: one row per category plus the totals.
    A rate whose denominator is zero is None (shown as a dash, never as 0 %)."""
    def rates(category: str, f: dict) -> dict:
        return {
            "category": category, **{k: f[k] for k in ("posted", "replies", "accepted", "edited") + FEEDBACK_KINDS},
            "acceptance": f["accepted"] / f["replies"] if f["replies"] else None,
            "edit_rate": f["edited"] / f["accepted"] if f["accepted"] else None,
            "mean_kept": f["ratio_sum"] / f["replies"] if f["replies"] else None,
        }

    rows = [rates(c, f) for c, f in sorted(figures.items(), key=lambda item: (-item[1]["posted"], item[0]))]
    total: dict[str, Any] = {k: 0 for k in ("posted", "replies", "accepted", "edited") + FEEDBACK_KINDS}
    total["ratio_sum"] = 0.0
    for f in figures.values():
        for key in total:
            total[key] += f[key]
    return {"rows": rows, "total": rates("All categories", total),
            "accepted_at": ACCEPTED_AT, "unedited_at": UNEDITED_AT}
