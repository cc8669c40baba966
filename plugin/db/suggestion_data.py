"""Suggestions (what was posted, for the log, the sidebar and repeat memory), agents'
feedback and the per-account models trained from it."""


from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from plugin.db.engine import writing
from plugin.db.lifecycle import Claim
from plugin.db.schema import account_models, events, feedback, suggestions
from plugin.models import Previous, Suggestion


def save_suggestion(engine: Engine, c: Claim, s: Suggestion, requester_key: str = "", text: str = "",
                    now: float | None = None) -> None:
    """One row per event; a later attempt replaces what an earlier one composed."""
    now = now or time.time()
    values = dict(
        requester_key=requester_key or None, audience=s.audience, tone=s.tone, compensation=s.compensation,
        to_fill=list(s.to_fill), lint=[f.to_dict() for f in s.lint], text=text or None,
        helpdesk=c.event.helpdesk, account=c.event.account, ticket_id=c.event.ticket_id,
        category=s.classification.category, confidence=s.classification.confidence,
        runner_up=s.classification.runner_up, evidence=list(s.classification.evidence),
        subject=s.subject, letter=s.letter, note=s.note, tags=list(s.tags), created_at=now,
    )
    with writing(engine) as conn:
        updated = conn.execute(suggestions.update().where(suggestions.c.event_id == c.event_id).values(**values))
        if updated.rowcount == 0:
            conn.execute(suggestions.insert().values(event_id=c.event_id, **values))


def previous_suggestion(engine: Engine, helpdesk: str, account: str, requester_key: str, since: float,
                        exclude_ticket_id: str | None = None) -> Previous | None:
    """The newest suggestion this requester got since `since` on another ticket than
    `exclude_ticket_id`, for the repeat-apology memory."""
    query = (
        sa.select(suggestions.c.ticket_id, suggestions.c.created_at, suggestions.c.category)
        .where(suggestions.c.helpdesk == helpdesk, suggestions.c.account == account,
               suggestions.c.requester_key == requester_key, suggestions.c.created_at >= since)
        .order_by(suggestions.c.created_at.desc()).limit(1)
    )
    if exclude_ticket_id is not None:
        query = query.where(suggestions.c.ticket_id != exclude_ticket_id)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return Previous(row.ticket_id, datetime.fromtimestamp(row.created_at, tz=timezone.utc), row.category)


# --- feedback and per-account models ----------------------------------------------

def add_feedback(engine: Engine, helpdesk: str, account: str, ticket_id: str, kind: str, *,
                 from_category: str | None = None, to_category: str | None = None, text: str | None = None,
                 source: str = "api", now: float | None = None) -> int:
    with writing(engine) as conn:
        return conn.execute(feedback.insert(), dict(
            helpdesk=helpdesk, account=account, ticket_id=ticket_id, kind=kind, from_category=from_category,
            to_category=to_category, text=text, source=source, created_at=now or time.time(),
        )).inserted_primary_key[0]


def corrections(engine: Engine, helpdesk: str, account: str) -> list[tuple[str, str]]:
    """(text, category) an account's agents chose, newest last; one per ticket (the latest)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(feedback.c.ticket_id, feedback.c.text, feedback.c.to_category)
            .where(feedback.c.helpdesk == helpdesk, feedback.c.account == account,
                   feedback.c.kind == "correction", feedback.c.text.is_not(None))
            .order_by(feedback.c.id)
        ).all()
    latest = {ticket: (text, category) for ticket, text, category in rows}
    return list(latest.values())


def account_model(engine: Engine, helpdesk: str, account: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(account_models).where(
            account_models.c.helpdesk == helpdesk, account_models.c.account == account)).mappings().first()
    return dict(row) if row else None


def record_account_model(engine: Engine, helpdesk: str, account: str, fingerprint: str, count: int) -> None:
    with writing(engine) as conn:
        updated = conn.execute(account_models.update().where(
            account_models.c.helpdesk == helpdesk, account_models.c.account == account
        ).values(fingerprint=fingerprint, corrections=count, trained_at=time.time()))
        if updated.rowcount == 0:
            conn.execute(account_models.insert().values(helpdesk=helpdesk, account=account, fingerprint=fingerprint,
                                                        corrections=count, trained_at=time.time()))


def ticket_text(engine: Engine, helpdesk: str, account: str, ticket_id: str) -> str | None:
    """The text we classified for a ticket (its suggestion, else its event), to learn from a correction."""
    with engine.connect() as conn:
        stored = conn.execute(sa.select(suggestions.c.text).where(
            suggestions.c.helpdesk == helpdesk, suggestions.c.account == account,
            suggestions.c.ticket_id == ticket_id).order_by(suggestions.c.id.desc()).limit(1)).scalar()
        if stored:
            return stored
        payload = conn.execute(sa.select(events.c.payload).where(
            events.c.helpdesk == helpdesk, events.c.account == account, events.c.ticket_id == ticket_id,
        ).order_by(events.c.id.desc()).limit(1)).scalar()
    if not payload:
        return None
    data = payload
    return f"{data.get('subject', '')}\n{data.get('description', '')}".strip() or None


def get_suggestion(engine: Engine, event_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(suggestions).where(suggestions.c.event_id == event_id)).mappings().first()
    return dict(row) if row else None


# --- sidebar: the agents' panel in Zendesk (issue 6) ------------------------------

def ticket_suggestion(engine: Engine, helpdesk: str, account: str, ticket_id: str) -> dict[str, Any] | None:
    """The latest suggestion stored for one ticket of one account (what the sidebar shows first)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(suggestions).where(
            suggestions.c.helpdesk == helpdesk, suggestions.c.account == account,
            suggestions.c.ticket_id == ticket_id).order_by(suggestions.c.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def posted_suggestion(engine: Engine, helpdesk: str, account: str, ticket_id: str) -> dict[str, Any] | None:
    """The ticket's suggestion whose note reached the helpdesk (what the agent could use), or None."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(suggestions.c.event_id, suggestions.c.category, suggestions.c.letter,
                      events.c.note_marker, events.c.note_posted_at)
            .select_from(suggestions.join(events, events.c.id == suggestions.c.event_id))
            .where(suggestions.c.helpdesk == helpdesk, suggestions.c.account == account,
                   suggestions.c.ticket_id == ticket_id, events.c.note_posted_at.is_not(None))
            .order_by(suggestions.c.id.desc()).limit(1)
        ).mappings().first()
    return dict(row) if row else None


def sidebar_inserted(engine: Engine, helpdesk: str, account: str, ticket_id: str) -> bool:
    """Whether an agent pressed "Insert into reply" in the sidebar on this ticket."""
    with engine.connect() as conn:
        return conn.execute(sa.select(feedback.c.id).where(
            feedback.c.helpdesk == helpdesk, feedback.c.account == account, feedback.c.ticket_id == ticket_id,
            feedback.c.kind == "insert").limit(1)).first() is not None
