"""Steps 6-11 for one event: fetch, classify, compose, post, record. No Flask, no queue.

Crash safety rests on three writes around the one non-idempotent call:
`post_started_at` before the note is sent, `note_posted_at` after, and the
note's `amends-ref` marker. An attempt that finds `post_started_at` set but not
`note_posted_at` asks the helpdesk whether the note is already there before
posting, so a process killed mid-post never causes a second note.

Two attempts never run at once: each write is fenced by the attempt's own claim
(not its process), the running attempt renews its lease in the background
(`leases.LeaseKeeper`), and `post_started_at` is the fenced write right before
the post, so an attempt that lost its lease cannot post. The post itself is
bounded by the HTTP deadline, shorter than the lease it renews.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Callable, Literal

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from plugin import db, metrics
from plugin.config import Settings
from plugin.connectors.base import Connector
from plugin.core.decision import SkipReason
from plugin.core.rules import Rules
from plugin.core.rules_layer import load_rules
from plugin.core.suggest import requester_key
from plugin.errors import HelpdeskError, PermanentError, RateLimited, RetryableError
from plugin.models import Suggestion, Ticket
from plugin.services import rulebook
from plugin.services.leases import LeaseKeeper
from plugin.services.suggesting import AccountContext

log = logging.getLogger(__name__)


Outcome = Literal["posted", "already_posted", "skipped", "retry", "failed", "not_claimed", "lease_lost"]


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    delay: float = 0.0
    reason: str = ""
    skip: str = ""  # the skip reason code, when outcome is "skipped"


def backoff_delay(attempt: int, settings: Settings, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random, capped."""
    ceiling = min(settings.retry_max_delay_seconds, settings.retry_base_seconds * 2 ** max(0, attempt - 1))
    return ceiling / 2 + rand() * ceiling / 2


def process_event(engine: Engine, connector: Connector, settings: Settings, event_id: int, owner: str,
                  rand: Callable[[], float] = random.random, rules: Rules | None = None) -> Result:
    claim = db.claim(engine, event_id, owner, settings.lease_seconds)
    if claim is None:
        return Result("not_claimed")
    started = time.time()
    with LeaseKeeper(engine, claim):
        result = _run(engine, connector, settings, claim, rand, rules)
    _report(claim, result, time.time() - started)
    return result


def _run(engine: Engine, connector: Connector, settings: Settings, claim: db.Claim,
         rand: Callable[[], float], rules: Rules | None) -> Result:
    """One attempt under its claim, recorded; its lease is kept by the caller."""
    event_id = claim.event_id
    started = time.time()
    event = claim.event
    ctx = f"{event.helpdesk}/{event.account} ticket {event.ticket_id} event {event_id} attempt {claim.attempt}"
    try:
        if rules is None:
            rules = rulebook.effective_rules(engine, load_rules(settings.rules_file), event.helpdesk, event.account)
        result = _attempt(engine, connector, claim, settings, rules)
    except RetryableError as exc:
        return _retry_or_fail(engine, settings, claim, started, exc, rand)
    except PermanentError as exc:
        db.record_attempt(engine, claim, started, "failed", exc.status, exc.reason)
        db.finish(engine, claim, db.FAILED, exc.reason)
        return Result("failed", reason=exc.reason)
    except SQLAlchemyError:
        # The database itself is down: nothing can be recorded now. The lease
        # runs out and the sweeper or a restart picks the event up again.
        raise
    except Exception as exc:  # a bug: fail visibly rather than retry forever
        reason = f"internal error: {exc.__class__.__name__}: {exc}"
        log.exception("%s crashed", ctx)
        db.record_attempt(engine, claim, started, "failed", None, reason)
        db.finish(engine, claim, db.FAILED, reason)
        return Result("failed", reason=reason)
    db.record_attempt(engine, claim, started, result.outcome)
    return result


def _report(claim: db.Claim, result: Result, seconds: float) -> None:
    """The attempt's end: its counters, and one structured log line (ids, outcome, duration; no ticket text)."""
    event = claim.event
    metrics.attempt_finished(event.helpdesk, result.outcome, seconds)
    if result.outcome in ("posted", "already_posted"):
        # A note an admin asked for later says nothing about the webhook-to-note latency.
        metrics.note_posted(event.helpdesk, None if claim.chosen_category else claim.received_at)
    elif result.outcome == "skipped":
        metrics.skipped(event.helpdesk, result.skip)
    elif result.outcome == "failed":
        metrics.failed(event.helpdesk)
    elif result.outcome == "retry":
        metrics.retried(event.helpdesk)
    fields = {"event_id": claim.event_id, "ticket": event.ticket_id, "helpdesk": event.helpdesk,
              "account": event.account, "attempt": claim.attempt, "outcome": result.outcome,
              "duration": round(seconds, 3)}
    detail = result.skip or result.reason
    if result.outcome == "retry":
        fields["retry_in"] = round(result.delay, 1)
        detail = f"next try in {result.delay:.1f}s: {result.reason}"
    # A failure, or another claim took the event over (this attempt missed its renewals): never routine.
    level = logging.WARNING if result.outcome in ("failed", "lease_lost") else logging.INFO
    log.log(level, "%s/%s ticket %s event %s attempt %s: %s in %.3fs%s", event.helpdesk, event.account,
            event.ticket_id, claim.event_id, claim.attempt, result.outcome, seconds,
            f" ({detail})" if detail else "", extra={"amends": fields})


def _attempt(engine: Engine, connector: Connector, claim: db.Claim, settings: Settings, rules: Rules) -> Result:
    event = claim.event
    already = claim.note_posted or (
        claim.post_started and connector.find_note(event.ticket_id, claim.note_marker)
    )
    if already:
        stored = db.get_suggestion(engine, claim.event_id)
        tags = _stored_tags(stored)
        if not claim.note_posted:
            db.mark_note_posted(engine, claim)
        if tags:
            connector.add_tags(event.ticket_id, tags)
        return _finish(engine, claim, db.POSTED, "already_posted")

    if event.is_thin:
        ticket = connector.fetch_ticket(event)
        db.store_ticket_text(engine, claim, ticket.subject, ticket.description, ticket.tags)
    else:
        ticket = Ticket.from_event(event)
    context = AccountContext(engine, settings, event.helpdesk, event.account, rules)
    # An admin's "Suggest anyway" chose the category: the same decision, with that letter.
    result = context.suggest(ticket, marker=claim.note_marker, category=claim.chosen_category)
    metrics.classified(event.helpdesk, result.classification.decision, result.classification.category)
    if result.suggestion is None:
        return _finish(engine, claim, db.SKIPPED, "skipped", result.reason, skip=result.skip,
                       category=result.classification.category)
    db.save_suggestion(engine, claim, result.suggestion, requester_key(ticket),
                       text=f"{ticket.subject}\n{ticket.description}".strip())
    return _post(engine, connector, claim, result.suggestion)


def _post(engine: Engine, connector: Connector, claim: db.Claim, suggestion: Suggestion) -> Result:
    ticket_id = claim.event.ticket_id
    if not db.mark_post_started(engine, claim):
        return Result("lease_lost")
    connector.post_internal_note(ticket_id, suggestion.note)
    db.mark_note_posted(engine, claim)
    connector.add_tags(ticket_id, list(suggestion.tags))
    return _finish(engine, claim, db.POSTED, "posted")


def _finish(engine: Engine, claim: db.Claim, status: str, outcome: str, reason: str | None = None, *,
            skip: SkipReason | None = None, category: str | None = None) -> Result:
    """End the event; a skip is stored as its code (and category), its sentence only reported."""
    if not db.finish(engine, claim, status, None if skip else reason, skip=skip.value if skip else None,
                     skip_category=category if skip else None):
        return Result("lease_lost")
    return Result(outcome, reason=reason or "", skip=skip.value if skip else "")


def _retry_or_fail(engine: Engine, settings: Settings, claim: db.Claim, started: float, exc: HelpdeskError,
                   rand: Callable[[], float]) -> Result:
    if isinstance(exc, RateLimited):
        metrics.rate_limited(claim.event.helpdesk)
    if claim.attempt >= settings.retry_max_attempts:
        reason = f"gave up after {claim.attempt} attempts: {exc.reason}"
        db.record_attempt(engine, claim, started, "failed", exc.status, exc.reason)
        db.finish(engine, claim, db.FAILED, reason)
        return Result("failed", reason=reason)
    if isinstance(exc, RateLimited):
        delay = min(exc.retry_after, 3600.0) + rand()  # a little spread so retries don't land together
    else:
        delay = backoff_delay(claim.attempt, settings, rand)
    db.record_attempt(engine, claim, started, "retry", exc.status, exc.reason)
    db.schedule_retry(engine, claim, delay, exc.reason)
    return Result("retry", delay=delay, reason=exc.reason)


def _stored_tags(stored: dict | None) -> list[str]:
    return list(stored["tags"]) if stored else []
