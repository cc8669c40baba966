"""The Zendesk connector on its own: parsing both shapes, the show-ticket mapping, errors, comments."""

import pytest
import requests

from plugin.connectors.base import raise_for_response, retry_after_seconds
from plugin.connectors.zendesk import ZendeskConnector, ticket_from_show_response
from plugin.errors import AuthError, NotFound, PermanentError, RateLimited, TransientError
from tests.conftest import fixture_bytes, fixture_json


@pytest.fixture
def connector(make_settings, fake_zendesk):
    # No test here needs a short deadline; a roomy one keeps a loaded test machine from tripping it.
    return ZendeskConnector(make_settings(zendesk_api_url=fake_zendesk.url, http_timeout_seconds=5.0,
                                          lease_seconds=10.0))


def test_event_subscription_is_parsed_with_string_ids(connector):
    event = connector.parse_event({"X-Zendesk-Webhook-Invocation-Id": "inv-9"}, account="acme",
                                  body=fixture_bytes("ticket_created_event.json"))
    assert (event.helpdesk, event.account, event.ticket_id, event.kind) == ("zendesk", "acme", "35436",
                                                                            "ticket.created")
    assert event.delivery_keys == ("invocation:inv-9", "event:5e1f0d3a-8c2b-4f6e-9a7d-2b4c6e8f0a11")
    assert event.requester.id == "20978392" and event.requester.name == ""
    assert event.tags == ("delivery", "express_shipping", "web_form")
    assert event.channel == "web"
    assert event.is_thin  # names are not in the event: the worker fetches them


def test_trigger_body_is_parsed_and_complete(connector):
    event = connector.parse_event({}, account="acme", body=fixture_bytes("trigger_body.json"))
    assert event.ticket_id == "35436" and event.kind == "ticket.created"
    assert event.requester.name == "Maria Gonzalez" and event.requester.first_name == "Maria"
    assert event.organization == "Gonzalez Catering LLC"
    assert event.tags == ("delivery", "express_shipping", "web_form")
    assert event.delivery_keys == ()
    assert not event.is_thin


def test_ignored_event_type_gives_none(connector):
    assert connector.parse_event({}, account="acme", body=fixture_bytes("ticket_status_changed_event.json")) is None


def test_show_ticket_response_maps_requester_org_and_fields():
    ticket = ticket_from_show_response(fixture_json("show_ticket_35436.json"))
    data = fixture_json("show_ticket_35436.json")
    requester = next(u for u in data["users"] if u["id"] == data["ticket"]["requester_id"])
    assert ticket.id == "35436"
    assert ticket.requester.name == requester["name"] and ticket.requester.first_name == "Maria"
    assert ticket.requester.locale == requester["locale"]
    assert ticket.organization == data["organizations"][0]["name"]
    expected_fields = {str(f["id"]): str(f["value"]) for f in data["ticket"]["custom_fields"]
                       if f["value"] not in (None, "")}
    assert dict(ticket.custom_fields) == expected_fields and expected_fields


def test_fetch_ticket_against_the_fake(connector, fake_zendesk):
    fake_zendesk.add_ticket(12, subject="Broken", description="It arrived broken",
                            requester={"id": 3, "name": "Li Wei", "email": "li@example.com", "locale": "en-GB"},
                            organization={"id": 4, "name": "Wei Ltd"}, custom_fields=[{"id": 99, "value": "A-1"}])
    event = connector.parse_event({}, account="acme", body=b'{"ticket": {"id": "12"}}')
    ticket = connector.fetch_ticket(event)
    assert ticket.requester.name == "Li Wei" and ticket.requester.locale == "en-GB"
    assert ticket.organization == "Wei Ltd" and ticket.custom_fields == (("99", "A-1"),)
    assert ticket.description == "It arrived broken"


def test_find_note_pages_through_comments(connector, fake_zendesk):
    fake_zendesk.add_ticket(5, subject="s", description="d",
                            requester={"id": 1, "name": "A B", "email": "a@example.com", "locale": "en"})
    connector.post_internal_note("5", "first note amends-ref: abc123")
    for i in range(150):  # newer comments push ours past the first page
        connector.post_internal_note("5", f"agent note {i}")
    assert connector.find_note("5", "abc123")
    assert not connector.find_note("5", "zzz999")
    assert len([r for r in fake_zendesk.requests if "/comments" in r.path]) >= 3


def test_tags_are_added_not_replaced(connector, fake_zendesk):
    fake_zendesk.add_ticket(6, subject="s", description="d", tags=["keep_me"],
                            requester={"id": 1, "name": "A B", "email": "a@example.com", "locale": "en"})
    connector.add_tags("6", ["amends_suggested"])
    assert set(fake_zendesk.ticket_tags(6)) == {"keep_me", "amends_suggested"}


def response(status, headers=None, text=""):
    r = requests.Response()
    r.status_code = status
    r.headers.update(headers or {})
    r._content = text.encode()
    return r


@pytest.mark.parametrize(
    "status, headers, error",
    [
        (429, {"Retry-After": "30"}, RateLimited),
        (503, {"Retry-After": "5"}, RateLimited),
        (500, {}, TransientError),
        (502, {}, TransientError),
        (409, {}, TransientError),
        (401, {}, AuthError),
        (403, {}, AuthError),
        (404, {}, NotFound),
        (422, {}, PermanentError),
        (400, {}, PermanentError),
    ],
)
def test_status_mapping(status, headers, error):
    with pytest.raises(error) as caught:
        raise_for_response(response(status, headers, '{"error": "x"}'), "post note")
    assert f"HTTP {status}" in caught.value.reason
    if error is RateLimited:
        assert caught.value.retry_after == float(headers["Retry-After"])


def test_2xx_passes():
    raise_for_response(response(200), "x")
    raise_for_response(response(201), "x")


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("12") == 12
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10
    assert retry_after_seconds(None, default=60) == 60
    assert retry_after_seconds("soon", default=60) == 60
