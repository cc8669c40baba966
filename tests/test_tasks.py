"""Tasks: recovery at start, the sweep, and early wake-ups rescheduling themselves (real Huey storage)."""

import time
from datetime import timezone

import pytest

from plugin import db
from plugin.core.rules_layer import load_rules
from plugin.models import Person, TicketEvent
from plugin.queue import make_huey
from plugin.services.rulebook import Rulebooks
from plugin.tasks import SWEEP_STALE_SECONDS, Tasks


@pytest.fixture
def tasks(settings):
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    huey = make_huey(settings)
    huey.flush()
    yield Tasks(settings, huey, engine, Rulebooks(engine, load_rules(settings.rules_file)))
    engine.dispose()


def accept(tasks, ticket="1"):
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=ticket, kind="ticket.created",
                        delivery_keys=(f"k{ticket}",), requester=Person(name="A B"), description="x")
    return db.accept_event(tasks.engine, event).event_id


def test_recover_enqueues_every_unfinished_event(tasks):
    first, second = accept(tasks, "1"), accept(tasks, "2")
    db.claim(tasks.engine, second, "dead-worker", 60)  # leased by a worker that died
    assert tasks.recover() == 2
    etas = {t.args[0]: t.eta for t in tasks.huey.pending()}
    assert etas[first] is None  # the queued one: now
    lease_end = db.get_event(tasks.engine, second)["lease_until"]
    assert abs(to_epoch(etas[second]) - lease_end) < 1  # the leased one: when its lease runs out


def test_sweep_takes_only_lost_wake_ups(tasks):
    event_id = accept(tasks)
    assert tasks.recover(overdue_by=SWEEP_STALE_SECONDS) == 0
    with tasks.engine.begin() as conn:
        conn.execute(db.events.update().values(updated_at=time.time() - SWEEP_STALE_SECONDS - 1))
    assert tasks.recover(overdue_by=SWEEP_STALE_SECONDS) == 1
    assert tasks.huey.pending_count() == 1 and event_id


def test_early_wake_up_reschedules_itself(tasks):
    event_id = accept(tasks)
    db.claim(tasks.engine, event_id, "other-worker", 30)
    assert tasks.process.call_local(event_id) == "not_claimed"
    [wake_up] = tasks.huey.pending()
    assert to_epoch(wake_up.eta) >= db.get_event(tasks.engine, event_id)["lease_until"]


def test_finished_event_wake_up_does_nothing(tasks):
    event_id = accept(tasks)
    claim = db.claim(tasks.engine, event_id, "w", 30)
    db.finish(tasks.engine, claim, db.POSTED)
    assert tasks.process.call_local(event_id) == "not_claimed"
    assert tasks.huey.pending_count() == 0


def to_epoch(naive_utc):
    return naive_utc.replace(tzinfo=timezone.utc).timestamp()
