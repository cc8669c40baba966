"""No note twice on one ticket: claims fence per attempt, the running attempt renews a short lease,
and a dead attempt's event is taken up one short lease later (issue 12, "Trust").

The bug these pin down: two threads of one worker process shared one lease owner, so when a slow
attempt outlived its lease, another thread of the same process took the event again and posted,
and then the first attempt posted too.
"""

import threading
import time
from dataclasses import fields

import pytest

from plugin import db
from plugin.config import Settings
from plugin.connectors.zendesk import ZendeskConnector
from plugin.models import Person, TicketEvent
from plugin.services import pipeline
from plugin.tasks import SWEEP_STALE_SECONDS
from tests.conftest import wait_until

TICKET = 35436
WORKER = "host:4242:0a1b2c3d"  # one worker process: every thread of it claims under this name


@pytest.fixture
def stack(make_settings, fake_zendesk):
    # Short, so the tests are quick; the HTTP deadline roomy, so a loaded test machine does not trip it.
    settings = make_settings(zendesk_api_url=fake_zendesk.url, http_timeout_seconds=1.0, lease_seconds=2.0)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    fake_zendesk.add_ticket(
        TICKET, subject="Order #A1234 still not here",
        description="My parcel has not arrived and the tracking has not moved in a week.",
        requester={"id": 501, "name": "Maria Gonzalez", "email": "maria@example.com", "locale": "en-US"})
    yield settings, engine, fake_zendesk
    engine.dispose()


def accept(engine, thin=True):
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=str(TICKET), kind="ticket.created",
                        delivery_keys=("event:e1",), subject="Order #A1234 still not here",
                        description="" if thin else "My parcel has not arrived.",
                        requester=Person(id="501") if thin else Person(id="501", name="Maria Gonzalez"))
    return db.accept_event(engine, event).event_id


def notes(fake):
    return [c for c in fake.comments(TICKET) if c.get("public") is False]


class Gated(ZendeskConnector):
    """The real connector, held at chosen points: a slow helpdesk, or a thread that stalls."""

    def __init__(self, settings, *, hold_fetch=None, hold_after_post=None):
        super().__init__(settings)
        self.hold_fetch, self.hold_after_post = hold_fetch, hold_after_post
        self.fetching, self.posted = threading.Event(), threading.Event()

    def fetch_ticket(self, event):
        self.fetching.set()
        if self.hold_fetch is not None:
            assert self.hold_fetch.wait(20)
        return super().fetch_ticket(event)

    def post_internal_note(self, ticket_id, body):
        super().post_internal_note(ticket_id, body)
        self.posted.set()
        if self.hold_after_post is not None:
            assert self.hold_after_post.wait(20)


def in_thread(results, name, settings, engine, connector, event_id):
    def run():
        results[name] = pipeline.process_event(engine, connector, settings, event_id, WORKER,
                                               rand=lambda: 0.5).outcome
    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


# --- fencing per claim ---------------------------------------------------------------------------

def test_two_claims_by_one_process_fence_each_other(engine):
    event_id = accept(engine)
    now = time.time()
    old = db.claim(engine, event_id, WORKER, 30, now=now)
    new = db.claim(engine, event_id, WORKER, 30, now=now + 31)  # same process, another thread
    assert new.attempt == old.attempt + 1
    assert not db.mark_post_started(engine, old)
    assert not db.renew_lease(engine, old)
    assert not db.finish(engine, old, db.POSTED)
    assert not db.schedule_retry(engine, old, 5, "HTTP 503")
    assert db.mark_post_started(engine, new) and db.finish(engine, new, db.POSTED)
    assert db.get_event(engine, event_id)["status"] == "posted"


@pytest.mark.parametrize("renewals", ["running", "stalled"])
def test_two_threads_of_one_worker_post_one_note(stack, monkeypatch, renewals):
    """Thread 1's attempt is held past its lease; thread 2 of the same process tries the event.

    "running": thread 1's renewals keep its lease, thread 2 cannot claim. "stalled": the whole
    first attempt is paused, renewals included (a GC or VM pause), so thread 2 claims and posts;
    thread 1, released, finds itself fenced off and does not post.
    """
    settings, engine, fake = stack
    if renewals == "stalled":
        monkeypatch.setattr(db, "renew_lease", lambda *args, **kwargs: True, raising=False)
    event_id = accept(engine)
    release_first, release_second, results = threading.Event(), threading.Event(), {}
    first = Gated(settings, hold_fetch=release_first)
    second = Gated(settings, hold_after_post=release_second)
    one = in_thread(results, "first", settings, engine, first, event_id)
    assert first.fetching.wait(10)
    time.sleep(settings.lease_seconds + 0.5)  # the first claim's lease is over, unless renewed
    two = in_thread(results, "second", settings, engine, second, event_id)
    wait_until(lambda: second.posted.is_set() or "second" in results, what="the second thread's attempt")
    release_first.set()
    one.join(10)
    release_second.set()
    two.join(10)
    assert len(notes(fake)) == 1
    expected = {"running": {"first": "posted", "second": "not_claimed"},
                "stalled": {"first": "lease_lost", "second": "posted"}}
    assert results == expected[renewals]
    assert db.get_event(engine, event_id)["status"] == "posted"


# --- a lease renewed while the attempt runs --------------------------------------------------------

def test_a_slow_attempt_keeps_its_lease(stack):
    settings, engine, fake = stack
    event_id = accept(engine)
    release, results = threading.Event(), {}
    slow = Gated(settings, hold_fetch=release)
    thread = in_thread(results, "slow", settings, engine, slow, event_id)
    assert slow.fetching.wait(10)
    first_lease = db.get_event(engine, event_id)["lease_until"]
    time.sleep(settings.lease_seconds * 1.5)  # well past the first lease
    assert db.claim(engine, event_id, "another-worker", settings.lease_seconds) is None
    assert db.get_event(engine, event_id)["lease_until"] > first_lease + settings.lease_seconds / 2
    release.set()
    thread.join(10)
    assert results == {"slow": "posted"} and len(notes(fake)) == 1


def test_renewal_extends_the_lease_and_posting_starts_with_a_fresh_one(engine):
    event_id = accept(engine)
    now = time.time()
    claim = db.claim(engine, event_id, WORKER, 30, now=now)
    assert db.renew_lease(engine, claim, now=now + 20)
    assert db.get_event(engine, event_id)["lease_until"] == pytest.approx(now + 50)
    assert db.claim(engine, event_id, "other", 30, now=now + 40) is None
    assert db.mark_post_started(engine, claim, now=now + 45)
    assert db.get_event(engine, event_id)["lease_until"] == pytest.approx(now + 75)


def test_a_dripping_answer_to_the_post_is_cut_and_not_posted_again(stack):
    """Zendesk stores the note, then drips its answer: the deadline cuts it, the retry finds the note."""
    settings, engine, fake = stack
    event_id = accept(engine, thin=False)
    fake.chaos({"drip": 1.0}, drip_interval=0.1, drip_seconds=3.0, path_regex=rf"/tickets/{TICKET}\.json$")
    started = time.monotonic()
    first = pipeline.process_event(engine, ZendeskConnector(settings), settings, event_id, WORKER, rand=lambda: 0.5)
    assert first.outcome == "retry" and "timed out" in first.reason
    assert time.monotonic() - started < settings.http_timeout_seconds + 1.0
    fake.chaos(None)
    with engine.begin() as conn:  # the retry is due now
        conn.execute(db.events.update().where(db.events.c.id == event_id).values(next_attempt_at=0))
    again = pipeline.process_event(engine, ZendeskConnector(settings), settings, event_id, WORKER)
    assert again.outcome == "already_posted"
    assert len(notes(fake)) == 1


# --- a dead attempt -----------------------------------------------------------------------------------

def test_a_dead_attempts_event_is_taken_up_after_the_short_lease(stack):
    settings, engine, fake = stack
    event_id = accept(engine)
    now = time.time()
    db.claim(engine, event_id, "dead-worker", settings.lease_seconds, now=now)  # then the process died
    assert db.claim(engine, event_id, WORKER, settings.lease_seconds) is None
    assert db.recoverable(engine, now=now + settings.lease_seconds / 2, overdue_by=SWEEP_STALE_SECONDS) == []
    # Nobody renews a dead attempt's lease: the next sweep after it ran out takes the event up.
    swept = db.recoverable(engine, now=now + settings.lease_seconds + 0.1, overdue_by=SWEEP_STALE_SECONDS)
    assert [found for found, _ in swept] == [event_id]
    time.sleep(max(0.0, now + settings.lease_seconds + 0.1 - time.time()))
    result = pipeline.process_event(engine, ZendeskConnector(settings), settings, event_id, WORKER)
    assert result.outcome == "posted" and len(notes(fake)) == 1


def test_the_default_lease_is_short_and_outlasts_a_post():
    defaults = {f.name: f.default for f in fields(Settings)}
    assert defaults["lease_seconds"] <= 30
    assert defaults["lease_seconds"] >= 2 * defaults["http_timeout_seconds"]
