"""pipeline.process_event against the loopback fake Zendesk, with a real database."""


import pytest

from plugin import db
from plugin.connectors.zendesk import ZendeskConnector
from plugin.models import Person, TicketEvent
from plugin.services import pipeline

TICKET = 35436


@pytest.fixture
def stack(make_settings, fake_zendesk):
    settings = make_settings(zendesk_api_url=fake_zendesk.url, http_timeout_seconds=1.0, lease_seconds=5.0,
                             retry_max_attempts=3)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    fake_zendesk.add_ticket(
        TICKET, subject="Order #A1234 still not here",
        description="My parcel has not arrived and the tracking has not moved in a week.",
        requester={"id": 501, "name": "Maria Gonzalez", "email": "maria@example.com", "locale": "en-US"},
        organization=None, tags=["vip"],
    )
    yield settings, engine, ZendeskConnector(settings), fake_zendesk
    engine.dispose()


def accept(engine, thin=True):
    requester = Person(id="501") if thin else Person(id="501", name="Maria Gonzalez")
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=str(TICKET), kind="ticket.created",
                        delivery_keys=("event:e1",), subject="Order #A1234 still not here",
                        description="" if thin else "My parcel has not arrived.", requester=requester)
    return db.accept_event(engine, event).event_id


def run(stack, event_id, owner="w1"):
    settings, engine, connector, _ = stack
    return pipeline.process_event(engine, connector, settings, event_id, owner, rand=lambda: 0.5)


def notes(fake):
    return [c for c in fake.comments(TICKET) if c.get("public") is False]


def test_thin_event_fetches_the_ticket_and_posts_one_private_note(stack):
    settings, engine, _, fake = stack
    event_id = accept(engine)
    assert run(stack, event_id).outcome == "posted"
    [note] = notes(fake)
    assert "Hi Maria," in note["body"]
    assert "amends-ref: " in note["body"]
    [put] = [r for r in fake.requests if r.method == "PUT" and r.path.endswith(f"/tickets/{TICKET}.json")]
    assert put.json["ticket"]["comment"]["public"] is False
    get = fake.wait_for("GET", rf"/api/v2/tickets/{TICKET}(\.json)?$")
    assert get.query.get("include") == "users,organizations"
    assert set(fake.ticket_tags(TICKET)) == {"vip", "amends_suggested", "amends_delivery_delay"}
    assert fake.contract_errors == []
    row = db.get_event(engine, event_id)
    assert row["status"] == "posted" and row["attempts"] == 1
    stored = db.get_suggestion(engine, event_id)
    assert stored["category"] == "delivery_delay" and stored["tags"][0] == "amends_suggested"


def test_full_event_is_not_fetched(stack):
    _, engine, _, fake = stack
    assert run(stack, accept(engine, thin=False)).outcome == "posted"
    assert not [r for r in fake.requests if r.method == "GET"]


def test_429_waits_for_retry_after(stack):
    _, engine, _, fake = stack
    fake.inject("PUT", rf"/tickets/{TICKET}\.json$", status=429, headers={"Retry-After": "7"},
                body={"error": "TooManyRequests"})
    event_id = accept(engine)
    result = run(stack, event_id)
    assert result.outcome == "retry"
    assert 7 <= result.delay <= 8
    row = db.get_event(engine, event_id)
    assert row["status"] == "retrying" and "429" in row["last_error"]
    assert notes(fake) == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_backs_off_then_succeeds(stack, status):
    settings, engine, _, fake = stack
    fake.inject("PUT", rf"/tickets/{TICKET}\.json$", status=status, body={"error": "oops"})
    event_id = accept(engine)
    first = run(stack, event_id)
    assert first.outcome == "retry"
    assert first.delay == pytest.approx(pipeline.backoff_delay(1, settings, lambda: 0.5))
    db_row = db.get_event(engine, event_id)
    # Not claimable before the backoff has passed.
    assert db.claim(engine, event_id, "w2", 5, now=db_row["next_attempt_at"] - 1) is None
    engine_time_travel(engine, event_id)
    assert run(stack, event_id).outcome == "posted"
    assert len(notes(fake)) == 1
    assert [a["outcome"] for a in db.list_attempts(engine, event_id)] == ["retry", "posted"]


def test_backoff_grows_exponentially_with_jitter_and_a_cap(make_settings):
    s = make_settings(retry_base_seconds=2.0, retry_max_delay_seconds=30.0)
    lows = [pipeline.backoff_delay(n, s, lambda: 0.0) for n in range(1, 7)]
    highs = [pipeline.backoff_delay(n, s, lambda: 1.0) for n in range(1, 7)]
    assert lows == [1, 2, 4, 8, 15, 15]
    assert highs == [2, 4, 8, 16, 30, 30]


def test_timeouts_are_retried(stack):
    _, engine, _, fake = stack
    fake.inject("GET", rf"/tickets/{TICKET}(\.json)?$", delay=2.0)  # longer than the 1 s timeout
    event_id = accept(engine)
    result = run(stack, event_id)
    fake.release()
    assert result.outcome == "retry" and "timed out" in result.reason
    engine_time_travel(engine, event_id)
    assert run(stack, event_id).outcome == "posted"


def test_connection_errors_are_retried(make_settings):
    settings = make_settings(zendesk_api_url="http://127.0.0.1:9")  # nothing listens there
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    result = pipeline.process_event(engine, ZendeskConnector(settings), settings, accept(engine), "w1")
    assert result.outcome == "retry" and "connection failed" in result.reason


def test_gives_up_after_the_last_attempt_with_the_reason(stack):
    _, engine, _, fake = stack
    fake.inject("PUT", rf"/tickets/{TICKET}\.json$", status=503, body={"error": "down"}, times=10)
    event_id = accept(engine)
    outcomes = []
    for _ in range(3):
        outcomes.append(run(stack, event_id).outcome)
        engine_time_travel(engine, event_id)
    assert outcomes == ["retry", "retry", "failed"]
    row = db.get_event(engine, event_id)
    assert row["status"] == "failed"
    assert row["last_error"].startswith("gave up after 3 attempts") and "503" in row["last_error"]
    assert notes(fake) == []


@pytest.mark.parametrize("status, kind", [(422, "HTTP 422"), (404, "HTTP 404"), (401, "HTTP 401")])
def test_other_4xx_fail_at_once(stack, status, kind):
    _, engine, _, fake = stack
    fake.inject("PUT", rf"/tickets/{TICKET}\.json$", status=status, body={"error": "RecordInvalid"})
    event_id = accept(engine)
    result = run(stack, event_id)
    assert result.outcome == "failed" and kind in result.reason
    assert db.get_event(engine, event_id)["status"] == "failed"
    assert len(db.list_attempts(engine, event_id)) == 1


def test_wrong_credentials_fail_with_the_reason(stack, make_settings):
    settings, engine, _, fake = stack
    bad = make_settings(zendesk_api_url=fake.url, zendesk_api_token="wrong")
    result = pipeline.process_event(engine, ZendeskConnector(bad), settings, accept(engine), "w1")
    assert result.outcome == "failed" and "401" in result.reason


def test_oauth_token_is_sent_as_bearer(stack, make_settings):
    _, engine, _, fake = stack
    oauth = make_settings(zendesk_api_url=fake.url, zendesk_email="", zendesk_api_token="",
                          zendesk_oauth_token="oauth-tok")
    assert pipeline.process_event(engine, ZendeskConnector(oauth), oauth, accept(engine), "w1").outcome == "posted"
    assert all(r.headers.get("Authorization") == "Bearer oauth-tok" for r in fake.requests)


def test_crash_after_zendesk_stored_the_note_does_not_post_again(stack):
    """The note reached Zendesk but the worker died before recording it."""
    settings, engine, connector, fake = stack
    event_id = accept(engine)
    fake.inject("PUT", rf"/tickets/{TICKET}\.json$", delay=2.0, after_apply=True)  # stored, answer lost
    first = run(stack, event_id)
    fake.release()
    assert first.outcome == "retry"  # our side saw a timeout
    assert len(notes(fake)) == 1
    engine_time_travel(engine, event_id)
    assert run(stack, event_id).outcome == "already_posted"
    assert len(notes(fake)) == 1
    assert "amends_suggested" in fake.ticket_tags(TICKET)
    assert db.get_event(engine, event_id)["status"] == "posted"


def test_non_complaint_is_skipped_without_a_note(stack):
    _, engine, _, fake = stack
    fake.add_ticket(77, subject="Question", description="What are your opening hours?",
                    requester={"id": 9, "name": "Sam Roe", "email": "s@example.com", "locale": "en"})
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id="77", kind="ticket.created",
                        delivery_keys=("event:q",), requester=Person(id="9"))
    event_id = db.accept_event(engine, event).event_id
    assert run(stack, event_id).outcome == "skipped"
    assert [c for c in fake.comments(77) if c.get("public") is False] == []
    assert db.get_event(engine, event_id)["status"] == "skipped"


def test_finished_event_is_not_processed_again(stack):
    _, engine, _, fake = stack
    event_id = accept(engine)
    assert run(stack, event_id).outcome == "posted"
    assert run(stack, event_id).outcome == "not_claimed"
    assert len(notes(fake)) == 1


def engine_time_travel(engine, event_id):
    """Make a scheduled retry due now, instead of sleeping through the backoff."""
    with engine.begin() as conn:
        conn.execute(db.events.update().where(db.events.c.id == event_id).values(next_attempt_at=0))


def test_second_complaint_from_the_same_requester_is_a_repeat(stack):
    _, engine, _, fake = stack
    assert run(stack, accept(engine)).outcome == "posted"
    fake.add_ticket(35437, subject="Another late order", description="Order 99812 has not arrived either.",
                    requester={"id": 501, "name": "Maria Gonzalez", "email": "maria@example.com", "locale": "en-US"})
    second = TicketEvent(helpdesk="zendesk", account="acme", ticket_id="35437", kind="ticket.created",
                         delivery_keys=("event:e2",), requester=Person(id="501"))
    event_id = db.accept_event(engine, second).event_id
    assert run(stack, event_id).outcome == "posted"
    [note] = [c for c in fake.comments(35437) if c.get("public") is False]
    assert "Repeat: this requester got an apology suggestion on" in note["body"]
    assert f"(ticket #{TICKET}, delivery_delay)" in note["body"]
    assert "is not the first time" in note["body"]
    stored = db.get_suggestion(engine, event_id)
    assert stored["requester_key"] == "maria@example.com" and stored["compensation"].startswith("a refund of the shipping cost")
