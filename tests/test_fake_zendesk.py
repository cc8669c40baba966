"""Tests of the Zendesk fake (tests/fakes/zendesk.py) and the contract checker (tests/contract.py)."""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # plain `pytest` puts tests/ (not the root) on sys.path
    sys.path.insert(0, str(PROJECT_ROOT))

from tests.contract import SPEC_PATH, load_spec, validate_request  # noqa: E402
from tests.fakes.zendesk import AGENT_ID, FakeZendesk  # noqa: E402

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "zendesk"
SHARED_OAS = Path(__file__).resolve().parents[2] / "shared" / "contracts" / "zendesk-support-oas.yaml"
TICKET = "/api/v2/tickets/35436.json"
NOTE = {"ticket": {"comment": {"body": "Internal draft: apologise for the late delivery.", "public": False}}}


@pytest.fixture
def zendesk():
    with FakeZendesk() as fake:
        fake.add_ticket(
            35436, subject="Express order A-100245 still not delivered",
            description="My express order A-100245 was due on March 7th and has not arrived.",
            requester={"id": 20978392, "name": "Maria Gonzalez", "email": "maria@example.com", "locale": "en-US"},
            organization={"id": 509974, "name": "Gonzalez Catering LLC"},
            assignee={"id": 378451920015, "name": "Sam Patel", "email": "sam@acme.example"},
            tags=["delivery"], custom_fields=[{"id": 360014159265, "value": "A-100245"}])
        yield fake


@pytest.fixture
def api(zendesk):
    session = requests.Session()
    session.auth = ("agent@example.com/token", "tok")  # Zendesk API-token basic auth
    session.headers["Accept"] = "application/json"
    base = zendesk.url

    class Api:
        def __getattr__(self, method):
            return lambda path, **kw: session.request(method.upper(), base + path, timeout=5, **kw)

    yield Api()
    session.close()


# --- contract checker ---------------------------------------------------------------------------


def test_spec_subset_is_small_and_declares_its_source():
    spec = load_spec()
    assert spec["openapi"] == "3.0.3"
    assert spec["x-amends-source"]["sha256"] == "e9c8068daa4721b5cf7d148cb5698596e7109638313860fb296a60ccd9a39d30"
    assert set(spec["paths"]) == {
        "/api/v2/tickets/{ticket_id}", "/api/v2/tickets/{ticket_id}/comments", "/api/v2/tickets/{ticket_id}/tags",
        "/api/v2/users/{user_id}", "/api/v2/organizations/{organization_id}", "/api/v2/ticket_fields",
        "/oauth/tokens"}
    assert "delete" not in spec["paths"]["/api/v2/tickets/{ticket_id}"]


@pytest.mark.parametrize("path", ["/api/v2/tickets/35436", "/api/v2/tickets/35436.json"])
def test_valid_note_passes_with_or_without_json_suffix(path):
    assert validate_request("PUT", path, NOTE) == []


@pytest.mark.parametrize("comment, expected", [
    ({"body": "x", "public": "false"}, "body.ticket.comment.public: 'false' is not of type 'boolean'"),
    ({"body": 1}, "body.ticket.comment.body: 1 is not of type 'string'"),
    ({"bdy": "x"}, "body.ticket.comment.bdy: unknown key 'bdy'"),
    ({"body": "x", "id": 5}, "body.ticket.comment.id: Tried to write read-only property"),
])
def test_comment_violations(comment, expected):
    errors = validate_request("PUT", TICKET, {"ticket": {"comment": comment}})
    assert any(error.startswith(f"PUT {TICKET}: {expected}") for error in errors), errors


def test_ticket_field_violations():
    assert validate_request("PUT", TICKET, {"ticket": {"status": "done"}})
    assert validate_request("PUT", TICKET, {"ticket": {"assignee_id": None}})  # not nullable in this spec
    assert validate_request("PUT", TICKET, {"ticket": {"due_at": None}}) == []  # nullable
    assert validate_request("PUT", TICKET, {"ticket": {"additional_tags": ["x"]}})  # Update Many only
    assert validate_request("PUT", TICKET, {"tikcet": {}})


def test_custom_fields_use_the_documented_id_value_shape():
    # The spec points TicketUpdateInput.custom_fields at the ticket-field *definition*; see ERRATA.
    assert validate_request("PUT", TICKET, {"ticket": {"custom_fields": [{"id": 1, "value": "A-1"}]}}) == []
    errors = validate_request("PUT", TICKET, {"ticket": {"custom_fields": [{"id": "1", "valu": "A-1"}]}})
    assert len(errors) == 2 and "did you mean 'value'" in errors[1]


def test_paths_and_methods():
    assert validate_request("GET", "/api/v2/tickets/35436.json?include=users,organizations", None) == []
    assert "must be an integer" in validate_request("GET", "/api/v2/tickets/abc.json", None)[0]
    assert "method not in the contract" in validate_request("POST", TICKET, {"ticket": {}})[0]
    assert "no such path" in validate_request("POST", "/api/v2/webhooks", {"webhook": {}})[0]
    assert "takes no request body" in validate_request("GET", TICKET, {"x": 1})[0]


def test_tags_body_rules():
    path = "/api/v2/tickets/35436/tags.json"
    assert validate_request("PUT", path, {"tags": ["a", "b"]}) == []
    assert validate_request("PUT", path, {"tags": ["a"], "updated_stamp": "2025-03-12T09:14:06Z",
                                          "safe_update": "true"}) == []
    assert validate_request("PUT", path, {"tags": "a b"})
    assert validate_request("PUT", path, {"tags": ["a"], "remove_tags": ["b"]})
    assert validate_request("PUT", path, {"tags": ["a"], "safe_update": True})  # updated_stamp missing


def test_oauth_body_rules():
    refresh = {"grant_type": "refresh_token", "refresh_token": "r", "client_id": "amends",
               "client_secret": "s", "expires_in": 86400, "refresh_token_expires_in": 604800}
    assert validate_request("POST", "/oauth/tokens", refresh) == []
    assert validate_request("POST", "/oauth/tokens", {**refresh, "scopes": "read"})  # Zendesk's own example typo
    assert validate_request("POST", "/oauth/tokens", {**refresh, "grant_type": "password"})
    assert validate_request("POST", "/oauth/tokens", {"grant_type": "authorization_code", "client_id": "c"})


# --- the fake: notes, tickets, tags, comments --------------------------------------------------------


def test_valid_note_is_accepted_and_stored(zendesk, api):
    answer = api.put(TICKET, json=NOTE)
    assert answer.status_code == 200, answer.text
    payload = answer.json()
    assert payload["ticket"]["id"] == 35436
    event = payload["audit"]["events"][0]
    assert event["type"] == "Comment" and event["public"] is False and isinstance(event["id"], int)
    note = zendesk.comments(35436)[-1]
    assert note["body"] == NOTE["ticket"]["comment"]["body"] and note["public"] is False
    assert note["author_id"] == AGENT_ID and note["sent"] == NOTE["ticket"]["comment"]
    assert zendesk.contract_errors == []
    record = zendesk.wait_for("PUT", r"/tickets/35436\.json$")
    assert record.json == NOTE and record["status"] == 200 and record.headers["Authorization"].startswith("Basic ")


def test_public_defaults_to_the_first_comment_value_and_is_recorded_as_sent(zendesk, api):
    assert api.put(TICKET, json={"ticket": {"comment": {"body": "hello"}}}).status_code == 200
    stored = zendesk.comments(35436)[-1]
    assert stored["public"] is True and "public" not in stored["sent"]


@pytest.mark.parametrize("comment, field", [
    ({"body": "x", "public": "false"}, "public"),
    ({"body": 1, "public": False}, "body"),
    ({"bdy": "x", "public": False}, "bdy"),
])
def test_contract_violations_are_recorded_and_answered_400(zendesk, api, comment, field):
    answer = api.put(TICKET, json={"ticket": {"comment": comment}})
    assert answer.status_code == 400
    assert answer.json()["error"] == "InvalidRequest"
    assert len(zendesk.comments(35436)) == 1  # only the description: nothing applied
    assert zendesk.contract_errors and all(e.startswith(f"PUT {TICKET}: ") for e in zendesk.contract_errors)
    assert f"comment.{field}" in zendesk.contract_errors[0]


def test_invalid_status_is_a_contract_error(zendesk, api):
    assert api.put(TICKET, json={"ticket": {"status": "done"}}).status_code == 400
    assert "body.ticket.status: 'done' is not one of" in zendesk.contract_errors[0]
    assert zendesk.ticket(35436)["status"] == "new"


def test_unknown_endpoint_is_a_contract_error(zendesk, api):
    answer = api.post("/api/v2/triggers", json={"trigger": {"title": "Amends"}})
    assert answer.status_code == 400
    assert zendesk.contract_errors == ["POST /api/v2/triggers: no such path in Zendesk's Support API contract"]


def test_incomplete_webhook_is_a_contract_error(zendesk, api):
    # The Webhooks API is not in the OpenAPI document: fixtures/zendesk/webhooks-api.schema.json checks it.
    answer = api.post("/api/v2/webhooks", json={"webhook": {"name": "Amends", "endpoint": "https://x"}})
    assert answer.status_code == 400
    assert "POST /api/v2/webhooks: body.webhook: 'status' is a required property" in zendesk.contract_errors


def test_non_json_body_is_a_contract_error(zendesk, api):
    answer = api.put(TICKET, data="ticket=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 400 and "Content-Type must be application/json" in zendesk.contract_errors[0]


def test_authentication(zendesk, api):
    url = zendesk.url + TICKET
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + base64.b64encode(
            b"agent@example.com/token:wrong").decode()}, {"Authorization": "Basic " + base64.b64encode(
            b"agent@example.com:tok").decode()}):
        answer = requests.get(url, headers=headers, timeout=5)
        assert answer.status_code == 401 and answer.json() == {"error": "Couldn't authenticate you"}
    assert requests.get(url, headers={"Authorization": "Bearer oauth-tok"}, timeout=5).status_code == 200
    assert zendesk.contract_errors == []


def test_show_ticket_and_side_loading(zendesk, api):
    plain = api.get(TICKET).json()
    assert set(plain) == {"ticket"}
    ticket = plain["ticket"]
    assert ticket["requester_id"] == 20978392 and ticket["organization_id"] == 509974
    assert ticket["custom_fields"] == [{"id": 360014159265, "value": "A-100245"}]
    assert ticket["url"] == zendesk.url + TICKET and ticket["via"] == {"channel": "web"}
    loaded = api.get(TICKET, params={"include": "users,organizations"}).json()
    users = {u["id"]: u for u in loaded["users"]}
    assert users[20978392]["name"] == "Maria Gonzalez" and users[20978392]["locale"] == "en-US"
    assert users[20978392]["organization_id"] == 509974 and users[20978392]["role"] == "end-user"
    assert users[378451920015]["role"] == "agent"
    assert loaded["organizations"][0]["name"] == "Gonzalez Catering LLC"
    assert api.get("/api/v2/users/20978392.json").json()["user"]["email"] == "maria@example.com"
    assert api.get("/api/v2/organizations/509974").json()["organization"]["id"] == 509974


def test_unknown_ticket_is_404_unless_auto_created(zendesk, api):
    answer = api.get("/api/v2/tickets/999.json")
    assert answer.status_code == 404 and answer.json() == {"error": "RecordNotFound", "description": "Not found"}
    with FakeZendesk(auto_tickets=True) as auto:
        ticket = requests.get(auto.url + "/api/v2/tickets/4242.json", params={"include": "users"},
                              auth=("agent@example.com/token", "tok"), timeout=5).json()
    assert ticket["ticket"]["id"] == 4242 and ticket["users"][0]["name"] == "Jane Doe"


def test_update_ticket_changes_tags_and_fields(zendesk, api):
    body = {"ticket": {"tags": ["delivery", "vip"], "priority": "high",
                       "custom_fields": [{"id": 360014159265, "value": "A-100246"}]}}
    payload = api.put(TICKET, json=body).json()
    assert payload["ticket"]["tags"] == ["delivery", "vip"] and payload["ticket"]["priority"] == "high"
    assert payload["ticket"]["custom_fields"] == [{"id": 360014159265, "value": "A-100246"}]
    assert {e["field_name"] for e in payload["audit"]["events"]} == {"tags", "priority"}


def test_tags_endpoint_adds_without_replacing(zendesk, api):
    answer = api.put("/api/v2/tickets/35436/tags.json", json={"tags": ["amends_drafted", "delivery"]})
    assert answer.status_code == 200 and answer.json() == {"tags": ["delivery", "amends_drafted"]}
    assert zendesk.ticket_tags(35436) == ["delivery", "amends_drafted"]


def test_safe_update_conflict_is_409(zendesk, api):
    body = {"tags": ["x"], "updated_stamp": "2001-01-01T00:00:00Z", "safe_update": True}
    assert api.put("/api/v2/tickets/35436/tags", json=body).status_code == 409
    body["updated_stamp"] = zendesk.ticket(35436)["updated_at"]
    assert api.put("/api/v2/tickets/35436/tags", json=body).status_code == 200


def _add_notes(api, count):
    for index in range(count):
        assert api.put(TICKET, json={"ticket": {"comment": {"body": f"note {index}", "public": False}}}).ok


def test_comments_offset_pagination(zendesk, api):
    _add_notes(api, 4)
    all_ids = [c["id"] for c in zendesk.comments(35436)]
    first = api.get("/api/v2/tickets/35436/comments.json", params={"per_page": 2}).json()
    assert first["count"] == 5 and first["previous_page"] is None and len(first["comments"]) == 2
    seen, page = [], first
    while True:
        seen += [c["id"] for c in page["comments"]]
        if not page["next_page"]:
            break
        page = requests.get(page["next_page"], auth=("agent@example.com/token", "tok"), timeout=5).json()
    assert seen == all_ids and page["previous_page"]
    desc = api.get("/api/v2/tickets/35436/comments", params={"sort_order": "desc", "per_page": 500}).json()
    assert [c["id"] for c in desc["comments"]] == all_ids[::-1] and desc["next_page"] is None
    assert "sent" not in desc["comments"][0]


def test_comments_cursor_pagination(zendesk, api):
    _add_notes(api, 4)
    all_ids = [c["id"] for c in zendesk.comments(35436)]
    page = api.get("/api/v2/tickets/35436/comments.json", params={"page[size]": 2, "sort": "-created_at"}).json()
    assert page["meta"]["has_more"] is True and page["links"]["prev"] is None
    seen = []
    while True:
        seen += [c["id"] for c in page["comments"]]
        if not page["meta"]["has_more"]:
            break
        page = requests.get(page["links"]["next"], auth=("agent@example.com/token", "tok"), timeout=5).json()
    assert seen == all_ids[::-1] and page["links"]["next"] is None
    back = requests.get(page["links"]["prev"], auth=("agent@example.com/token", "tok"), timeout=5).json()
    assert [c["id"] for c in back["comments"]] == all_ids[::-1][2:4]
    assert api.get("/api/v2/tickets/35436/comments", params={"page[size]": 2, "sort": "id"}).status_code == 400


# --- fault injection ----------------------------------------------------------------------------------


def test_inject_429_with_retry_after(zendesk, api):
    zendesk.inject("PUT", r"/tickets/35436", status=429, headers={"Retry-After": "2"},
                   body={"error": "TooManyRequests", "description": "Rate limit exceeded"})
    answer = api.put(TICKET, json=NOTE)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "2"
    assert answer.json()["error"] == "TooManyRequests"
    assert len(zendesk.comments(35436)) == 1  # not applied
    assert api.put(TICKET, json=NOTE).status_code == 200  # the fault was consumed
    assert len(zendesk.comments(35436)) == 2


def test_inject_status_defaults_and_times(zendesk, api):
    zendesk.inject("GET", r"/tickets/35436", status=503, times=2)
    assert [api.get(TICKET).status_code for _ in range(3)] == [503, 503, 200]
    zendesk.inject("PUT", r"/tickets/\d+", status=500, after_apply=True)  # stored, but answered 500
    assert api.put(TICKET, json=NOTE).json()["error"] == "InternalServerError"
    assert zendesk.comments(35436)[-1]["public"] is False


def test_delay_after_apply_stores_then_hangs_until_release(zendesk, api):
    zendesk.inject("PUT", r"/tickets/35436", delay=30, after_apply=True)
    answers = []
    caller = threading.Thread(target=lambda: answers.append(api.put(TICKET, json=NOTE)))
    caller.start()
    record = zendesk.wait_for("PUT", r"/tickets/35436", timeout=5)
    assert zendesk.comments(35436)[-1]["sent"] == NOTE["ticket"]["comment"]  # stored already
    caller.join(0.3)
    assert caller.is_alive() and answers == [] and record.status is None  # but no answer yet
    zendesk.release()
    caller.join(5)
    assert answers[0].status_code == 200 and record.status == 200
    assert len(zendesk.comments(35436)) == 2  # applied once


def test_delay_lets_the_client_time_out(zendesk, api):
    zendesk.inject("PUT", r"/tickets/35436", delay=30)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.put(zendesk.url + TICKET, json=NOTE, auth=("agent@example.com/token", "tok"), timeout=0.2)
    assert len(zendesk.comments(35436)) == 1  # delayed before applying: nothing stored yet
    zendesk.release()


def test_stop_releases_hanging_requests(api):
    fake = FakeZendesk(auto_tickets=True).start()
    fake.inject("GET", r"/tickets/", delay=60)
    caller = threading.Thread(target=lambda: requests.get(
        fake.url + "/api/v2/tickets/1.json", auth=("agent@example.com/token", "tok"), timeout=10), daemon=True)
    caller.start()
    fake.wait_for("GET", r"/tickets/1", timeout=5)
    started = time.monotonic()
    fake.stop()
    caller.join(5)
    assert time.monotonic() - started < 3 and not caller.is_alive()


def test_wait_for_times_out_with_a_helpful_message(zendesk, api):
    api.get(TICKET)
    with pytest.raises(TimeoutError, match=r"received: GET /api/v2/tickets/35436\.json"):
        zendesk.wait_for("PUT", r"/tickets/", timeout=0.05)


# --- fixtures -----------------------------------------------------------------------------------------


def test_payload_fixtures_have_zendesk_shapes():
    created = json.loads((FIXTURES / "ticket_created_event.json").read_text())
    assert created["type"] == "zen:event-type:ticket.created" and isinstance(created["account_id"], int)
    assert created["subject"] == f"zen:ticket:{created['detail']['id']}"
    ids = [v for k, v in created["detail"].items() if k == "id" or (k.endswith("_id") and k != "external_id")]
    assert ids and all(isinstance(v, str) for v in ids)
    changed = json.loads((FIXTURES / "ticket_status_changed_event.json").read_text())
    assert changed["type"] == "zen:event-type:ticket.status_changed"
    shown = json.loads((FIXTURES / "show_ticket_35436.json").read_text())
    assert shown["ticket"]["id"] == 35436 and shown["users"][0]["name"] == "Maria Gonzalez"
    trigger = json.loads((FIXTURES / "trigger_body.json").read_text())
    assert isinstance(trigger["ticket"]["tags"], str) and trigger["ticket"]["id"] == "35436"


@pytest.mark.skipif(not SHARED_OAS.exists(), reason=f"shared Zendesk OpenAPI file not found at {SHARED_OAS}")
def test_subset_regenerates_identically():
    sys.path.insert(0, str(FIXTURES))
    try:
        import make_openapi_subset
    finally:
        sys.path.remove(str(FIXTURES))
    assert make_openapi_subset.generate(SHARED_OAS) == SPEC_PATH.read_text(encoding="utf-8"), (
        "tests/fixtures/zendesk/openapi-subset.json is stale: rerun make_openapi_subset.py")


def test_latency_delays_every_answer_and_concurrent_waits_overlap():
    auth = ("agent@example.com/token", "tok")
    with FakeZendesk(auto_tickets=True, latency=0.3) as fake:
        started = time.monotonic()
        assert requests.get(fake.url + "/api/v2/tickets/7.json", auth=auth, timeout=5).status_code == 200
        assert time.monotonic() - started >= 0.3
        # Four at once take about one latency, not four: the fake answers each on its own thread.
        callers = [threading.Thread(target=requests.get, args=(fake.url + f"/api/v2/tickets/{n}.json",),
                                    kwargs={"auth": auth, "timeout": 5}) for n in range(8, 12)]
        started = time.monotonic()
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
        assert 0.3 <= time.monotonic() - started < 1.0
        assert len(fake.requests) == 5
