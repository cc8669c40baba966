"""The real service (gunicorn + Huey worker subprocesses) against the loopback fake Zendesk.

Covers the whole path, duplicates, retries, and both crash windows with kill -9:
the worker dying mid-event after the queue handed it over, and the worker dying
after Zendesk stored the note but before we recorded it.
"""

import time

import pytest
import requests

from plugin import db
from tests.conftest import fixture_bytes, signed_headers, wait_until
from tests.service import Service

TICKET = 35436


@pytest.fixture
def env(backend, fake_zendesk):
    database_url, queue_url = backend
    fake_zendesk.add_ticket(
        TICKET, subject="Order #A1234 has not arrived",
        description="Hello, my parcel has not arrived yet and the tracking has not moved for a week.",
        requester={"id": 501, "name": "Maria Gonzalez", "email": "maria@example.com", "locale": "en-US"},
        organization={"id": 77, "name": "Gonzalez Trading"}, tags=["web_form"],
    )
    return {
        "AMENDS_DATABASE_URL": database_url,
        "AMENDS_QUEUE_URL": queue_url,
        "AMENDS_ZENDESK_SUBDOMAIN": "acme",
        "AMENDS_ZENDESK_WEBHOOK_SECRET": "whsec-test-secret",
        "AMENDS_ZENDESK_EMAIL": "agent@example.com",
        "AMENDS_ZENDESK_API_TOKEN": "tok",
        "AMENDS_ZENDESK_API_URL": fake_zendesk.url,
        "AMENDS_HTTP_TIMEOUT_SECONDS": "1",
        "AMENDS_LEASE_SECONDS": "4",
        "AMENDS_RETRY_BASE_SECONDS": "0.3",
        "AMENDS_RETRY_MAX_DELAY_SECONDS": "1",
        "AMENDS_RETRY_MAX_ATTEMPTS": "3",
        "AMENDS_WEB_WORKERS": "1",
        "AMENDS_WORKER_THREADS": "2",
    }


@pytest.fixture
def service(env, tmp_path):
    with Service(tmp_path, env) as svc:
        yield svc


def deliver(svc, name="ticket_created_event.json", invocation_id=None):
    body = fixture_bytes(name)
    return requests.post(svc.url + "/webhooks/zendesk", data=body,
                         headers=signed_headers(body, invocation_id=invocation_id), timeout=5)


def notes(fake, ticket=TICKET):
    return [c for c in fake.comments(ticket) if c.get("public") is False]


def event_status(env, ticket=TICKET):
    engine = db.make_engine(env["AMENDS_DATABASE_URL"])
    try:
        rows = [r for r in db.list_events(engine) if r["ticket_id"] == str(ticket)]
        return rows[0]["status"] if rows else None
    finally:
        engine.dispose()


def test_webhook_becomes_one_private_note(service, env, fake_zendesk):
    response = deliver(service)
    assert response.status_code == 202
    wait_until(lambda: event_status(env) == "posted", what="note posted")
    [note] = notes(fake_zendesk)
    assert note["body"].count("Dear Maria,") == 1  # a requester with an organization gets the client letter
    assert "Letter: client, warm" in note["body"]
    assert set(fake_zendesk.ticket_tags(TICKET)) >= {"web_form", "amends_suggested", "amends_delivery_delay"}
    assert fake_zendesk.contract_errors == []


def test_repeats_and_both_shapes_give_one_note(service, env, fake_zendesk):
    codes = [deliver(service, invocation_id="same").status_code for _ in range(3)]
    codes.append(deliver(service, "trigger_body.json").status_code)
    assert codes == [202, 200, 200, 200]
    wait_until(lambda: event_status(env) == "posted", what="note posted")
    time.sleep(0.5)  # give a wrongly queued second task time to show up
    assert len(notes(fake_zendesk)) == 1


def test_429_and_5xx_are_retried_to_one_note(service, env, fake_zendesk):
    fake_zendesk.inject("GET", rf"/tickets/{TICKET}(\.json)?$", status=503, body={"error": "Unavailable"})
    fake_zendesk.inject("PUT", rf"/tickets/{TICKET}\.json$", status=429, headers={"Retry-After": "1"},
                        body={"error": "TooManyRequests"})
    started = time.time()
    assert deliver(service).status_code == 202
    wait_until(lambda: event_status(env) == "posted", what="note posted after retries")
    assert time.time() - started >= 1.0  # honoured Retry-After
    assert len(notes(fake_zendesk)) == 1


def test_permanent_failure_is_recorded(service, env, fake_zendesk):
    fake_zendesk.inject("PUT", rf"/tickets/{TICKET}\.json$", status=422,
                        body={"error": "RecordInvalid", "description": "Record validation errors"})
    assert deliver(service).status_code == 202
    wait_until(lambda: event_status(env) == "failed", what="failure recorded")
    engine = db.make_engine(env["AMENDS_DATABASE_URL"])
    [row] = db.list_events(engine)
    engine.dispose()
    assert "HTTP 422" in row["last_error"]
    assert notes(fake_zendesk) == []


def test_kill_9_while_the_worker_holds_the_event(env, tmp_path, fake_zendesk):
    """The queue has handed the event to the worker; the process dies mid-work."""
    fake_zendesk.inject("GET", rf"/tickets/{TICKET}(\.json)?$", delay=60)  # hang while fetching
    svc = Service(tmp_path, env).start()
    try:
        assert deliver(svc).status_code == 202
        fake_zendesk.wait_for("GET", rf"/tickets/{TICKET}(\.json)?$", timeout=10)
        svc.kill()
        fake_zendesk.release()
        assert event_status(env) == "processing"
        svc.start()
        wait_until(lambda: event_status(env) == "posted", timeout=30, what="note posted after restart")
        assert len(notes(fake_zendesk)) == 1
    finally:
        svc.stop()


def test_kill_9_after_zendesk_stored_the_note(env, tmp_path, fake_zendesk):
    """Zendesk has the note, our process died before recording it: no second note."""
    fake_zendesk.inject("PUT", rf"/tickets/{TICKET}\.json$", delay=60, after_apply=True)
    svc = Service(tmp_path, env).start()
    try:
        assert deliver(svc).status_code == 202
        fake_zendesk.wait_for("PUT", rf"/tickets/{TICKET}\.json$", timeout=10)
        wait_until(lambda: len(notes(fake_zendesk)) == 1, what="note stored by Zendesk")
        svc.kill()
        fake_zendesk.release()
        svc.start()
        wait_until(lambda: event_status(env) == "posted", timeout=30, what="event recorded as posted")
        assert len(notes(fake_zendesk)) == 1
        assert "amends_suggested" in fake_zendesk.ticket_tags(TICKET)
    finally:
        svc.stop()


def test_kill_9_between_accept_and_enqueue_window_is_covered_by_recovery(env, tmp_path, fake_zendesk):
    """Events accepted while no worker runs (or whose wake-up was lost) are found at start."""
    svc = Service(tmp_path, env).start()
    try:
        assert deliver(svc).status_code == 202
        svc.kill()
    finally:
        svc.stop()
    # Whether or not the worker got to it, after a restart the ticket has exactly one note.
    svc.start()
    try:
        wait_until(lambda: event_status(env) == "posted", timeout=30, what="note posted")
        assert len(notes(fake_zendesk)) == 1
    finally:
        svc.stop()


def test_scale_out_shape_gunicorn_plus_worker(env, tmp_path, fake_zendesk):
    with Service(tmp_path, env, mode="split") as svc:
        assert deliver(svc).status_code == 202
        wait_until(lambda: event_status(env) == "posted", what="note posted by the separate worker")
        assert len(notes(fake_zendesk)) == 1
