"""Storage: dedupe, claims under a lease, fencing, recovery; migrations match the tables."""

import time

import pytest

from plugin import db
from plugin.models import Person, TicketEvent


def event(ticket="1", keys=("invocation:a",), kind="ticket.created", account="acme"):
    return TicketEvent(helpdesk="zendesk", account=account, ticket_id=ticket, kind=kind, delivery_keys=keys,
                       subject="Late", description="Where is it", requester=Person(name="Ann Lee"))


def test_accept_then_duplicates_by_delivery_and_by_ticket(engine):
    first = db.accept_event(engine, event())
    assert not first.duplicate
    assert db.accept_event(engine, event(keys=("invocation:a",), ticket="2")).duplicate  # same delivery
    assert db.accept_event(engine, event(keys=("invocation:b",))).duplicate  # same ticket + kind
    assert db.accept_event(engine, event(keys=("invocation:b",))).event_id == first.event_id
    assert not db.accept_event(engine, event(keys=("invocation:c",), account="other")).duplicate
    assert not db.accept_event(engine, event(keys=("invocation:d",), kind="ticket.comment_added")).duplicate
    assert len(db.list_events(engine)) == 3


def test_payload_round_trips(engine):
    accepted = db.accept_event(engine, event())
    claim = db.claim(engine, accepted.event_id, "w1", lease_seconds=30)
    assert claim.event == event()
    assert claim.attempt == 1


def test_claim_is_exclusive_until_the_lease_runs_out(engine):
    event_id = db.accept_event(engine, event()).event_id
    now = time.time()
    assert db.claim(engine, event_id, "w1", 30, now=now)
    assert db.claim(engine, event_id, "w2", 30, now=now + 1) is None
    taken_over = db.claim(engine, event_id, "w2", 30, now=now + 31)
    assert taken_over and taken_over.attempt == 2


def test_a_worker_whose_lease_was_taken_cannot_finish(engine):
    event_id = db.accept_event(engine, event()).event_id
    now = time.time()
    old = db.claim(engine, event_id, "w1", 30, now=now)
    new = db.claim(engine, event_id, "w2", 30, now=now + 31)
    assert not db.finish(engine, old, db.POSTED)
    assert not db.mark_post_started(engine, old)
    assert db.finish(engine, new, db.POSTED)
    assert db.get_event(engine, event_id)["status"] == "posted"
    assert db.claim(engine, event_id, "w3", 30, now=now + 100) is None  # finished stays finished


def test_retry_is_not_claimable_before_its_time(engine):
    event_id = db.accept_event(engine, event()).event_id
    now = time.time()
    claim = db.claim(engine, event_id, "w1", 30, now=now)
    assert db.schedule_retry(engine, claim, 10, "HTTP 503", now=now)
    assert db.claim(engine, event_id, "w1", 30, now=now + 5) is None
    assert db.claim(engine, event_id, "w1", 30, now=now + 10)


def test_recoverable_lists_unfinished_with_their_times(engine):
    now = time.time()
    queued = db.accept_event(engine, event("1", ("k1",)), now=now).event_id
    leased = db.accept_event(engine, event("2", ("k2",)), now=now).event_id
    retrying = db.accept_event(engine, event("3", ("k3",)), now=now).event_id
    done = db.accept_event(engine, event("4", ("k4",)), now=now).event_id
    db.claim(engine, leased, "w", 30, now=now)
    db.schedule_retry(engine, db.claim(engine, retrying, "w", 30, now=now), 50, "x", now=now)
    db.finish(engine, db.claim(engine, done, "w", 30, now=now), db.POSTED, now=now)
    at_start = dict(db.recoverable(engine, now=now))
    assert set(at_start) == {queued, leased, retrying}
    assert at_start[leased] == pytest.approx(now + 30)
    assert at_start[retrying] == pytest.approx(now + 50)
    # The sweep only takes what is overdue: nothing yet, then everything unfinished.
    assert db.recoverable(engine, now=now + 1, overdue_by=60) == []
    assert {i for i, _ in db.recoverable(engine, now=now + 200, overdue_by=60)} == {queued, leased, retrying}


def test_upgrade_is_idempotent_and_schema_matches_models(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db.upgrade(engine)
    assert db.current_revision(engine) == "0008"
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_migration_0006_turns_skip_sentences_into_codes_and_keeps_json(settings):
    """Rows written by 0005 (skip reasons as sentences, JSON as text) read the same after 0006."""
    import json

    import sqlalchemy as sa

    engine = db.make_engine(settings.database_url)
    db.upgrade(engine, "0005")
    sentences = {"1": "not a complaint that calls for an apology", "2": "the rule for billing_error is disabled",
                 "3": "confidence 0.41 below the rule's 0.60", "4": "something an old version said"}
    with engine.begin() as conn:
        for ticket, sentence in sentences.items():
            event_id = conn.execute(sa.text(
                "INSERT INTO events (helpdesk, account, ticket_id, kind, payload, status, attempts, received_at, "
                "updated_at, note_marker, last_error) VALUES ('zendesk', 'acme', :t, 'ticket.created', :p, "
                "'skipped', 1, 1, 1, :m, :e) RETURNING id"),
                {"t": ticket, "p": json.dumps({"subject": "S" + ticket}), "m": "m" + ticket, "e": sentence}).scalar()
        conn.execute(sa.text(
            "INSERT INTO suggestions (event_id, helpdesk, account, ticket_id, category, confidence, evidence, subject,"
            " letter, note, tags, created_at, to_fill, lint) VALUES (:e, 'zendesk', 'acme', '4', 'wrong_item', 0.9,"
            " '[\"size\"]', 's', 'l', 'n', '[\"amends_suggested\"]', 1, '[]', '[]')"), {"e": event_id})
    db.upgrade(engine)
    rows = {r["ticket_id"]: r for r in db.list_events(engine)}
    assert [(rows[t]["skip_reason"], rows[t]["skip_category"]) for t in "1234"] == [
        ("not_a_complaint", None), ("rule_disabled", "billing_error"), ("below_threshold", None), ("other", None)]
    assert [rows[t]["last_error"] for t in "1234"] == [None, None, None, "something an old version said"]
    assert rows["1"]["payload"] == {"subject": "S1"}
    stored = db.get_suggestion(engine, rows["4"]["id"])
    assert stored["tags"] == ["amends_suggested"] and stored["evidence"] == ["size"]
    engine.dispose()
