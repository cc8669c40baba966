"""Retention: remove the customer's text from rows older than a cutoff, keep what the stats count.

What goes: an event's payload (subject, description, requester, ...) becomes a small dict
without text (`purged_payload`); a suggestion's subject, letter and note become "", its
classified text and requester key (an email) None; a feedback row's text becomes None.
What stays: statuses, timestamps, categories, confidences, tags, skip reasons, outcomes'
ratios and word counts, so db.period_figures and db.outcome_figures give the same figures.

Unfinished events (and their suggestions) are never touched: the pipeline still needs them.
Each table is purged in batches of `BATCH` rows, one short transaction per batch, and only
rows that still hold text are counted, so a second run over the same cutoff counts 0.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from plugin.db.engine import writing
from plugin.db.schema import UNFINISHED, events, feedback, suggestions

BATCH = 500
# A purged payload is stored with this key first, so its JSON text starts with PURGED_PREFIX
# on both backends (json.dumps keeps key order); a customer's text cannot produce that start.
PURGED_KEY = "purged_at"
PURGED_PREFIX = '{"' + PURGED_KEY + '"'


def purged_payload(row: dict[str, Any], now: float, days: int) -> dict[str, Any]:
    """What an event keeps after the purge: who and what it was about, no text. The keys besides
    ours are TicketEvent's, so a retried (failed) event is a thin one the worker fetches again."""
    return {PURGED_KEY: now, "retention_days": days, "helpdesk": row["helpdesk"], "account": row["account"],
            "ticket_id": row["ticket_id"], "kind": row["kind"]}


def is_purged(payload: dict[str, Any] | None) -> bool:
    return bool(payload) and PURGED_KEY in payload


def payload_is_purged():
    """SQL condition: the event's payload was purged already."""
    return sa.cast(events.c.payload, sa.Text).like(PURGED_PREFIX + "%")


def _finished_event_ids():
    return sa.select(events.c.id).where(events.c.status.not_in(UNFINISHED))


def _old_events(cutoff: float):
    return sa.and_(events.c.received_at < cutoff, events.c.status.not_in(UNFINISHED), ~payload_is_purged())


def _old_suggestions(cutoff: float):
    holds_text = sa.or_(suggestions.c.subject != "", suggestions.c.letter != "", suggestions.c.note != "",
                        suggestions.c.text.is_not(None), suggestions.c.requester_key.is_not(None))
    return sa.and_(suggestions.c.created_at < cutoff, holds_text, suggestions.c.event_id.in_(_finished_event_ids()))


def _old_feedback(cutoff: float):
    return sa.and_(feedback.c.created_at < cutoff, feedback.c.text.is_not(None))


def _in_batches(engine: Engine, table: sa.Table, where, purge_batch: Callable) -> int:
    """Select up to BATCH matching ids, purge them in one transaction, repeat until none match."""
    total = 0
    while True:
        with writing(engine) as conn:
            ids = list(conn.execute(sa.select(table.c.id).where(where).order_by(table.c.id).limit(BATCH)).scalars())
            if not ids:
                return total
            purge_batch(conn, ids)
        total += len(ids)


def purge_events(engine: Engine, cutoff: float, days: int, now: float) -> int:
    def purge(conn, ids):
        columns = (events.c.id, events.c.helpdesk, events.c.account, events.c.ticket_id, events.c.kind)
        for row in conn.execute(sa.select(*columns).where(events.c.id.in_(ids))).mappings():
            conn.execute(events.update().where(events.c.id == row["id"])
                         .values(payload=purged_payload(row, now, days)))
    return _in_batches(engine, events, _old_events(cutoff), purge)


def purge_suggestions(engine: Engine, cutoff: float) -> int:
    def purge(conn, ids):
        conn.execute(suggestions.update().where(suggestions.c.id.in_(ids))
                     .values(subject="", letter="", note="", text=None, requester_key=None))
    return _in_batches(engine, suggestions, _old_suggestions(cutoff), purge)


def purge_feedback(engine: Engine, cutoff: float) -> int:
    def purge(conn, ids):
        conn.execute(feedback.update().where(feedback.c.id.in_(ids)).values(text=None))
    return _in_batches(engine, feedback, _old_feedback(cutoff), purge)


def purge_older_than(engine: Engine, days: int, now: float | None = None) -> dict[str, int]:
    """Remove customer text older than `days` days; rows purged per table (0 for each on a rerun)."""
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, got {days}")
    now = now or time.time()
    cutoff = now - days * 86400
    # Suggestions first: they are chosen by their event being finished, which a purge does not change.
    suggestion_count = purge_suggestions(engine, cutoff)
    return {"events": purge_events(engine, cutoff, days, now), "suggestions": suggestion_count,
            "feedback": purge_feedback(engine, cutoff)}
