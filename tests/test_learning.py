"""Agents' corrections: the feedback API, and an account's classifier learning from them."""

import pytest

from plugin import db
from plugin.core.classify import default_classifier
from plugin.services import learning

JARGON = [
    "my quibbleflux is blorping again", "the quibbleflux started blorping this morning",
    "quibbleflux blorping nonstop, please help", "second quibbleflux this month that blorps",
    "Subject: blorping\nThe quibbleflux you sold me blorps constantly", "quibbleflux keeps blorping after the update",
]


@pytest.fixture
def api_app(make_settings):
    from plugin import create_app

    app = create_app(make_settings(api_token="t0ken", retrain_after=3))
    yield app
    app.extensions["amends"].engine.dispose()


def post(client, body, token="t0ken"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/feedback", json=body, headers=headers)


def test_feedback_requires_the_token(api_app):
    client = api_app.test_client()
    assert post(client, {"ticket_id": "1", "category": "billing_error", "description": "x"}, token=None).status_code == 401
    assert post(client, {"ticket_id": "1", "category": "billing_error", "description": "x"}, token="bad").status_code == 401


def test_feedback_api_is_off_without_a_token(make_settings):
    from plugin import create_app

    client = create_app(make_settings()).test_client()
    response = post(client, {"ticket_id": "1", "category": "billing_error"})
    assert response.status_code == 401 and "AMENDS_API_TOKEN" in response.json["reason"]


@pytest.mark.parametrize("body, reason", [
    ({"ticket_id": "1", "category": "nonsense", "description": "x"}, "category"),
    ({"ticket_id": "abc", "category": "billing_error", "description": "x"}, "ticket_id"),
    ({"ticket_id": "1", "kind": "hug", "category": "billing_error"}, "kind"),
    ({"ticket_id": "999", "category": "billing_error"}, "no text to learn from"),
])
def test_feedback_validation(api_app, body, reason):
    response = post(api_app.test_client(), body)
    assert response.status_code == 400 and reason in response.json["reason"]


def test_a_correction_may_name_a_custom_category_of_that_account(make_settings):
    """Two accounts connected in the console (no AMENDS_ZENDESK_SUBDOMAIN): each its own categories."""
    from plugin import create_app
    from plugin.services import rulebook

    app = create_app(make_settings(api_token="t0ken", zendesk_subdomain="", zendesk_webhook_secret="",
                                   zendesk_email="", zendesk_api_token=""))
    runtime = app.extensions["amends"]
    for account in ("acme", "other-shop"):
        db.save_connection(runtime.engine, "zendesk", account, {})
    document = "format: 1\ncategories:\n  loyalty_points:\n    label: Loyalty points missing\n" \
               "    phrases: {\"loyalty points\": 2.0}\n"
    rulebook.import_document(runtime.engine, runtime.rulebooks.base, "zendesk", "acme", document, actor="test")
    client = app.test_client()
    body = {"ticket_id": "7", "category": "loyalty_points", "description": "my points vanished", "account": "acme"}
    try:
        assert post(client, body).status_code == 201
        other_account = post(client, dict(body, account="other-shop"))
        assert other_account.status_code == 400 and "custom" in other_account.json["reason"]
    finally:
        runtime.engine.dispose()


def test_corrections_trigger_retraining_after_the_threshold(api_app):
    client = api_app.test_client()
    huey = api_app.extensions["amends"].huey
    for i, text in enumerate(JARGON[:3]):
        response = post(client, {"ticket_id": str(i + 1), "category": "product_defect", "description": text,
                                 "from_category": "other"})
        assert response.status_code == 201
    assert response.json["retraining"] is True
    assert any(t.name.endswith("amends.train") for t in huey.pending())


def test_an_account_learns_from_its_corrections_and_only_that_account(settings):
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    probe = "the quibbleflux is blorping yet again"
    assert default_classifier().classify("", probe).category != "product_defect"
    for i, text in enumerate(JARGON):
        db.add_feedback(engine, "zendesk", "acme", str(i + 1), "correction", from_category="other",
                        to_category="product_defect", text=text)
    assert learning.pending(engine, "zendesk", "acme") == len(JARGON)
    assert learning.train_account(engine, "zendesk", "acme") == len(JARGON)
    assert learning.pending(engine, "zendesk", "acme") == 0
    learned = learning.classifier_for(engine, "zendesk", "acme").classify("", probe)
    assert learned.category == "product_defect"
    assert learning.classifier_for(engine, "zendesk", "other-account").classify("", probe).category != "product_defect"
    engine.dispose()


def test_feedback_answers_503_while_the_database_is_down(api_app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from plugin import db as storage

    def down(*_args, **_kwargs):
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(storage, "add_feedback", down)
    response = post(api_app.test_client(), {"account": "acme", "ticket_id": "12", "kind": "thumbs_up"})
    assert response.status_code == 503 and response.get_json()["reason"] == "storage unavailable, retry later"
