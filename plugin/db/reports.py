"""The console's suggestion log and stats, and outcomes (how much of our letter the agent's
reply kept)."""


from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from plugin.db.console import add_audit
from plugin.db.engine import writing
from plugin.db.lifecycle import CHOSEN_KEY
from plugin.db.retention import is_purged, payload_is_purged
from plugin.db.schema import (
    FAILED,
    POSTED,
    QUEUED,
    RETRYING,
    SKIPPED,
    attempts,
    events,
    feedback,
    outcomes,
    suggestions,
)
from plugin.models import FEEDBACK_KINDS

# --- admin: suggestion log and stats (issue 5, watching the work) ------------------

def _account_events(helpdesk: str, account: str):
    return sa.and_(events.c.helpdesk == helpdesk, events.c.account == account)


# The status the log shows: a queued event with attempts behind it was put back by a retry.
_shown_status = sa.case(
    (sa.and_(events.c.status == QUEUED,
             sa.exists().where(attempts.c.event_id == events.c.id)), sa.literal_column(f"'{RETRYING}'")),
    else_=events.c.status,
)


def _log_query(helpdesk: str, account: str, status: str | None, category: str | None, *columns):
    query = (sa.select(*columns)
             .select_from(events.outerjoin(suggestions, suggestions.c.event_id == events.c.id))
             .where(_account_events(helpdesk, account)))
    if status:
        query = query.where(_shown_status == status)
    if category:
        query = query.where(suggestions.c.category == category)
    return query


SUBJECT_CHARS = 200  # the log shows the start of a subject; the detail page the whole of it


def _payload_text(engine: Engine, key: str):
    """One top-level value of the event's payload as text, read in SQL (the log does not load
    every payload's description): PostgreSQL's json ->>, SQLite's json_extract."""
    if engine.dialect.name == "postgresql":
        return sa.type_coerce(events.c.payload, postgresql.JSON)[key].as_string()
    return sa.cast(sa.func.json_extract(events.c.payload, f"$.{key}"), sa.Text)


def suggestion_log(engine: Engine, helpdesk: str, account: str, *, status: str | None = None,
                   category: str | None = None, before: int | None = None, after: int | None = None,
                   limit: int = 50) -> list[dict[str, Any]]:
    """One page of processed tickets, newest first, keyset-paged on the event id.

    `before`: rows older than that id (the next page); `after`: rows newer (the previous
    page). Each row is the event with its suggestion's category and confidence (None when
    nothing was composed, e.g. skipped), `tries` (attempts recorded over its life) and
    `shown`, the status as the log shows it (`status` filters on that too), the ticket's
    `subject` (its first SUBJECT_CHARS characters) and `removed_after` (days) once retention
    removed it.
    """
    tries = (sa.select(sa.func.count()).select_from(attempts)
             .where(attempts.c.event_id == events.c.id).scalar_subquery())
    query = _log_query(helpdesk, account, status, category,
                       events.c.id, events.c.ticket_id, events.c.account, events.c.status, events.c.attempts,
                       events.c.received_at, events.c.next_attempt_at, events.c.last_error,
                       events.c.skip_reason, events.c.skip_category,
                       events.c.note_posted_at, suggestions.c.category, suggestions.c.confidence,
                       tries.label("tries"), _shown_status.label("shown"),
                       sa.func.substr(_payload_text(engine, "subject"), 1, SUBJECT_CHARS).label("subject"),
                       _payload_text(engine, "retention_days").label("removed_after"))
    if after is not None:
        query = query.where(events.c.id > after).order_by(events.c.id.asc())
    else:
        if before is not None:
            query = query.where(events.c.id < before)
        query = query.order_by(events.c.id.desc())
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query.limit(limit)).mappings()]
    return rows[::-1] if after is not None else rows


def suggestion_has_rows(engine: Engine, helpdesk: str, account: str, *, status: str | None = None,
                        category: str | None = None, before: int | None = None,
                        after: int | None = None) -> bool:
    """Whether any row lies beyond a page edge (for the log's Older/Newer links)."""
    query = _log_query(helpdesk, account, status, category, events.c.id)
    if before is not None:
        query = query.where(events.c.id < before)
    if after is not None:
        query = query.where(events.c.id > after)
    with engine.connect() as conn:
        return conn.execute(query.limit(1)).first() is not None


def suggestion_status_counts(engine: Engine, helpdesk: str, account: str,
                             category: str | None = None) -> dict[str, int]:
    """Rows per shown status (see _shown_status), for the log's status tabs."""
    shown = _shown_status.label("shown")
    query = _log_query(helpdesk, account, None, category, shown, sa.func.count()).group_by(shown)
    with engine.connect() as conn:
        return {status: count for status, count in conn.execute(query)}


def suggestion_categories(engine: Engine, helpdesk: str, account: str) -> list[str]:
    """Categories that occur in this account's suggestions (admins may add their own)."""
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(suggestions.c.category).distinct().where(
            suggestions.c.helpdesk == helpdesk, suggestions.c.account == account)).scalars())


def retry_failed_event(engine: Engine, helpdesk: str, account: str, event_id: int, actor: str,
                       now: float | None = None) -> bool:
    """Put a failed event back in the queue with a fresh attempt budget; False if it was not failed.

    One guarded UPDATE, so two admins pressing retry (or a retry racing a worker) change
    it once. `post_started_at`, `note_posted_at` and `note_marker` stay: the pipeline then
    looks for our marker on the ticket before posting, so a note that did reach the
    helpdesk is not posted twice. The audit entry is written in the same transaction.
    """
    now = now or time.time()
    with writing(engine) as conn:
        reason = conn.execute(sa.select(events.c.last_error).where(
            events.c.id == event_id, _account_events(helpdesk, account), events.c.status == FAILED)).scalar()
        changed = conn.execute(
            events.update()
            .where(events.c.id == event_id, _account_events(helpdesk, account), events.c.status == FAILED)
            .values(status=QUEUED, lease_owner=None, lease_until=None, last_error=None, attempts=0,
                    next_attempt_at=now, finished_at=None, updated_at=now)
        ).rowcount
        if changed != 1:
            return False
        add_audit(engine, helpdesk, account, actor, "retry", f"event {event_id}",
                  before=f"failed: {reason or 'no reason recorded'}", after="queued", now=now, conn=conn)
    return True


def suggest_anyway(engine: Engine, helpdesk: str, account: str, event_id: int, category: str, actor: str,
                   now: float | None = None) -> bool:
    """Put a skipped event back in the queue with the category an admin chose (stored in its
    payload under CHOSEN_KEY): its next attempt posts that category's letter through the
    pipeline like any note. False when the event is not skipped (any more) or retention removed
    its text. One guarded UPDATE with its audit entry, so two clicks queue it once."""
    now = now or time.time()
    where = (events.c.id == event_id, _account_events(helpdesk, account), events.c.status == SKIPPED,
             ~payload_is_purged())
    with writing(engine) as conn:
        row = conn.execute(sa.select(events.c.payload, events.c.skip_reason, events.c.skip_category)
                           .where(*where)).first()
        if row is None or is_purged(row.payload):
            return False
        payload = {**row.payload, CHOSEN_KEY: category}
        changed = conn.execute(events.update().where(*where).values(
            status=QUEUED, payload=payload, attempts=0, lease_owner=None, lease_until=None, last_error=None,
            skip_reason=None, skip_category=None, next_attempt_at=now, finished_at=None, updated_at=now,
        )).rowcount
        if changed != 1:
            return False
        skipped = f"skipped: {row.skip_reason or 'no reason recorded'}" + (
            f" ({row.skip_category})" if row.skip_category else "")
        add_audit(engine, helpdesk, account, actor, "suggest_anyway", f"event {event_id}", before=skipped,
                  after=f"queued to post the {category} letter", now=now, conn=conn)
    return True


def period_figures(engine: Engine, helpdesk: str, account: str, start: float, end: float) -> dict[str, Any]:
    """Raw figures for events received in [start, end): counts by status, skip reasons,
    suggestions per category (by best guess), general letters posted, and each posted note's
    seconds from webhook to note."""
    window = sa.and_(_account_events(helpdesk, account), events.c.received_at >= start, events.c.received_at < end)
    with engine.connect() as conn:
        by_status = {s: n for s, n in conn.execute(
            sa.select(events.c.status, sa.func.count()).where(window).group_by(events.c.status))}
        skipped = [(r or "other", n) for r, n in conn.execute(
            sa.select(events.c.skip_reason, sa.func.count()).where(window, events.c.status == SKIPPED)
            .group_by(events.c.skip_reason))]
        posted_by_category = sa.func.sum(sa.case((events.c.status == POSTED, 1), else_=0))
        categories = [(c, n, int(p or 0)) for c, n, p in conn.execute(
            sa.select(suggestions.c.category, sa.func.count(), posted_by_category)
            .select_from(events.join(suggestions, suggestions.c.event_id == events.c.id))
            .where(window).group_by(suggestions.c.category)
            .order_by(sa.func.count().desc(), suggestions.c.category))]
        durations = sorted(conn.execute(
            sa.select(events.c.note_posted_at - events.c.received_at)
            .where(window, events.c.note_posted_at.is_not(None))).scalars())
        # General letters (category unclear) carry the amends_general tag; the row's category is the best guess.
        general = conn.execute(
            sa.select(sa.func.count()).select_from(events.join(suggestions, suggestions.c.event_id == events.c.id))
            .where(window, events.c.status == POSTED,
                   sa.cast(suggestions.c.tags, sa.Text).like('%"amends_general"%'))).scalar() or 0
    return {"by_status": by_status, "skipped": skipped, "categories": categories, "durations": durations,
            "general": int(general)}


def record_outcome(engine: Engine, values: dict[str, Any]) -> str | None:
    """Store the ticket's outcome. None when stored; else the comment id of the outcome the
    ticket already had (the same comment redelivered, or an earlier reply)."""
    try:
        with writing(engine) as conn:
            conn.execute(outcomes.insert(), values)
        return None
    except IntegrityError:
        existing = get_outcome(engine, values["helpdesk"], values["account"], values["ticket_id"])
        return existing["comment_id"] if existing else ""


def get_outcome(engine: Engine, helpdesk: str, account: str, ticket_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(outcomes).where(
            outcomes.c.helpdesk == helpdesk, outcomes.c.account == account,
            outcomes.c.ticket_id == ticket_id)).mappings().first()
    return dict(row) if row else None


def outcome_figures(engine: Engine, helpdesk: str, account: str, start: float, end: float) -> dict[str, dict]:
    """Per category, for tickets whose webhook arrived in [start, end): notes posted, agent replies
    measured (accepted, edited, sum of kept ratios) and the sidebar feedback on those tickets."""
    window = sa.and_(_account_events(helpdesk, account), events.c.received_at >= start, events.c.received_at < end)
    figures: dict[str, dict] = {}

    def row(category: str) -> dict:
        return figures.setdefault(category, {
            "posted": 0, "replies": 0, "accepted": 0, "edited": 0, "ratio_sum": 0.0,
            **{kind: 0 for kind in FEEDBACK_KINDS}})

    def count_true(column):
        return sa.func.sum(sa.case((column.is_(True), 1), else_=0))

    posted = events.join(suggestions, suggestions.c.event_id == events.c.id)
    with engine.connect() as conn:
        for category, n in conn.execute(
                sa.select(suggestions.c.category, sa.func.count()).select_from(posted)
                .where(window, events.c.note_posted_at.is_not(None)).group_by(suggestions.c.category)):
            row(category)["posted"] = n
        for category, n, accepted, edited, ratio_sum in conn.execute(
                sa.select(outcomes.c.category, sa.func.count(), count_true(outcomes.c.accepted),
                          count_true(outcomes.c.edited), sa.func.sum(outcomes.c.ratio))
                .select_from(outcomes.join(events, events.c.id == outcomes.c.event_id))
                .where(window).group_by(outcomes.c.category)):
            row(category).update(replies=n, accepted=int(accepted or 0), edited=int(edited or 0),
                                 ratio_sum=float(ratio_sum or 0.0))
        on_ticket = sa.and_(feedback.c.helpdesk == suggestions.c.helpdesk, feedback.c.account == suggestions.c.account,
                            feedback.c.ticket_id == suggestions.c.ticket_id)
        for category, kind, n in conn.execute(
                sa.select(suggestions.c.category, feedback.c.kind, sa.func.count())
                .select_from(posted.join(feedback, on_ticket))
                .where(window, feedback.c.kind.in_(FEEDBACK_KINDS))
                .group_by(suggestions.c.category, feedback.c.kind)):
            row(category)[kind] = n
    return figures
