"""Tables, engine, migrations and every query. The only module with SQL.

An event's row is the source of truth for its progress; the queue only carries
wake-ups. So a worker killed at any moment loses nothing: unfinished rows are
found again (`recoverable`) and claimed under a lease (`claim`). Every write of an
attempt is fenced by its claim, not by its process: the attempt number and a token
drawn for that claim alone, so neither another process nor another thread of the
same one can write for an attempt whose lease was taken over. The running attempt
renews its lease (`renew_lease`), so the lease can be short: a live attempt keeps
it however slow the helpdesk is, a dead one's event is free one short lease later.
"""


from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from plugin.db.engine import writing
from plugin.db.retention import is_purged
from plugin.db.schema import PROCESSING, QUEUED, RETRYING, UNFINISHED, attempts, deliveries, events
from plugin.models import TicketEvent

# An admin's "Suggest anyway" on a skipped event stores the category it chose in the payload
# under this key (TicketEvent.from_dict ignores it); the next attempt posts that letter.
CHOSEN_KEY = "chosen_category"

# --- receiving ---------------------------------------------------------------

@dataclass(frozen=True)
class Accepted:
    event_id: int
    duplicate: bool


def note_marker(event: TicketEvent) -> str:
    """Stable per (helpdesk, account, ticket, kind): the same event always has the same marker."""
    import hashlib

    key = f"{event.helpdesk}/{event.account}/{event.ticket_id}/{event.kind}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def accept_event(engine: Engine, event: TicketEvent, now: float | None = None) -> Accepted:
    """Store a new event and its delivery keys in one transaction, or report a repeat.

    Both unique constraints (per delivery, per ticket+kind) decide; whichever
    fires first makes this a duplicate and nothing is written.
    """
    now = now or time.time()
    try:
        with writing(engine) as conn:
            # Parameters apart from the statement: SQLAlchemy compiles it once and reuses it.
            event_id = conn.execute(events.insert(), dict(
                helpdesk=event.helpdesk,
                account=event.account,
                ticket_id=event.ticket_id,
                kind=event.kind,
                payload=event.to_dict(),
                status=QUEUED,
                attempts=0,
                received_at=now,
                updated_at=now,
                note_marker=note_marker(event),
            )).inserted_primary_key[0]
            if event.delivery_keys:
                conn.execute(
                    deliveries.insert(),
                    [
                        dict(helpdesk=event.helpdesk, account=event.account, delivery_key=key,
                             event_id=event_id, received_at=now)
                        for key in event.delivery_keys
                    ],
                )
        return Accepted(event_id, duplicate=False)
    except IntegrityError:
        return Accepted(_existing_event_id(engine, event) or 0, duplicate=True)


def _existing_event_id(engine: Engine, event: TicketEvent) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(events.c.id).where(
                events.c.helpdesk == event.helpdesk,
                events.c.account == event.account,
                events.c.ticket_id == event.ticket_id,
                events.c.kind == event.kind,
            )
        ).scalar()


# --- working -------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    event_id: int
    attempt: int
    owner: str  # the worker process (for the attempt log)
    event: TicketEvent
    note_marker: str
    post_started: bool
    note_posted: bool
    holder: str  # what `lease_owner` holds for this claim alone: owner and a token
    lease_seconds: float
    received_at: float | None = None  # when the webhook was accepted (the webhook-to-note latency)
    chosen_category: str = ""  # an admin chose it ("Suggest anyway", CHOSEN_KEY); "": the classifier decides


def _lease_holder(owner: str) -> str:
    """The owner plus a token unique to one claim (lease_owner is 128 characters at most).

    The token, not the attempt number alone, because an admin's retry of a failed event
    starts the count again, so a stale attempt could share its number with a new one.
    """
    token = uuid.uuid4().hex[:12]
    return f"{owner[:128 - len(token) - 1]}#{token}"


def claim(engine: Engine, event_id: int, owner: str, lease_seconds: float, now: float | None = None) -> Claim | None:
    """Take the event for one attempt, or None if it is finished, leased, or not due."""
    now = now or time.time()
    holder = _lease_holder(owner)
    due = sa.or_(
        sa.and_(events.c.status.in_((QUEUED, RETRYING)),
                sa.or_(events.c.next_attempt_at.is_(None), events.c.next_attempt_at <= now + 0.5)),
        sa.and_(events.c.status == PROCESSING, events.c.lease_until < now),
    )
    with writing(engine) as conn:
        result = conn.execute(
            events.update()
            .where(events.c.id == event_id, due)
            .values(status=PROCESSING, lease_owner=holder, lease_until=now + lease_seconds,
                    attempts=events.c.attempts + 1, updated_at=now)
        )
        if result.rowcount != 1:
            return None
        row = conn.execute(sa.select(events).where(events.c.id == event_id)).mappings().one()
    return Claim(
        event_id=event_id,
        attempt=row["attempts"],
        owner=owner,
        event=TicketEvent.from_dict(row["payload"]),
        note_marker=row["note_marker"],
        post_started=row["post_started_at"] is not None,
        note_posted=row["note_posted_at"] is not None,
        holder=holder,
        lease_seconds=lease_seconds,
        received_at=row["received_at"],
        chosen_category=str(row["payload"].get(CHOSEN_KEY) or ""),
    )


def _fenced(c: Claim):
    """This claim's attempt still holds the event: no later claim (of any process or thread) took it."""
    return sa.and_(events.c.id == c.event_id, events.c.attempts == c.attempt, events.c.lease_owner == c.holder,
                   events.c.status == PROCESSING)


def renew_lease(engine: Engine, c: Claim, now: float | None = None) -> bool:
    """Extend the running attempt's lease by another `lease_seconds`; False once the claim is fenced off."""
    now = now or time.time()
    with writing(engine) as conn:
        result = conn.execute(events.update().where(_fenced(c)).values(lease_until=now + c.lease_seconds))
    return result.rowcount == 1


def mark_post_started(engine: Engine, c: Claim, now: float | None = None) -> bool:
    """Written before the note is sent: a later attempt then checks the ticket first.

    It renews the lease too, so the post (bounded by the HTTP deadline, shorter than a
    lease) is over before anyone else may claim the event, even if renewals stop now.
    """
    now = now or time.time()
    with writing(engine) as conn:
        result = conn.execute(events.update().where(_fenced(c)).values(
            post_started_at=now, updated_at=now, lease_until=now + c.lease_seconds))
    return result.rowcount == 1


def mark_note_posted(engine: Engine, c: Claim, now: float | None = None) -> None:
    now = now or time.time()
    with writing(engine) as conn:
        conn.execute(events.update().where(_fenced(c)).values(note_posted_at=now, updated_at=now))


def store_ticket_text(engine: Engine, c: Claim, subject: str, description: str, tags: tuple[str, ...]) -> None:
    """Keep the text a thin event's ticket was fetched with, as a full event carries it: the
    console lists the subject and re-reads a skipped ticket from it (retention removes it too)."""
    with writing(engine) as conn:
        payload = conn.execute(sa.select(events.c.payload).where(_fenced(c))).scalar()
        if payload is None or is_purged(payload):  # retention took the text: never bring it back
            return
        payload = {**payload, "subject": subject, "description": description, "tags": list(tags)}
        conn.execute(events.update().where(_fenced(c)).values(payload=payload))


def finish(engine: Engine, c: Claim, status: str, error: str | None = None, now: float | None = None, *,
           skip: str | None = None, skip_category: str | None = None) -> bool:
    """End the event (posted, failed or skipped); a skip records its reason code and category."""
    now = now or time.time()
    with writing(engine) as conn:
        result = conn.execute(
            events.update().where(_fenced(c)).values(
                status=status, last_error=error, finished_at=now, updated_at=now,
                skip_reason=skip, skip_category=skip_category,
                lease_owner=None, lease_until=None, next_attempt_at=None,
            )
        )
    return result.rowcount == 1


def schedule_retry(engine: Engine, c: Claim, delay: float, error: str, now: float | None = None) -> bool:
    now = now or time.time()
    with writing(engine) as conn:
        result = conn.execute(
            events.update().where(_fenced(c)).values(
                status=RETRYING, last_error=error, next_attempt_at=now + delay, updated_at=now,
                lease_owner=None, lease_until=None,
            )
        )
    return result.rowcount == 1


def record_attempt(engine: Engine, c: Claim, started_at: float, outcome: str,
                   http_status: int | None = None, error: str | None = None) -> None:
    with writing(engine) as conn:
        conn.execute(attempts.insert().values(
            event_id=c.event_id, number=c.attempt, worker=c.owner, started_at=started_at,
            finished_at=time.time(), outcome=outcome, http_status=http_status, error=error,
        ))


def recoverable(engine: Engine, now: float | None = None, overdue_by: float | None = None) -> list[tuple[int, float]]:
    """Unfinished events and when each may next be tried: (event id, not-before time).

    At start-up (`overdue_by=None`) that is every unfinished event. The periodic
    sweep passes `overdue_by` to pick only events whose wake-up is that late,
    i.e. lost: a queued event nobody claimed, a retry whose time has long
    passed. A lease that ran out is lost at once: a live attempt renews its
    lease, so an expired one means the attempt died and nothing will wake it.
    """
    now = now or time.time()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(events.c.id, events.c.status, events.c.updated_at, events.c.next_attempt_at,
                      events.c.lease_until)
            .where(events.c.status.in_(UNFINISHED))
            .order_by(events.c.id)
        ).all()
    due: list[tuple[int, float]] = []
    for event_id, status, updated_at, next_attempt_at, lease_until in rows:
        if status == PROCESSING:
            not_before = lease_until or now
        elif status == RETRYING:
            not_before = next_attempt_at or now
        else:
            not_before = updated_at
        if overdue_by is None:
            due.append((event_id, max(not_before, now)))
        elif not_before <= now - (0.0 if status == PROCESSING else overdue_by):
            due.append((event_id, now))
    return due


# --- reading (admin log, tests, CLI) ------------------------------------------

def get_event(engine: Engine, event_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(events).where(events.c.id == event_id)).mappings().first()
    return dict(row) if row else None


def list_events(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events).order_by(events.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def list_attempts(engine: Engine, event_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(attempts).where(attempts.c.event_id == event_id).order_by(attempts.c.id)
        ).mappings().all()
    return [dict(r) for r in rows]
