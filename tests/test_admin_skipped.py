"""The console as a new admin meets it (issue 14): the suggestion log names each ticket by its
subject and links it to Zendesk; a skipped ticket's detail shows what the classifier reads in it
and offers "Suggest anyway", which posts the chosen letter through the pipeline (fake Zendesk)."""

from __future__ import annotations

import re

import pytest

from plugin import db
from plugin.models import Person, TicketEvent
from plugin.web.admin import watch
from tests.conftest import ADMIN_PASSWORD, audited_changes, csrf_token
from tests.test_admin_watch import DAY, TICKET, add_event, engine_of, page
from tests.test_admin_watch import live_client as watch_live_client  # noqa: F401  (a fixture)

# --- the log: subject and link ---------------------------------------------------------


def test_ticket_url_only_for_a_real_account():
    assert watch.ticket_url("acme", "42") == "https://acme.zendesk.com/agent/tickets/42"
    assert watch.ticket_url("default", "42") == ""  # nothing configured or connected yet
    assert watch.ticket_url("Not A Subdomain", "42") == ""
    assert watch.ticket_url("acme", "42/../../x") == ""


def test_log_shows_the_subject_escaped_and_shortened_and_links_the_ticket(admin_client):
    engine = engine_of(admin_client)
    event_id = add_event(engine, 101, db.POSTED, category="delivery_delay", to_note=2)
    long_subject = "<b>Parcel</b> late " + "very " * 40 + "END"
    _set_subject(engine, event_id, long_subject)
    html = page(admin_client, "/admin/suggestions")
    row = _row(html, event_id)
    assert re.search(r'<a href="https://acme\.zendesk\.com/agent/tickets/101" target="_blank" '
                     r'rel="noopener noreferrer"[^>]*>#101</a>', row)
    assert "&lt;b&gt;Parcel&lt;/b&gt; late very" in row and "<b>Parcel" not in row  # escaped
    assert "END" not in row.split("title=")[0] and "…" in row  # shortened in the cell
    assert f'href="/admin/suggestions/{event_id}"' in row


def test_log_says_when_retention_removed_the_subject(admin_client):
    engine = engine_of(admin_client)
    old = add_event(engine, 7, db.SKIPPED, skip="not_a_complaint")
    fresh = add_event(engine, 8, db.SKIPPED, skip="not_a_complaint", received_at=DAY + 100 * 86400)
    db.purge_older_than(engine, 30, now=DAY + 100 * 86400)
    html = page(admin_client, "/admin/suggestions")
    assert "(removed after 30 days)" in _row(html, old) and "Subject of 7" not in html
    assert "Subject of 8" in _row(html, fresh)


def test_log_does_not_link_tickets_without_a_real_account(admin_client):
    from flask import render_template_string

    with admin_client.application.test_request_context():
        cell = render_template_string('{% include "admin/ticket_link.html" %}', ticket_url=watch.ticket_url,
                                      r={"account": "default", "ticket_id": "55"})
    assert "href" not in cell and "#55" in cell


def test_a_thin_events_fetched_subject_is_kept_for_the_log(live_client):
    client, rt, fake = live_client
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=str(TICKET), kind="ticket.created",
                        delivery_keys=("event:thin",), requester=Person(id="501"))
    event_id = db.accept_event(rt.engine, event).event_id
    assert rt.tasks.process.call_local(event_id) == "posted"
    assert "Order #A1234 still not here" in _row(page(client, "/admin/suggestions"), event_id)
    payload = db.get_event(rt.engine, event_id)["payload"]
    assert payload["description"].startswith("My parcel has not arrived")


# --- a skipped ticket: the reading and "Suggest anyway" -------------------------------------

QUESTION = 35437


@pytest.fixture
def live_client(watch_live_client):
    """The log tests' signed-in console on the fake Zendesk, which also holds a question."""
    client, rt, fake_zendesk = watch_live_client
    fake_zendesk.add_ticket(
        QUESTION, subject="Opening hours", description="Hello, what are your opening hours on Saturday?",
        requester={"id": 502, "name": "Sam Roe", "email": "sam@example.com", "locale": "en-US"},
        organization=None, tags=[])
    return client, rt, fake_zendesk


def skipped_question(rt) -> int:
    """A full event (the text in the webhook) the pipeline skips as no complaint."""
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=str(QUESTION), kind="ticket.created",
                        delivery_keys=("event:q",), subject="Opening hours",
                        description="Hello, what are your opening hours on Saturday?",
                        requester=Person(id="502", name="Sam Roe", email="sam@example.com"))
    event_id = db.accept_event(rt.engine, event).event_id
    assert rt.tasks.process.call_local(event_id) == "skipped"
    return event_id


def notes(fake, ticket=QUESTION):
    return [c for c in fake.comments(ticket) if c.get("public") is False]


def test_skipped_detail_shows_the_reading_made_again_and_the_form(live_client):
    client, rt, _ = live_client
    event_id = skipped_question(rt)
    html = page(client, f"/admin/suggestions/{event_id}")
    assert 'id="recomputed"' in html and "Read again now" in html
    category = re.search(r'id="reading-category">([^<]+)<', html).group(1)
    assert re.search(r'id="reading-decision">[^<]*<code class="muted">none</code>', html)
    candidates = re.findall(r'<span class="candidate">(\w+) (0\.\d\d)</span>', html)
    assert candidates and all(0 <= float(p) <= 1 for _, p in candidates)
    assert 'id="suggest-anyway"' in html and 'name="csrf_token"' in html
    best = candidates[0][0] if category == "other" else category
    assert re.search(rf'<option value="{best}" selected>[^<]*\(best guess\)</option>', html)


def test_suggest_anyway_posts_the_chosen_letter_through_the_pipeline(live_client):
    client, rt, fake = live_client
    event_id = skipped_question(rt)
    assert notes(fake) == []
    response = client.post(f"/admin/suggestions/{event_id}/suggest-anyway",
                           data={"category": "wrong_item", "csrf_token": csrf_token(client, "/admin/")})
    assert response.status_code == 302
    assert db.get_event(rt.engine, event_id)["status"] == db.QUEUED
    task = rt.huey.dequeue()  # the worker takes the wake-up off the real queue
    assert task.args == (event_id,)
    rt.huey.execute(task)
    event = db.get_event(rt.engine, event_id)
    assert event["status"] == db.POSTED and event["skip_reason"] is None
    [note] = notes(fake)
    assert note["body"].startswith("Amends suggestion: wrong_item")
    assert db.get_suggestion(rt.engine, event_id)["category"] == "wrong_item"
    [entry] = [e for e in audited_changes(rt.engine) if e["action"] == "suggest_anyway"]
    assert entry["actor"].startswith("Ada") and entry["target"] == f"event {event_id}"
    assert "not_a_complaint" in entry["before"] and "wrong_item" in entry["after"]
    # Done once: the event is posted, so a second press changes nothing and posts nothing.
    again = client.post(f"/admin/suggestions/{event_id}/suggest-anyway",
                        data={"category": "wrong_item", "csrf_token": csrf_token(client, "/admin/")})
    assert again.status_code == 302 and rt.huey.dequeue() is None
    assert len(notes(fake)) == 1
    assert "not skipped" in page(client, f"/admin/suggestions/{event_id}")


def test_suggest_anyway_refuses_when_the_text_was_purged(live_client):
    client, rt, fake = live_client
    event_id = skipped_question(rt)
    db.purge_older_than(rt.engine, 1, now=db.get_event(rt.engine, event_id)["received_at"] + 2 * 86400)
    html = page(client, f"/admin/suggestions/{event_id}")
    assert "removed after 1 days" in html and 'id="suggest-anyway"' not in html
    response = client.post(f"/admin/suggestions/{event_id}/suggest-anyway", follow_redirects=True,
                           data={"category": "wrong_item", "csrf_token": csrf_token(client, "/admin/")})
    assert "Nothing was posted: the ticket&#39;s text was removed after 1 days" in response.get_data(as_text=True)
    assert db.get_event(rt.engine, event_id)["status"] == db.SKIPPED and rt.huey.dequeue() is None
    assert notes(fake) == [] and not [e for e in audited_changes(rt.engine) if e["action"] == "suggest_anyway"]


def test_suggest_anyway_refuses_an_unknown_category_and_a_missing_csrf_token(live_client):
    client, rt, _ = live_client
    event_id = skipped_question(rt)
    response = client.post(f"/admin/suggestions/{event_id}/suggest-anyway", follow_redirects=True,
                           data={"category": "nonsense", "csrf_token": csrf_token(client, "/admin/")})
    assert "choose one of the categories" in response.get_data(as_text=True)
    assert client.post(f"/admin/suggestions/{event_id}/suggest-anyway",
                       data={"category": "wrong_item"}).status_code == 400
    assert client.post("/admin/suggestions/999999/suggest-anyway",
                       data={"category": "wrong_item", "csrf_token": csrf_token(client, "/admin/")}).status_code == 404
    assert db.get_event(rt.engine, event_id)["status"] == db.SKIPPED


def test_suggest_anyway_refuses_while_zendesk_is_not_connected(make_settings):
    from plugin import create_app

    app = create_app(make_settings(secret_key="s" * 40, admin_password=ADMIN_PASSWORD, zendesk_email="",
                                   zendesk_api_token=""))
    app.config["TESTING"] = True
    try:
        client = app.test_client()
        client.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf_token(client)})
        engine = app.extensions["amends"].engine
        event_id = add_event(engine, 9, db.SKIPPED, skip="not_a_complaint")
        html = page(client, f"/admin/suggestions/{event_id}")
        assert "Zendesk is not connected" in html and 'id="suggest-anyway"' not in html
        response = client.post(f"/admin/suggestions/{event_id}/suggest-anyway", follow_redirects=True,
                               data={"category": "delivery_delay", "csrf_token": csrf_token(client, "/admin/")})
        assert "Nothing was posted: Zendesk is not connected" in response.get_data(as_text=True)
        assert db.get_event(engine, event_id)["status"] == db.SKIPPED
    finally:
        app.extensions["amends"].engine.dispose()


# --- helpers ----------------------------------------------------------------------------

def _row(html: str, event_id: int) -> str:
    found = re.search(rf'<tr id="event-{event_id}".*?</tr>', html, re.S)
    assert found, f"no row for event {event_id}"
    return found.group(0)


def _set_subject(engine, event_id: int, subject: str) -> None:
    from plugin.db.schema import events

    payload = dict(db.get_event(engine, event_id)["payload"], subject=subject)
    with db.writing(engine) as conn:
        conn.execute(events.update().where(events.c.id == event_id).values(payload=payload))
