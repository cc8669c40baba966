"""Outcomes (issue 6): the agent's first public reply measured against our letter.

The ratio on known pairs, the comment event's parsing, every reason a comment is ignored,
once-per-ticket recording, and signed deliveries through the Flask test client.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy.exc import OperationalError

from plugin import db
from plugin.connectors import zendesk_webhooks
from plugin.connectors.zendesk import ZendeskConnector
from plugin.errors import PayloadError
from plugin.models import Classification, Person, Suggestion, TicketEvent
from plugin.services import outcomes
from tests.conftest import fixture_bytes, fixture_json, signed_headers

# The letter Amends wrote for ticket 35436; the fixture's reply is it with the placeholders filled.
LETTER = (
    "Dear Maria,\n\nThank you for writing to us about order [order number]. We promised your stand mixer by "
    "Friday and it has not arrived: that is our failure, and I am sorry it left you without it for the "
    "birthday weekend.\n\nI have asked our carrier to trace the parcel today and will write to you with what "
    "they find by [day]. We are refunding the express shipping fee of [amount] to your original payment "
    "method.\n\nIf you would rather cancel the order, reply to this message and we will do it straight "
    "away.\n\nKind regards,\n[agent name]"
)
CREATED = datetime(2025, 3, 12, 9, 14, 8, tzinfo=timezone.utc).timestamp()  # before the fixture's reply


# --- the measure --------------------------------------------------------------------------------

@pytest.mark.parametrize("letter, reply, expected", [
    ("We are sorry.", "We are sorry.", 1.0),
    ("We are\n\nsorry.", "  We  are sorry. ", 1.0),             # spacing and line breaks are not edits
    ("a b c d", "a b x d", 0.75),                                 # 2 * 3 matched words / 8 words
    ("one two three four", "one two three four five six", 0.8),  # 2 * 4 / 10
    ("one two", "three four", 0.0),
    ("", "", 1.0),
    ("", "Hello", 0.0),
])
def test_kept_ratio_on_known_pairs(letter, reply, expected):
    assert outcomes.kept_ratio(letter, reply) == pytest.approx(expected)


def test_long_texts_with_repeated_words_are_measured_exactly():
    """Past 200 words difflib's autojunk would treat frequent words as junk; it is off."""
    letter = " ".join(["the parcel is late and the fee is refunded"] * 40)
    assert outcomes.kept_ratio(letter, letter + " thanks") == pytest.approx(2 * 360 / 721)  # 9 words x 40


@pytest.mark.parametrize("ratio, accepted, edited", [
    (1.0, True, False), (0.98, True, False), (0.9799, True, True), (0.5, True, True), (0.4999, False, False),
    (0.0, False, False),
])
def test_accepted_and_edited_thresholds(ratio, accepted, edited):
    assert outcomes.judge(ratio) == (accepted, edited)


def test_the_fixture_reply_is_an_edited_acceptance():
    reply = fixture_json("ticket_comment_added_event.json")["event"]["comment"]["body"]
    ratio = outcomes.kept_ratio(LETTER, reply)
    assert 0.85 < ratio < 0.98
    assert outcomes.judge(ratio) == (True, True)


# --- parsing --------------------------------------------------------------------------------------

@pytest.fixture
def connector(make_settings):
    return ZendeskConnector(make_settings())


def comment_body(**changes) -> bytes:
    data = fixture_json("ticket_comment_added_event.json")
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        if value is ...:
            target.pop(last, None)
        else:
            target[last] = value
    return json.dumps(data).encode()


def test_comment_event_is_parsed(connector):
    event = connector.parse_event({"X-Zendesk-Webhook-Invocation-Id": "inv-7"}, account="acme",
                                  body=fixture_bytes("ticket_comment_added_event.json"))
    assert isinstance(event, outcomes.CommentEvent)
    assert (event.helpdesk, event.account, event.ticket_id, event.comment_id) == ("zendesk", "acme", "35436",
                                                                                  "41874412339412")
    assert event.public is True and event.author_id == "378451920015" and event.author_is_staff is True
    assert event.requester_id == "20978392"
    assert event.body.startswith("Dear Maria,") and event.body.endswith("Sam Okafor")
    assert event.occurred_at == "2025-03-12T10:02:41.917204385Z"
    assert event.delivery_keys == ("invocation:inv-7", "event:8a3c2e71-4b9d-4f05-b6e2-7d1f0c9a5e34")


def test_integer_ids_are_read_as_text(connector):
    event = connector.parse_event({}, account="acme", body=comment_body(event__comment__id=41874412339412,
                                                   event__comment__author__id=378451920015))
    assert (event.comment_id, event.author_id) == ("41874412339412", "378451920015")


@pytest.mark.parametrize("changes, reason", [
    ({"event": ...}, "needs an 'event.comment' object"),
    ({"event__comment": "text"}, "needs an 'event.comment' object"),
    ({"event__comment__is_public": "yes"}, "'event.comment.is_public' must be true or false"),
    ({"event__comment__is_public": ...}, "'event.comment.is_public' must be true or false"),
    ({"event__comment__body": ["x"]}, "'event.comment.body' must be a string"),
    ({"event__comment__author": ...}, "'event.comment.author.id' is missing"),
    ({"event__comment__id": ...}, "'event.comment.id' is missing"),
    ({"detail__id": "abc"}, "ticket id must be a positive integer"),
])
def test_malformed_comment_events_are_refused_with_the_reason(connector, changes, reason):
    with pytest.raises(PayloadError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        connector.parse_event({}, account="acme", body=comment_body(**changes))


# --- the subscription -------------------------------------------------------------------------------

def test_the_webhook_subscribes_to_tickets_and_comments():
    assert zendesk_webhooks.desired("https://a.example/webhooks/zendesk")["subscriptions"] == [
        "zen:event-type:ticket.created", "zen:event-type:ticket.comment_added"]
    old = {**zendesk_webhooks.desired("https://a.example/webhooks/zendesk"),
           "subscriptions": ["zen:event-type:ticket.created"]}
    assert zendesk_webhooks._drifted(old, "https://a.example/webhooks/zendesk")
    assert not zendesk_webhooks._drifted(zendesk_webhooks.desired("https://a.example/webhooks/zendesk"),
                                         "https://a.example/webhooks/zendesk")


# --- recording through the webhook -------------------------------------------------------------------

def engine_of(app):
    return app.extensions["amends"].engine


def add_suggestion(engine, ticket="35436", *, letter=LETTER, category="delivery_delay", posted=True,
                   received_at=CREATED):
    """A ticket.created event taken through compose (and the post, unless posted=False)."""
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=ticket, kind="ticket.created",
                        delivery_keys=(f"k{ticket}",), subject="Late order", description="Still not here.",
                        requester=Person(id="20978392", name="Maria Gonzalez"))
    event_id = db.accept_event(engine, event, now=received_at).event_id
    claim = db.claim(engine, event_id, "test-worker", 30, now=received_at)
    c = Classification(category, 0.9, evidence=("late",))
    db.save_suggestion(engine, claim, Suggestion(c, "Your order", letter, f"note\n{letter}", ("amends_suggested",)),
                       now=received_at)
    if posted:
        db.mark_post_started(engine, claim, now=received_at + 4)
        db.mark_note_posted(engine, claim, now=received_at + 5)
        db.finish(engine, claim, db.POSTED, now=received_at + 5)
    else:
        db.finish(engine, claim, db.FAILED, "Zendesk refused the note: 422", now=received_at + 5)
    return event_id


def deliver(client, body: bytes, invocation_id: str | None = None):
    return client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, invocation_id=invocation_id))


def test_agent_reply_is_recorded_once_with_its_ratio(app, client):
    event_id = add_suggestion(engine_of(app))
    body = fixture_bytes("ticket_comment_added_event.json")
    reply = fixture_json("ticket_comment_added_event.json")["event"]["comment"]["body"]
    expected = round(outcomes.kept_ratio(LETTER, reply), 4)

    first = deliver(client, body)
    assert first.status_code == 200, first.json
    assert first.json == {"status": "recorded", "ratio": expected, "accepted": True, "edited": True}
    row = db.get_outcome(engine_of(app), "zendesk", "acme", "35436")
    assert (row["event_id"], row["category"], row["comment_id"], row["author_id"]) == (
        event_id, "delivery_delay", "41874412339412", "378451920015")
    assert row["ratio"] == expected and row["accepted"] and row["edited"] and not row["inserted"]
    assert row["letter_words"] == len(LETTER.split()) and row["reply_words"] == len(reply.split())
    assert row["commented_at"] == pytest.approx(datetime(2025, 3, 12, 10, 2, 41, 917204,
                                                         tzinfo=timezone.utc).timestamp())
    # Zendesk redelivers (a new invocation of the same event): nothing changes.
    again = deliver(client, body)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    # A later reply by the agent is not the first one.
    later = deliver(client, comment_body(event__comment__id="41874412339999", event__comment__body="Any news?"))
    assert later.status_code == 200 and later.json["status"] == "ignored"
    assert "only the first agent reply" in later.json["reason"]
    assert db.get_outcome(engine_of(app), "zendesk", "acme", "35436")["ratio"] == expected
    assert db.list_events(engine_of(app))[0]["kind"] == "ticket.created"  # comments are never queued
    assert len(db.list_events(engine_of(app))) == 1


def test_insert_from_the_sidebar_is_noted(app, client):
    add_suggestion(engine_of(app))
    db.add_feedback(engine_of(app), "zendesk", "acme", "35436", "insert", to_category="delivery_delay",
                    source="sidebar")
    assert deliver(client, fixture_bytes("ticket_comment_added_event.json")).json["status"] == "recorded"
    assert db.get_outcome(engine_of(app), "zendesk", "acme", "35436")["inserted"] is True


def test_an_unrelated_reply_counts_as_not_accepted(app, client):
    add_suggestion(engine_of(app))
    answer = deliver(client, comment_body(event__comment__body="Hi Maria, could you send a photo of the label?"))
    assert answer.json["status"] == "recorded" and answer.json["accepted"] is False
    assert answer.json["edited"] is False and answer.json["ratio"] < 0.1


@pytest.mark.parametrize("changes, reason", [
    ({"event__comment__is_public": False}, "a private comment (internal note)"),
    ({"event__comment__author__id": "20978392", "event__comment__author__is_staff": False},
     "a comment by the requester"),
    ({"event__comment__author__id": "55501", "event__comment__author__is_staff": False},
     "not an agent"),
    ({"event__comment__body": "  \n "}, "an empty comment"),
    ({"time": "2025-03-12T09:14:10Z"}, "written before our note was posted"),
    ({"event__comment__body": "Summary for the team.\namends-ref: MARKER"}, "our own note"),
])
def test_comments_that_are_not_the_agents_reply_are_ignored(app, client, changes, reason):
    event_id = add_suggestion(engine_of(app))
    marker = db.get_event(engine_of(app), event_id)["note_marker"]
    if "event__comment__body" in changes:
        changes["event__comment__body"] = changes["event__comment__body"].replace("MARKER", marker)
    answer = deliver(client, comment_body(**changes))
    assert answer.status_code == 200 and answer.json["status"] == "ignored"
    assert reason in answer.json["reason"]
    assert db.get_outcome(engine_of(app), "zendesk", "acme", "35436") is None


def test_tickets_without_a_posted_note_are_ignored(app, client):
    answer = deliver(client, fixture_bytes("ticket_comment_added_event.json"))
    assert answer.json == {"status": "ignored", "reason": "no Amends note was posted on this ticket"}
    add_suggestion(engine_of(app), posted=False)  # composed, but Zendesk refused the note
    assert deliver(client, fixture_bytes("ticket_comment_added_event.json")).json["status"] == "ignored"
    assert db.get_outcome(engine_of(app), "zendesk", "acme", "35436") is None


def test_comment_events_are_verified_before_parsing(app, client):
    body = fixture_bytes("ticket_comment_added_event.json")
    headers = signed_headers(body, secret="not-our-secret")
    assert client.post("/webhooks/zendesk", data=body, headers=headers).status_code == 401
    malformed = comment_body(event__comment=None)
    answer = deliver(client, malformed)
    assert answer.status_code == 400 and "event.comment" in answer.json["reason"]


def test_storage_down_is_503_so_zendesk_retries(app, client, monkeypatch):
    add_suggestion(engine_of(app))

    def down(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("database is gone"))

    monkeypatch.setattr(db, "posted_suggestion", down)
    answer = deliver(client, fixture_bytes("ticket_comment_added_event.json"))
    assert answer.status_code == 503 and answer.json["status"] == "unavailable"
