"""An admin's letter that passes its checks but goes over its render budget on one ticket (its
work grows with the requester's name) is refused with the reason on every path that writes a
letter on request — the sidebar (422), Try a ticket (422) and `amends draft` (exit 1) — never a
500 or a traceback; the pipeline fails the event (tests/test_rules_document.py)."""

from __future__ import annotations

from plugin.services import rulebook
from tests.conftest import ADMIN_PASSWORD, csrf_token
from tests.test_rules_document import GROWS_WITH_THE_NAME, letter_document
from tests.test_sidebar import PEM, SECRET_KEY, ask, open_sidebar

LONG_NAME = "Maria " + "Gonzalez" * 60
LATE = ("Order #A1234 still not here", "My parcel has not arrived and the tracking has not moved in a week.")


def test_the_sidebar_and_try_a_ticket_refuse_a_letter_over_budget(make_settings):
    from plugin import create_app

    app = create_app(make_settings(secret_key=SECRET_KEY, zendesk_app_public_key=PEM, admin_password=ADMIN_PASSWORD))
    app.config["TESTING"] = True
    runtime = app.extensions["amends"]
    rulebook.import_document(runtime.engine, runtime.rulebooks.base, "zendesk", "acme",
                             letter_document(GROWS_WITH_THE_NAME), actor="test")
    client = app.test_client()
    answer = ask(client, "suggestion", {"ticket_id": "41", "ticket": {
        "subject": LATE[0], "description": LATE[1], "requester_name": LONG_NAME}}, open_sidebar(client))
    assert answer.status_code == 422
    assert answer.get_json()["reason"].startswith("the letter delivery_delay.customer takes too long to render")

    admin = app.test_client()
    admin.post("/admin/login", data={"password": ADMIN_PASSWORD, "name": "Ada", "csrf_token": csrf_token(admin)})
    page = admin.post("/admin/try", data={"subject": LATE[0], "description": LATE[1], "requester": LONG_NAME,
                                          "csrf_token": csrf_token(admin, "/admin/try")})
    assert page.status_code == 422
    assert "Amends could not write the letter: the letter delivery_delay.customer takes too long" in \
        page.get_data(as_text=True)
    runtime.engine.dispose()


def test_amends_draft_refuses_a_letter_over_budget_without_a_traceback(tmp_path):
    import json

    from plugin import db
    from plugin.core.rules_layer import load_rules
    from tests.conftest import FIXTURES
    from tests.test_cli import amends

    url = f"sqlite:///{tmp_path / 'amends.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    rulebook.import_document(engine, load_rules(None), "zendesk", "acme", letter_document(GROWS_WITH_THE_NAME),
                             actor="test")
    engine.dispose()
    show = json.loads((FIXTURES / "tickets" / "delivery_delay.customer.json").read_text())
    for user in show.get("users", []):
        user["name"] = LONG_NAME
    ticket = tmp_path / "ticket.json"
    ticket.write_text(json.dumps(show))
    result = amends(["draft", "--ticket", str(ticket), "--category", "delivery_delay"], tmp_path,
                    AMENDS_DATABASE_URL=url, AMENDS_ZENDESK_SUBDOMAIN="acme")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the letter delivery_delay.customer takes too long to render" in result.stderr
