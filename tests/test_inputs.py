"""Bad input to the webhook, the feedback API and the sidebar: a 4xx with the reason, nothing
stored, nothing written outside the state folder, on SQLite and on PostgreSQL alike
(plugin/core/inputs.py holds the limits)."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from plugin import db
from plugin.core import inputs, sidebar_auth
from plugin.core.sidebar_auth import SidebarSession
from plugin.services import learning
from tests.conftest import fixture_json, signed_headers

SECRET_KEY = "k" * 40
BAD_IDS = ["²", "١٢٣٤", "1" * 65, "9" * 5000, 10 ** 70, "0", 0, -3, True, 1.5, "12.0", "+7", "7 7"]
BAD_ID_NAMES = ["superscript", "arabic-indic", "65 digits", "5000 digits", "70-digit number", "zero string", "zero",
                "negative", "true", "fraction", "decimal string", "signed", "two numbers"]


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


# --- the checks themselves ------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [("35436", "35436"), (35436, "35436"), (" 42 ", "42"), ("007", "7"),
                                             ("9" * 20, "9" * 20)])
def test_an_id_is_ascii_digits(value, expected):
    assert inputs.helpdesk_id(value) == expected


@pytest.mark.parametrize("value", BAD_IDS + [None, [], {}, "", "9" * 21], ids=BAD_ID_NAMES + [
    "none", "list", "object", "empty", "21 digits"])
def test_anything_else_is_not_an_id(value):
    with pytest.raises(ValueError, match="positive integer of at most 20 digits"):
        inputs.helpdesk_id(value)


@pytest.mark.parametrize("text, reason", [
    (nested(20_000), "nested deeper than 32"),
    (nested(33), "nested deeper than 32"),
    ('{"a": ' * 33 + "1" + "}" * 33, "nested deeper than 32"),
    ("[" + "1" * 5000 + "]", "not valid JSON"),
    ('{"subject": "a\\u0000b"}', "U+0000"),
    ('{"a\\u0000": 1}', "U+0000"),
    ('["\\ud800"]', "unpaired surrogate"),
    (b"\xff\xfe{", "not valid JSON"),
])
def test_a_body_past_the_limits_is_refused_with_a_reason(text, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        inputs.load_json(text)


def test_a_body_within_the_limits_loads():
    assert inputs.load_json(nested(32)) == json.loads(nested(32))
    assert inputs.load_json('{"smile": "\\ud83d\\ude00"}') == {"smile": "\U0001F600"}


@pytest.mark.parametrize("name, ok", [("acme", True), ("other-shop", True), ("a" * 63, True), ("a" * 64, False),
                                      ("", False), ("Acme", False), ("-acme", False), ("acme-", False),
                                      ("../x", False), ("a/b", False), ("a.b", False), ("acme\n", False), (7, False)])
def test_an_account_is_a_zendesk_subdomain(name, ok):
    assert inputs.is_account(name) is ok


# --- the webhook --------------------------------------------------------------------------------

def deliver(client, body: bytes, **header_overrides):
    headers = {**signed_headers(body), **header_overrides}
    return client.post("/webhooks/zendesk", data=body, headers=headers)


def stored_events(app) -> list:
    return db.list_events(app.extensions["amends"].engine)


def assert_refused(response, reason: str, status: int = 400):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json["status"] == "refused" and reason in response.json["reason"]


def test_a_webhook_body_nested_20k_deep_is_400(app, client):
    body = json.dumps({"ticket": {"id": "5", "tags": "x"}})[:-1].encode() + b', "x": ' + nested(20_000).encode() + b"}"
    assert_refused(deliver(client, body), "nested deeper than 32")
    assert stored_events(app) == []


@pytest.mark.parametrize("ticket_id", BAD_IDS, ids=BAD_ID_NAMES)
def test_a_ticket_id_that_is_not_ascii_digits_within_the_column_is_400(app, client, ticket_id):
    """"١٢٣٤" used to become ticket 1234, "²" and 5000 digits a 500, 65 digits a 503 on PostgreSQL."""
    body = fixture_json("ticket_created_event.json")
    body["detail"]["id"] = ticket_id
    assert_refused(deliver(client, json.dumps(body).encode()), "ticket id must be a positive integer")
    assert stored_events(app) == []


def test_a_trigger_body_ticket_id_is_checked_alike(app, client):
    body = json.dumps({"ticket": {"id": "١٢٣٤", "subject": "late"}}).encode()
    assert_refused(deliver(client, body), "ticket id")
    assert stored_events(app) == []


@pytest.mark.parametrize("where", ["invocation header", "event id"])
def test_an_oversized_delivery_id_is_400_not_503(app, client, where):
    """Both become delivery keys (String(255)): PostgreSQL refused them with a 503, so Zendesk retried forever."""
    body = fixture_json("ticket_created_event.json")
    overrides = {}
    if where == "event id":
        body["id"] = "e" * 300
    else:
        overrides["X-Zendesk-Webhook-Invocation-Id"] = "i" * 300
    assert_refused(deliver(client, json.dumps(body).encode(), **overrides), "1 to 128 letters")
    assert stored_events(app) == []


def test_an_oversized_comment_id_is_400(app, client):
    body = fixture_json("ticket_comment_added_event.json")
    body["event"]["comment"]["id"] = "4" * 65
    assert_refused(deliver(client, json.dumps(body).encode()), "'event.comment.id' must be a positive integer")


def test_an_oversized_requester_is_400(app, client):
    """The requester's email or id becomes suggestions.requester_key, String(255), in the worker."""
    for requester in ({"id": "1", "email": "a" * 300 + "@example.com"}, {"id": "7" * 300}):
        body = json.dumps({"ticket": {"id": "5", "subject": "late", "requester": requester}}).encode()
        assert deliver(client, body).status_code == 400
    assert stored_events(app) == []


def test_a_nul_character_in_the_text_is_400(app, client):
    body = fixture_json("ticket_created_event.json")
    body["detail"]["subject"] = "late\u0000parcel"
    assert_refused(deliver(client, json.dumps(body).encode()), "U+0000")
    assert stored_events(app) == []


# --- the feedback API ---------------------------------------------------------------------------

@pytest.fixture
def api_app(make_settings):
    from plugin import create_app

    app = create_app(make_settings(api_token="t0ken", retrain_after=1, secret_key=SECRET_KEY))
    yield app
    app.extensions["amends"].engine.dispose()


def feedback(app, body, **headers):
    headers = headers or {"Authorization": "Bearer t0ken"}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return app.test_client().post("/api/feedback", data=data, headers={"Content-Type": "application/json",
                                                                        **headers})


def feedback_rows(app) -> list:
    with app.extensions["amends"].engine.connect() as conn:
        return list(conn.execute(sa.select(db.feedback)).mappings())


def train_queued(app) -> bool:
    return any(t.name.endswith("amends.train") for t in app.extensions["amends"].huey.pending())


CORRECTION = {"ticket_id": "7", "category": "billing_error", "description": "charged twice"}


@pytest.mark.parametrize("account, reason", [
    ("../../../../../../tmp/amends-escape/evil", "account must be a zendesk account name"),
    ("x" * 300, "account must be a zendesk account name"),  # PostgreSQL: a 500 (String(255))
    ("Acme", "account must be a zendesk account name"),
    ("globex", "does not serve the zendesk account 'globex'"),  # made up: cost a retrain
    (["acme"], "account must be a zendesk account name"),
])
def test_feedback_for_an_account_this_deployment_does_not_serve_is_400(api_app, account, reason):
    assert_refused(feedback(api_app, {**CORRECTION, "account": account}), reason)
    assert feedback_rows(api_app) == [] and not train_queued(api_app)


def test_feedback_for_the_served_account_still_retrains(api_app):
    assert feedback(api_app, {**CORRECTION, "account": "acme"}).status_code == 201
    assert train_queued(api_app)


@pytest.mark.parametrize("ticket_id", BAD_IDS, ids=BAD_ID_NAMES)
def test_feedback_ticket_id_must_be_ascii_digits_within_the_column(api_app, ticket_id):
    assert_refused(feedback(api_app, {**CORRECTION, "ticket_id": ticket_id}), "ticket_id must be a positive integer")
    assert feedback_rows(api_app) == []


@pytest.mark.parametrize("body, reason, status", [
    (nested(20_000), "nested deeper than 32", 400),
    ({**CORRECTION, "extra": json.loads(nested(40))}, "nested deeper than 32", 400),
    ({**CORRECTION, "description": "charged\u0000twice"}, "U+0000", 400),  # PostgreSQL: a 500
    ({**CORRECTION, "source": "s" * 40}, "source must be a short name", 400),  # PostgreSQL: a 500 (String(32))
    ({**CORRECTION, "helpdesk": "freshdesk"}, "helpdesk must be one of zendesk", 400),
    ("{not json", "not valid JSON", 400),
])
def test_feedback_body_past_the_limits_is_refused(api_app, body, reason, status):
    assert_refused(feedback(api_app, body), reason, status)
    assert feedback_rows(api_app) == []


def test_feedback_that_is_not_json_is_415(api_app):
    response = api_app.test_client().post("/api/feedback", data="ticket_id=7",
                                          headers={"Authorization": "Bearer t0ken"})
    assert_refused(response, "application/json", 415)


def test_a_sidebar_session_is_checked_alike(api_app):
    token = sidebar_auth.issue(SECRET_KEY, SidebarSession("zendesk", "acme", "4242"))
    deep = feedback(api_app, nested(20_000), **{sidebar_auth.HEADER: token})
    assert_refused(deep, "nested deeper than 32")
    arabic = feedback(api_app, {**CORRECTION, "ticket_id": "١٢٣٤"}, **{sidebar_auth.HEADER: token})
    assert_refused(arabic, "ticket_id must be a positive integer")
    assert feedback_rows(api_app) == []


# --- the model file stays in the cache folder --------------------------------------------------

def test_an_account_of_dot_dot_segments_never_writes_outside_the_cache(settings, tmp_path, monkeypatch):
    """The worker named the model file after the account: `../` segments put it, and a folder
    made for it, outside the state folder."""
    monkeypatch.setattr(learning, "model_cache_dir", lambda: tmp_path / "state" / "cache")
    (tmp_path / "state" / "cache").mkdir(parents=True)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    try:
        account = "../../../escaped/evil"
        db.add_feedback(engine, "zendesk", account, "1", "correction", from_category="other",
                        to_category="billing_error", text="charged twice", source="api")
        small = [("charged twice for one order", "billing_error"), ("where is my parcel", "delivery_delay")] * 3
        with pytest.raises(ValueError, match="not a helpdesk account name"):
            learning.train_account(engine, "zendesk", account, base_examples=small)
    finally:
        engine.dispose()
    assert not (tmp_path / "escaped").exists()
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["cache"]


# --- the sidebar ------------------------------------------------------------------------------

@pytest.fixture
def sidebar_client(make_settings):
    from plugin import create_app

    app = create_app(make_settings(secret_key=SECRET_KEY))
    token = sidebar_auth.issue(SECRET_KEY, SidebarSession("zendesk", "acme", "4242"))
    yield app.test_client(), {sidebar_auth.HEADER: token, "Content-Type": "application/json"}
    app.extensions["amends"].engine.dispose()


@pytest.mark.parametrize("path", ["/zendesk/sidebar/suggestion", "/zendesk/sidebar/render"])
@pytest.mark.parametrize("body, reason", [
    (nested(20_000), "nested deeper than 32"),
    (json.dumps({"ticket_id": "²", "ticket": {"subject": "late"}}), "ticket_id must be a positive integer"),
    (json.dumps({"ticket_id": "١٢٣٤", "ticket": {"subject": "late"}}), "ticket_id must be a positive integer"),
])
def test_sidebar_bodies_past_the_limits_are_400(sidebar_client, path, body, reason):
    client, headers = sidebar_client
    assert_refused(client.post(path, data=body, headers=headers), reason)
