"""Fuzzing the two doors anyone can knock on: the webhook and the feedback API. Whatever the
body, headers and ids, the answer is 2xx or 4xx, never 5xx, and a refusal stores nothing.

Part of the webhook cases are signed with the right secret, so parsing is reached, not only the
signature check; the API cases mostly carry the right bearer token. Examples are few and the
database is off (nothing written to the checkout), so this runs in seconds per backend.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin import db
from plugin.core import sidebar_auth
from plugin.core.sidebar_auth import SidebarSession
from plugin.models import FEEDBACK_KINDS
from tests.conftest import signed_headers

SECRET_KEY = "k" * 40
FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# Header values: printable Latin-1 (what HTTP carries; a newline cannot be sent at all).
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=300)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)
ids = st.one_of(
    st.sampled_from(["35436", "²", "١٢٣٤", "9" * 5000, "1" * 65, "0", "007", " 12 ", "-5", "1e3", 10 ** 30]),
    st.integers(), st.text(max_size=30), st.booleans(), st.floats(), st.none(), json_values)
texts = st.one_of(st.text(max_size=60), json_values)
deep = st.integers(min_value=1, max_value=30_000).map(lambda n: ("[" * n + "]" * n).encode())


def _dumps(value) -> bytes:
    return json.dumps(value).encode()


subscription = st.fixed_dictionaries({
    "type": st.sampled_from(["zen:event-type:ticket.created", "zen:event-type:ticket.comment_added",
                             "ticket.created", "zen:event-type:ticket.status_changed"]) | st.text(max_size=20),
    "id": ids, "time": texts,
    "detail": st.fixed_dictionaries({"id": ids, "subject": texts, "description": texts, "requester_id": ids,
                                     "tags": texts, "via": texts}) | json_values,
    "event": st.fixed_dictionaries({"comment": st.fixed_dictionaries({
        "id": ids, "body": texts, "is_public": st.booleans() | json_values,
        "author": st.fixed_dictionaries({"id": ids, "is_staff": st.booleans() | json_values}) | json_values,
    }) | json_values}) | json_values,
})
trigger = st.fixed_dictionaries({
    "ticket": st.fixed_dictionaries({
        "id": ids, "subject": texts, "description": texts, "tags": texts, "via": texts, "organization": texts,
        "requester": st.fixed_dictionaries({"id": ids, "name": texts, "email": texts, "locale": texts}) | json_values,
    }),
    "event": st.sampled_from(["ticket.created", "ticket.solved"]) | texts,
})
webhook_bodies = st.one_of(subscription.map(_dumps), trigger.map(_dumps), json_values.map(_dumps),
                           st.binary(max_size=200), deep)


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


@FUZZ
@given(body=webhook_bodies, signed=st.booleans(), invocation=st.none() | header_text,
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]),
       signature=header_text, timestamp=header_text)
def test_the_webhook_answers_any_delivery_with_2xx_or_4xx(app, client, body, signed, invocation, content_type,
                                                         signature, timestamp):
    engine = app.extensions["amends"].engine
    before = _count(engine, db.events)
    headers = signed_headers(body) if signed else {"X-Zendesk-Webhook-Signature": signature,
                                                   "X-Zendesk-Webhook-Signature-Timestamp": timestamp}
    if invocation is None:
        headers.pop("X-Zendesk-Webhook-Invocation-Id", None)
    else:
        headers["X-Zendesk-Webhook-Invocation-Id"] = invocation
    headers["Content-Type"] = content_type
    response = client.post("/webhooks/zendesk", data=body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        assert response.json["reason"]
        assert _count(engine, db.events) == before


feedback_bodies = st.one_of(
    st.fixed_dictionaries({"ticket_id": ids, "category": st.sampled_from(["billing_error", "other"]) | texts},
                          optional={"kind": st.sampled_from(FEEDBACK_KINDS) | texts,
                                    "account": st.sampled_from(["acme", "globex", "../../x", "x" * 300]) | texts,
                                    "helpdesk": st.sampled_from(["zendesk", "freshdesk"]) | texts,
                                    "source": st.sampled_from(["api", "s" * 40]) | texts,
                                    "from_category": texts, "subject": texts, "description": texts}).map(_dumps),
    json_values.map(_dumps), st.binary(max_size=200), deep)


@pytest.fixture
def api_app(make_settings):
    from plugin import create_app

    app = create_app(make_settings(api_token="t0ken", retrain_after=3, secret_key=SECRET_KEY))
    yield app
    app.extensions["amends"].engine.dispose()


@FUZZ
@given(body=feedback_bodies, credential=st.sampled_from(["bearer", "sidebar", "wrong", "none"]),
       content_type=st.sampled_from(["application/json", "text/plain"]), junk=header_text)
def test_the_feedback_api_answers_any_request_with_2xx_or_4xx(api_app, body, credential, content_type, junk):
    engine = api_app.extensions["amends"].engine
    before = _count(engine, db.feedback)
    sidebar_token = sidebar_auth.issue(SECRET_KEY, SidebarSession("zendesk", "acme", "1"))
    credentials = {"bearer": {"Authorization": "Bearer t0ken"}, "sidebar": {sidebar_auth.HEADER: sidebar_token},
                   "wrong": {"Authorization": junk, sidebar_auth.HEADER: junk}, "none": {}}
    headers = {"Content-Type": content_type, **credentials[credential]}
    response = api_app.test_client().post("/api/feedback", data=body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    stored = _count(engine, db.feedback) - before
    assert stored == (1 if response.status_code == 201 else 0), response.get_data(as_text=True)[:300]
