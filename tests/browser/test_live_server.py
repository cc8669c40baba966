"""The browser fixtures themselves: a webhook through the live server reaches the fake Zendesk
via the in-process worker, and rows added with the helpers show up in the console."""

from __future__ import annotations

import pytest
import requests

from plugin import db
from tests.browser.live import add_failed_event, expect
from tests.conftest import fixture_bytes, signed_headers, wait_until

TICKET = 35436  # the ticket id in tests/fixtures/zendesk/ticket_created_event.json


@pytest.mark.live_server(zendesk=True, worker=True)
def test_webhook_becomes_a_note_and_shows_on_the_overview(signed_in_page, live_server, fake_zendesk):
    fake_zendesk.add_ticket(
        TICKET, subject="Order #A1234 has not arrived",
        description="Hello, my parcel has not arrived yet and the tracking has not moved for a week.",
        requester={"id": 501, "name": "Maria Gonzalez", "email": "maria@example.com", "locale": "en-US"},
    )
    body = fixture_bytes("ticket_created_event.json")
    answer = requests.post(live_server("/webhooks/zendesk"), data=body, headers=signed_headers(body), timeout=5)
    assert answer.status_code == 202, answer.text
    wait_until(lambda: [c for c in fake_zendesk.comments(TICKET) if c.get("public") is False], what="the note")
    wait_until(lambda: db.list_events(live_server.engine)[0]["status"] == db.POSTED, what="status posted")

    signed_in_page.reload()
    row = signed_in_page.get_by_role("row").filter(has_text=f"#{TICKET}")
    expect(row.locator(".status")).to_have_text("posted")


def test_failed_event_helper_shows_on_the_overview(signed_in_page, live_server):
    event_id = add_failed_event(live_server, "777", error="Zendesk refused the note: 422 RecordInvalid")
    assert db.get_event(live_server.engine, event_id)["status"] == db.FAILED
    assert [a["outcome"] for a in db.list_attempts(live_server.engine, event_id)] == ["failed"]

    signed_in_page.reload()
    row = signed_in_page.get_by_role("row").filter(has_text="#777")
    expect(row.locator(".status")).to_have_text("failed")
    expect(row).to_contain_text("422 RecordInvalid")
