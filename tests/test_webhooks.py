"""POST /webhooks/zendesk through the Flask test client: every status of the policy."""

import json

import pytest

from plugin import db
from tests.conftest import fixture_bytes, signed_headers


def post(client, body: bytes, headers=None, **kwargs):
    return client.post("/webhooks/zendesk", data=body, headers=headers or signed_headers(body), **kwargs)


def pending(app) -> int:
    return app.extensions["amends"].huey.pending_count()


def events(app):
    return db.list_events(app.extensions["amends"].engine)


def test_event_subscription_is_accepted_and_queued(app, client):
    response = post(client, fixture_bytes("ticket_created_event.json"))
    assert response.status_code == 202
    assert response.json["status"] == "accepted"
    [row] = events(app)
    assert (row["helpdesk"], row["account"], row["ticket_id"], row["kind"], row["status"]) == (
        "zendesk", "acme", "35436", "ticket.created", "queued")
    assert pending(app) == 1


def test_trigger_body_is_accepted(app, client):
    response = post(client, fixture_bytes("trigger_body.json"))
    assert response.status_code == 202
    [row] = events(app)
    payload = row["payload"]
    assert payload["requester"]["name"]
    assert payload["description"]


def test_same_delivery_twice_is_a_duplicate(app, client):
    body = fixture_bytes("ticket_created_event.json")
    headers = signed_headers(body, invocation_id="inv-1")
    assert post(client, body, headers).status_code == 202
    again = post(client, body, signed_headers(body, invocation_id="inv-1"))
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    assert len(events(app)) == 1 and pending(app) == 1


def test_same_event_through_a_second_invocation_is_a_duplicate(app, client):
    body = fixture_bytes("ticket_created_event.json")
    assert post(client, body, signed_headers(body, invocation_id="a")).status_code == 202
    assert post(client, body, signed_headers(body, invocation_id="b")).status_code == 200
    assert len(events(app)) == 1


def test_same_ticket_by_trigger_and_by_event_is_a_duplicate(app, client):
    assert post(client, fixture_bytes("ticket_created_event.json")).status_code == 202
    second = post(client, fixture_bytes("trigger_body.json"))
    assert second.status_code == 200 and second.json["status"] == "duplicate"
    assert len(events(app)) == 1 and pending(app) == 1


def test_other_event_type_is_ignored(app, client):
    response = post(client, fixture_bytes("ticket_status_changed_event.json"))
    assert response.status_code == 200 and response.json["status"] == "ignored"
    assert events(app) == [] and pending(app) == 0


def test_trigger_with_other_event_is_ignored(client):
    body = json.dumps({"ticket": {"id": "5"}, "event": "ticket.solved"}).encode()
    assert post(client, body).status_code == 200


@pytest.mark.parametrize("mutate", ["bad_signature", "missing_signature", "missing_timestamp", "stale", "tampered"])
def test_signature_failures_are_401(app, client, mutate):
    body = fixture_bytes("ticket_created_event.json")
    headers = signed_headers(body)
    if mutate == "bad_signature":
        headers["X-Zendesk-Webhook-Signature"] = signed_headers(body, secret="wrong")["X-Zendesk-Webhook-Signature"]
    elif mutate == "missing_signature":
        del headers["X-Zendesk-Webhook-Signature"]
    elif mutate == "missing_timestamp":
        del headers["X-Zendesk-Webhook-Signature-Timestamp"]
    elif mutate == "stale":
        headers = signed_headers(body, timestamp="2020-01-01T00:00:00Z")
    elif mutate == "tampered":
        body = body.replace(b"35436", b"35437")
    response = post(client, body, headers)
    assert response.status_code == 401
    assert response.json["reason"]
    assert events(app) == []


def test_no_secret_configured_refuses_everything(make_settings):
    from plugin import create_app

    app = create_app(make_settings(zendesk_webhook_secret=""))
    body = fixture_bytes("ticket_created_event.json")
    response = app.test_client().post("/webhooks/zendesk", data=body, headers=signed_headers(body, secret=""))
    assert response.status_code == 401
    assert "no webhook signing secret" in response.json["reason"]


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"hello": "world"}', "unrecognised body"),
        (b'{"type": "zen:event-type:ticket.created", "detail": {"subject": "x"}}', "no ticket id"),
        (b'{"ticket": {"subject": "x"}}', "no ticket id"),
        (b'{"ticket": {"id": "{{ticket.id}}"}}', "positive integer"),
        (b'{"type": "zen:event-type:ticket.created", "detail": "x"}', "'detail' must be an object"),
    ],
)
def test_malformed_is_400_with_reason(app, client, body, reason):
    response = post(client, body)
    assert response.status_code == 400
    assert reason in response.json["reason"]
    assert events(app) == []


def test_not_json_is_415(client):
    body = b"ticket=1"
    headers = signed_headers(body)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = post(client, body, headers)
    assert response.status_code == 415
    assert "application/json" in response.json["reason"]


def test_json_with_charset_is_fine(client):
    body = fixture_bytes("ticket_created_event.json")
    headers = signed_headers(body)
    headers["Content-Type"] = "application/json; charset=utf-8"
    assert post(client, body, headers).status_code == 202


def test_oversized_body_is_413(make_settings):
    from plugin import create_app

    app = create_app(make_settings(max_body_bytes=1000))
    body = json.dumps({"ticket": {"id": "1", "description": "x" * 2000}}).encode()
    response = app.test_client().post("/webhooks/zendesk", data=body, headers=signed_headers(body))
    assert response.status_code == 413
    assert "1000 bytes" in response.json["reason"]


def test_unknown_helpdesk_is_404(client):
    body = b"{}"
    assert client.post("/webhooks/nosuchdesk", data=body, headers=signed_headers(body)).status_code == 404


def test_get_is_405(client):
    assert client.get("/webhooks/zendesk").status_code == 405


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json
    assert (body["status"], body["database"], body["queue"]) == ("ok", "ok", "ok")
    # No worker yet and nothing waiting: not an outage (tests/test_health.py has the rest).
    assert body["worker"]["status"] == "missing" and body["worker"]["queue_depth"] == 0


@pytest.mark.parametrize("broken", ["database", "queue"])
def test_healthz_503_when_a_store_is_unreachable(make_settings, broken):
    """Real connections to a port where nothing listens, not a patched probe."""
    from plugin import create_app

    overrides = {"database_url": "postgresql+psycopg://postgres@127.0.0.1:1/nothing"} if broken == "database" \
        else {"queue_url": "redis://127.0.0.1:1/0"}
    app = create_app(make_settings(**overrides), migrate=(broken != "database"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json[broken].startswith("unreachable")
    other = "queue" if broken == "database" else "database"
    assert response.json[other] == "ok"
