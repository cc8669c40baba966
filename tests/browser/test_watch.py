"""Watching the work in a real browser: the suggestion log and its retry, a ticket's detail,
stats for a chosen period, and "Try a ticket".

The retry test is the whole path for real: a signed webhook, the fake Zendesk refusing the note
(422), the admin's Retry, the worker posting it. The other pages are shown on a fixed week of
tickets sent through the real pipeline (`seed_week`) at fixed times, so the screenshots only
change when the pages do.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests

from plugin import db
from plugin.db import console, lifecycle, reports, suggestion_data
from plugin.models import Person, TicketEvent
from plugin.services import pipeline
from tests.browser.live import expect, screenshot
from tests.conftest import fixture_json, signed_headers, wait_until


def notes(fake, ticket_id: int) -> list[dict]:
    """Internal notes on the ticket (the requester's description is the public first comment)."""
    return [c for c in fake.comments(ticket_id) if c.get("public") is False]


# --- retry ----------------------------------------------------------------------------------

RETRIED = 5101


def webhook_for(ticket: dict) -> bytes:
    """Zendesk's ticket.created event (our fixture) about another ticket. Like the real one it
    names the requester by id only, so the worker reads the rest from the fake Zendesk."""
    body = fixture_json("ticket_created_event.json")
    body["id"] = str(uuid.uuid4())
    body["subject"] = f"zen:ticket:{ticket['id']}"
    body["detail"].update(id=str(ticket["id"]), subject=ticket["subject"], description=ticket["description"],
                          requester_id=str(ticket["requester_id"]))
    return json.dumps(body).encode()


@pytest.mark.live_server(zendesk=True)  # the worker is started by the test, once Retry was pressed
def test_retry_a_failed_suggestion(signed_in_page, live_server, fake_zendesk):
    ticket = fake_zendesk.add_ticket(
        RETRIED, subject="Desk lamp ordered ten days ago, still nothing",
        description="Hello, the desk lamp I ordered ten days ago still has not turned up, although your "
                    "site promised three to five working days. Could you find out where it is?",
        requester={"id": 7101, "name": "Noor Haddad", "email": "noor@example.com"})
    # Zendesk refuses the first note: a 4xx is not retried, the ticket ends failed.
    fake_zendesk.inject("PUT", rf"/api/v2/tickets/{RETRIED}\.json$", status=422)
    body = webhook_for(ticket)
    answer = requests.post(live_server("/webhooks/zendesk"), data=body, headers=signed_headers(body), timeout=5)
    assert answer.status_code == 202, answer.text
    rt = live_server.runtime
    task = rt.huey.dequeue()  # what the worker would take off the queue, run here
    assert rt.huey.execute(task) == "failed"
    (event,) = db.list_events(live_server.engine)
    assert event["status"] == db.FAILED and notes(fake_zendesk, RETRIED) == []

    page = signed_in_page
    page.goto("/admin/suggestions")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/admin/suggestions\?status=failed"))
    row = page.locator(f"#event-{event['id']}")
    expect(row).to_have_attribute("data-status", "failed")
    expect(row).to_contain_text(f"#{RETRIED}")
    expect(row).to_contain_text("422")

    row.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Ticket #{RETRIED} is being retried with a fresh set of attempts.")
    expect(page).to_have_url(re.compile(r"/admin/suggestions\?status=failed&"))  # back where the admin was
    expect(page.get_by_text("No tickets match these filters.")).to_be_visible()
    page.locator(".counts a[data-status=retrying]").click()
    expect(row).to_have_attribute("data-status", "retrying")
    expect(row).to_contain_text("retry requested")
    expect(row.get_by_role("button", name="Retry")).to_have_count(0)  # nothing to press twice

    live_server.start_worker()
    wait_until(lambda: db.get_event(live_server.engine, event["id"])["status"] == db.POSTED, what="posted")
    page.goto("/admin/suggestions")
    expect(row).to_have_attribute("data-status", "posted")
    expect(row).to_contain_text("delivery_delay")
    assert len(notes(fake_zendesk, RETRIED)) == 1  # the refused note was never stored; the retry's was
    assert "Noor" in notes(fake_zendesk, RETRIED)[0]["body"]


# --- a fixed week of tickets ---------------------------------------------------------------------

def at(day: int, hour: int, minute: int) -> float:
    return datetime(2026, 3, day, hour, minute, tzinfo=timezone.utc).timestamp()


class Clock:
    """time.time() for plugin.db and plugin.services.pipeline while the week is seeded: starts where it
    is set, and moves 0.4 s each time it is read, so every stored time is the same each run."""

    def __init__(self):
        self.now = 0.0

    def time(self) -> float:
        self.now += 0.4
        return self.now

    def __getattr__(self, name):  # sleep, monotonic...: the real ones
        return getattr(time, name)


# (ticket, received, subject, description, requester, what the fake Zendesk does to the note)
WEEK = [
    (4201, at(9, 9, 12), "Still waiting for my bookshelf",
     "Hello, I ordered a bookshelf on the 2nd and the delivery date was last Thursday. The tracking has "
     "shown 'out for delivery' for four days and nothing has come. Please tell me when it will arrive.",
     "Ines Moreau", None),
    (4202, at(9, 10, 40), "Do you deliver to Norway?",
     "Hi, before I place an order I wanted to ask whether you ship to Norway and how long it usually "
     "takes. Thanks!", "Lars Berg", None),
    (4203, at(9, 14, 5), "Wrong colour sent",
     "I ordered the blue rain jacket in size M but the parcel contained a yellow one in size L. I need "
     "the right one for a trip next week.", "Tomasz Nowak", None),
    (4204, at(10, 8, 30), "Kettle arrived broken",
     "The kettle I ordered arrived with a cracked lid and the box was crushed. It leaks when I fill it.",
     "Aiko Tanaka", 422),
    (4205, at(10, 11, 20), "Parcel a week late",
     "My order of garden chairs was promised for Monday and it is now Saturday. The courier keeps saying "
     "it is delayed and nobody can tell me why.", "Robin Example", 503),
    (4206, at(10, 16, 45), "Charged twice for one order",
     "I was charged twice for the same order of printer ink. Both payments show on my card statement. "
     "Please refund the second one.", "Sam Okafor", None),
    (4207, at(11, 9, 3), "Where is my parcel?",
     "The lamp I ordered ten days ago still has not turned up, although the site said three to five "
     "working days. I am quite disappointed.", "Priya Shah", None),
]
# What the pipeline makes of them: 4202 is a question, 4204's note is refused (failed),
# 4205's first note meets a 503 and is posted on the second attempt.
CATEGORIES = {4201: "delivery_delay", 4203: "wrong_item", 4204: "damaged_item", 4205: "delivery_delay",
              4206: "billing_error", 4207: "delivery_delay"}


def seed_week(server, fake, monkeypatch) -> dict[int, int]:
    """WEEK through the real pipeline and the fake Zendesk, in the test's thread, at fixed times.
    Returns {ticket: event id}. Use on a live server without a worker."""
    clock = Clock()
    ids = {}
    tasks = server.runtime.tasks
    with monkeypatch.context() as patch:
        for module in (lifecycle, suggestion_data, reports, console):  # the storage modules that read the clock
            patch.setattr(module, "time", clock)
        patch.setattr(pipeline, "time", clock)
        patch.setattr(tasks, "owner", "worker-host:4242:0a1b2c3d")  # host:pid:random, shown per attempt
        for number, (ticket, received, subject, description, name, refusal) in enumerate(WEEK):
            fake.add_ticket(ticket, subject=subject, description=description,
                            requester={"id": 8000 + number, "name": name,
                                       "email": f"{name.split()[0].lower()}@example.com"})
            clock.now = received
            # As Zendesk's event carries it: subject and description, the requester by id only.
            event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=str(ticket), kind="ticket.created",
                                delivery_keys=(f"week-{ticket}",), subject=subject, description=description,
                                requester=Person(id=str(8000 + number)))
            ids[ticket] = db.accept_event(server.engine, event).event_id
            clock.now += 1.5  # the queue's wake-up reaches a worker
            if refusal:
                fake.inject("PUT", rf"/api/v2/tickets/{ticket}\.json$", status=refusal)
            outcome = tasks.process.call_local(ids[ticket])
            if outcome == "retry":
                clock.now += 2.0  # the backoff (at most 1 s on the live server) has passed
                outcome = tasks.process.call_local(ids[ticket])
            assert outcome == {4202: "skipped", 4204: "failed"}.get(ticket, "posted"), (ticket, outcome)
    return ids


@pytest.mark.live_server(zendesk=True)
def test_suggestion_detail_shows_the_note_and_attempts(signed_in_page, live_server, fake_zendesk, monkeypatch):
    ids = seed_week(live_server, fake_zendesk, monkeypatch)
    page = signed_in_page
    page.goto("/admin/suggestions")
    rows = page.locator("table.log tbody tr")
    expect(rows).to_have_count(len(WEEK))
    expect(rows.first).to_have_attribute("id", f"event-{ids[4207]}")  # newest first
    expect(page.locator(f"#event-{ids[4202]}")).to_contain_text("not a complaint")
    expect(page.locator(f"#event-{ids[4204]}").get_by_role("button", name="Retry")).to_be_visible()
    screenshot(page, "suggestions")

    row = page.locator(f"#event-{ids[4205]}")
    expect(row).to_have_attribute("data-status", "posted")
    expect(row.locator("td").nth(6)).to_have_text("2")  # attempts
    expect(row.locator("td.subject")).to_contain_text("Parcel a week late")  # the ticket's subject
    row.get_by_role("link", name="Details").click()
    expect(page).to_have_url(live_server(f"/admin/suggestions/{ids[4205]}"))
    expect(page.get_by_role("heading", name="Ticket #4205")).to_be_visible()
    expect(page.locator("#event-status")).to_have_attribute("data-status", "posted")
    expect(page.get_by_role("row", name=re.compile(r"^Subject"))).to_contain_text("Parcel a week late")
    expect(page.get_by_role("row", name=re.compile(r"^Category"))).to_contain_text("delivery_delay")
    expect(page.get_by_role("row", name=re.compile(r"^Evidence"))).to_contain_text("courier")

    # The note on the page is the one Zendesk got.
    expect(page.get_by_role("heading", name="The note we posted")).to_be_visible()
    (posted,) = notes(fake_zendesk, 4205)
    assert posted["body"].strip() == page.locator("#note").inner_text().strip()
    expect(page.locator("#note")).to_contain_text("Robin")

    # Two attempts: the 503, then the note.
    attempts = page.locator("h2:text('Attempts') + table tbody tr")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("retry")
    expect(attempts.nth(0)).to_contain_text("503")
    expect(attempts.nth(1)).to_contain_text("posted")
    screenshot(page, "suggestion-detail")


@pytest.mark.live_server(zendesk=True)
def test_stats_for_a_chosen_period(signed_in_page, live_server, fake_zendesk, monkeypatch):
    ids = seed_week(live_server, fake_zendesk, monkeypatch)
    page = signed_in_page
    page.goto("/admin/stats")
    page.get_by_label("From").fill("2026-03-09")
    page.get_by_label("To (inclusive)").fill("2026-03-10")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/admin/stats\?start=2026-03-09&end=2026-03-10$"))

    # The period holds WEEK's first six tickets; 4207 came on the 11th.
    chosen = [ticket for ticket, received, *_ in WEEK if received < at(11, 0, 0)]
    assert len(chosen) == 6
    figure = {name: page.locator(f"#stat-{name} .figure") for name in ("received", "posted", "skipped", "failed")}
    expect(figure["received"]).to_have_text("6")
    expect(figure["posted"]).to_have_text("4")
    expect(figure["skipped"]).to_have_text("1")
    expect(figure["failed"]).to_have_text("1")
    expect(page.locator("#stat-in-progress")).to_have_count(0)
    expect(page.locator("#abstentions")).to_have_text(re.compile(r"not a complaint\s*1"))

    expected = {}
    for ticket in chosen:
        if ticket in CATEGORIES:
            count, posted = expected.get(CATEGORIES[ticket], (0, 0))
            expected[CATEGORIES[ticket]] = (count + 1, posted + (ticket != 4204))
    for category, (count, posted) in expected.items():
        cells = page.locator(f"#categories tr[data-category={category}] td")
        expect(cells.nth(1)).to_have_text(str(count))
        expect(cells.nth(2)).to_have_text(str(posted))
    expect(page.locator("#categories tbody tr")).to_have_count(len(expected))

    # Webhook to note, as stored: 4205 waited for its second attempt, so it sets the 90th percentile.
    waits = sorted(e["note_posted_at"] - e["received_at"] for e in db.list_events(live_server.engine)
                   if e["id"] in {ids[t] for t in chosen} and e["note_posted_at"])
    assert len(waits) == 4
    expect(page.locator("#stat-median")).to_have_text(f"{(waits[1] + waits[2]) / 2:.1f} s")
    expect(page.locator("#stat-p90")).to_have_text(f"{waits[2] + (waits[3] - waits[2]) * 0.7:.1f} s")
    screenshot(page, "stats")

    # One more day brings 4207 in.
    page.get_by_label("To (inclusive)").fill("2026-03-11")
    page.get_by_role("button", name="Show").click()
    expect(figure["received"]).to_have_text("7")
    expect(page.locator("#categories tr[data-category=delivery_delay] td").nth(1)).to_have_text("3")


# --- try a ticket -----------------------------------------------------------------------------

def test_try_a_late_delivery_complaint(signed_in_page, live_server):
    page = signed_in_page
    page.goto("/admin/try")
    page.get_by_label("Subject").fill("Birthday present still not delivered")
    page.get_by_label("Description").fill(
        "Hi, I ordered a board game for my son's birthday on the 1st and paid for next-day delivery. "
        "Twelve days later it still hasn't arrived and the tracking has not changed since it left your "
        "warehouse. The birthday was yesterday. Where is my parcel?")
    page.get_by_label("Requester name").fill("Elena Petrova")
    page.get_by_role("button", name="Try it").click()

    expect(page.locator("#try-category")).to_have_text("delivery_delay")
    evidence = page.get_by_role("row", name=re.compile(r"^Evidence")).locator("code")
    expect(evidence.first).to_be_visible()
    assert evidence.count() >= 2
    expect(page.locator("#try-decision")).to_have_text("Amends would post this note.")
    expect(page.get_by_role("heading", name="Letter")).to_be_visible()
    note = page.locator("#try-note")
    expect(note).to_contain_text("Elena")
    expect(note).to_contain_text("amends-ref: draft")
    # The form keeps what was pasted, to try a variant.
    expect(page.get_by_label("Subject")).to_have_value("Birthday present still not delivered")
    assert db.list_events(live_server.engine) == []  # nothing stored
    screenshot(page, "try-a-ticket")
