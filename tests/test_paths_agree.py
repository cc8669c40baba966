"""One decision, four paths: for the same tickets and rules, the note the pipeline posts, the
sidebar's suggestion, the console's "Try a ticket" and `amends draft` agree on the category,
the letter and the whole note (the `amends-ref` line aside): tags and repeat memory included."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from plugin import db
from plugin.models import Person, TicketEvent
from plugin.services import drafting
from plugin.web.admin import watch
from tests.service import clean_environment
from tests.test_sidebar import PEM, SECRET_KEY, ask, open_sidebar

# (ticket id, subject, description, tags, requester): the second is the example, tagged
# by a form with its category (words alone read it as wrong_item), the third repeats the first
# one's requester, the fourth is no complaint at all.
MARIA = {"id": 501, "name": "Maria Gonzalez", "email": "Maria@Example.com"}
TICKETS = [
    (7001, "Order #A1234 still not here", "My parcel has not arrived and the tracking has not moved in a week.",
     ["vip"], MARIA),
    (7002, "Order 7781", "Please look at order 7781, the lamp is not right at all.", ["lighting", "damaged_item"],
     {"id": 502, "name": "Lee Park", "email": "lee@example.com"}),
    (7003, "Wrong size again", "You sent me a medium jacket instead of the large I ordered, order A5521.", [],
     MARIA),
    (7004, "Delivery address", "Hi, can I still change the delivery address on my order?", [],
     {"id": 504, "name": "Sam Ortiz", "email": "sam@example.com"}),
]


def without_ref(note: str) -> str:
    return "\n".join(line for line in note.splitlines() if not line.startswith("amends-ref"))


@pytest.fixture
def world(make_settings, fake_zendesk):
    from plugin import create_app

    settings = make_settings(zendesk_api_url=fake_zendesk.url, secret_key=SECRET_KEY, zendesk_app_public_key=PEM,
                             admin_password="pw-for-the-paths-test")
    app = create_app(settings)
    app.config["TESTING"] = True
    yield settings, app, fake_zendesk
    app.extensions["amends"].engine.dispose()


def test_pipeline_sidebar_try_and_draft_agree(world):
    settings, app, fake = world
    runtime = app.extensions["amends"]
    client = app.test_client()
    token = open_sidebar(client)
    for ticket_id, subject, description, tags, requester in TICKETS:
        fake.add_ticket(ticket_id, subject=subject, description=description, requester=requester, tags=tags)
        # Before the pipeline has seen it, as an agent, an admin and the CLI would ask.
        sidebar = ask(client, "suggestion", {"ticket_id": str(ticket_id), "ticket": {
            "subject": subject, "description": description, "requester_id": str(requester["id"]),
            "requester_name": requester["name"], "requester_email": requester["email"], "tags": ",".join(tags)}},
            token).get_json()
        with app.test_request_context():
            tried = watch.try_text(subject, description, requester=requester["name"], email=requester["email"],
                                   tags=", ".join(tags))
        show = requests.get(f"{fake.url}/api/v2/tickets/{ticket_id}.json?include=users,organizations",
                            auth=("agent@example.com/token", "tok"), timeout=5).json()
        drafted = drafting.draft(show, settings)
        # The pipeline, from Zendesk's thin event (the requester by id only: the rest is fetched).
        event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=str(ticket_id), kind="ticket.created",
                            delivery_keys=(f"paths-{ticket_id}",), requester=Person(id=str(requester["id"])))
        event_id = db.accept_event(runtime.engine, event).event_id
        outcome = runtime.tasks.process.call_local(event_id)

        category = drafted["category"]
        assert sidebar["category"] == tried["classification"].category == category, ticket_id
        notes = [c["body"] for c in fake.comments(ticket_id) if c.get("public") is False]
        if outcome == "skipped":
            assert notes == [] and sidebar["letter"] == "" and tried["suggestion"] is None
            assert drafted["note"].endswith("No note: not a complaint that calls for an apology.")
            assert db.get_event(runtime.engine, event_id)["skip_reason"] == "not_a_complaint"
            continue
        assert outcome == "posted"
        [posted] = notes
        assert without_ref(drafted["note"]) == without_ref(tried["suggestion"].note) == without_ref(posted)
        assert sidebar["letter"] == drafted["letter"] == tried["suggestion"].letter
        assert sidebar["subject"] == drafted["subject"]
        # Drafted again once it is posted: the ticket's own note is not an earlier apology.
        assert without_ref(drafting.draft(show, settings)["note"]) == without_ref(posted)
    # What the tickets were meant to show: tags decided one, repeat memory another.
    assert db.ticket_suggestion(runtime.engine, "zendesk", "acme", "7002")["category"] == "damaged_item"
    repeat = [c["body"] for c in fake.comments(7003) if c.get("public") is False][0]
    assert "Repeat: this requester got an apology suggestion on" in repeat


def test_amends_draft_json_note_is_the_posted_note(world, tmp_path):
    """The CLI itself, on the database the service wrote, for a requester with history."""
    settings, app, fake = world
    runtime = app.extensions["amends"]
    for ticket_id, subject, description, tags, requester in (TICKETS[0], TICKETS[2]):
        fake.add_ticket(ticket_id, subject=subject, description=description, requester=requester, tags=tags)
        event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=str(ticket_id), kind="ticket.created",
                            delivery_keys=(f"cli-{ticket_id}",), requester=Person(id=str(requester["id"])))
        show = requests.get(f"{fake.url}/api/v2/tickets/{ticket_id}.json?include=users,organizations",
                            auth=("agent@example.com/token", "tok"), timeout=5).json()
        (tmp_path / f"{ticket_id}.json").write_text(json.dumps(show))
        if ticket_id == TICKETS[2][0]:  # draft before posting, with the first ticket already posted
            result = subprocess.run([sys.executable, "-m", "plugin.cli", "draft", "--ticket",
                                     str(tmp_path / f"{ticket_id}.json"), "--json"], capture_output=True, text=True,
                                    timeout=120, env=clean_environment({
                                        "AMENDS_DATABASE_URL": settings.database_url,
                                        "AMENDS_ZENDESK_SUBDOMAIN": "acme"}))
            assert result.returncode == 0, result.stderr
            drafted = json.loads(result.stdout)
        assert runtime.tasks.process.call_local(db.accept_event(runtime.engine, event).event_id) == "posted"
    [posted] = [c["body"] for c in fake.comments(TICKETS[2][0]) if c.get("public") is False]
    assert "Repeat: this requester" in drafted["note"]
    assert without_ref(drafted["note"]) == without_ref(posted)
