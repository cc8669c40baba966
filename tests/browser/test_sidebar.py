"""The agents' sidebar in real Chromium: loaded as Zendesk loads it (a form POSTing the signed
token), with a stub of the ZAF client that records what the page asks of Zendesk.

The stub stands in for Zendesk's SDK (the page uses `window.ZAFClient` when it already exists):
`get` answers the ticket's fields, `set` and `invoke` are recorded in `window.__calls`, so the
test sees the exact text the page hands to the agent's editor.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from plugin import db
from plugin.core.compose import Options, compose
from plugin.models import Classification, Person, Ticket
from tests.browser.live import expect, screenshot
from tests.conftest import wait_until
from tests.test_sidebar import LATE, PEM, zendesk_token

pytestmark = pytest.mark.live_server(zendesk_app_public_key=PEM)

TICKET = {"ticket.id": 5101, "ticket.subject": LATE["subject"], "ticket.description": LATE["description"],
          "ticket.requester.id": 7101, "ticket.requester.name": "Noor Haddad",
          "ticket.assignee.user.name": "Sam Rivera"}

ZAF_STUB = """
(() => {
  const ticket = %s;
  window.__calls = [];
  const client = {
    get(paths) {
      window.__calls.push(["get", paths]);
      const answer = {};
      [].concat(paths).forEach((path) => { if (path in ticket) answer[path] = ticket[path]; });
      return Promise.resolve(answer);
    },
    set(path, value) { window.__calls.push(["set", path, value]); return Promise.resolve({}); },
    invoke(name, ...args) { window.__calls.push(["invoke", name, ...args]); return Promise.resolve({}); },
  };
  window.ZAFClient = { init: () => client };
})();
""" % json.dumps(TICKET)


def open_in_zendesk(page, live_server, token: str) -> None:
    """What Zendesk does for an app with signed URLs: POST the token to the app's URL."""
    action = live_server("/zendesk/sidebar?origin=https%3A%2F%2Facme.zendesk.com&app_guid=test-guid")
    page.set_content(f'<form method="post" action="{action}"><input type="hidden" name="token" value="{token}">'
                     "</form><script>document.forms[0].submit()</script>")
    page.wait_for_url("**/zendesk/sidebar?*")


def feedback(live_server) -> list[tuple]:
    with live_server.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(db.feedback.c.kind, db.feedback.c.account, db.feedback.c.source, db.feedback.c.from_category,
                      db.feedback.c.to_category).order_by(db.feedback.c.id))]


def test_switch_category_and_insert_the_letter_into_the_reply(page, live_server):
    page.set_viewport_size({"width": 360, "height": 900})  # about the width of Zendesk's app panel
    page.add_init_script(ZAF_STUB)
    open_in_zendesk(page, live_server, zendesk_token())

    expect(page.get_by_role("heading", name="Delivery delay")).to_be_visible()
    expect(page.locator("#confidence")).to_have_text(re.compile(r"^Confidence [01]\.\d\d$"))
    expect(page.locator("#evidence")).to_contain_text(re.compile("\u201c(days|still|turned up)\u201d"))
    expect(page.get_by_label("Category")).to_have_value("delivery_delay")
    expect(page.get_by_label("The letter")).to_contain_text("Hi Noor,")
    expect(page.locator("#to-fill")).to_contain_text("[order number]")
    expect(page.locator("#compensation")).not_to_be_empty()
    screenshot(page, "sidebar")

    page.get_by_label("Category").select_option("wrong_item")
    expect(page.get_by_role("heading", name="Wrong item")).to_be_visible()
    expect(page.locator("#confidence")).to_have_text("Chosen by you")
    page.get_by_label("client", exact=True).check()
    expect(page.get_by_label("client", exact=True)).to_be_checked()
    expect(page.get_by_label("The letter")).not_to_contain_text("Hi Noor,")  # the client letter's greeting

    page.get_by_role("button", name="Insert into reply").click()
    expect(page.get_by_role("status")).to_have_text(
        "The letter is in your reply, as a public reply draft. Fill what is left, then send it.")

    ticket = Ticket("5101", LATE["subject"], LATE["description"], Person(id="7101", name="Noor Haddad"),
                    assignee=Person(name="Sam Rivera"))
    settings = live_server.settings
    expected = compose(ticket, Classification("wrong_item", 1.0, runner_up="delivery_delay"), "draft",
                       rules=live_server.runtime.rulebooks.rules_for("zendesk", "acme"),
                       options=Options(settings.company_name, settings.sign_off, settings.order_field_id),
                       audience="client").letter
    calls = page.evaluate("window.__calls")
    to_zendesk = [c for c in calls if c[0] == "set" or (c[0] == "invoke" and c[1] != "resize")]
    assert to_zendesk == [["set", "comment.type", "publicReply"], ["invoke", "comment.appendText", expected]]
    assert page.get_by_label("The letter").inner_text() == expected

    recorded = wait_until(lambda: (rows := feedback(live_server)) and len(rows) == 2 and rows,
                          timeout=10.0, what="feedback")
    assert recorded == [("correction", "acme", "sidebar", "delivery_delay", "wrong_item"),
                        ("insert", "acme", "sidebar", None, "wrong_item")]


def test_thumbs_are_recorded(page, live_server):
    page.add_init_script(ZAF_STUB)
    open_in_zendesk(page, live_server, zendesk_token())
    expect(page.get_by_role("heading", name="Delivery delay")).to_be_visible()
    page.get_by_role("button", name="Good suggestion").click()
    expect(page.get_by_role("status")).to_have_text("Thank you: your feedback is recorded.")
    expect(page.get_by_role("button", name="Good suggestion")).to_have_attribute("aria-pressed", "true")
    assert feedback(live_server) == [("thumbs_up", "acme", "sidebar", None, "delivery_delay")]


def test_a_page_opened_without_zendesks_token_shows_only_the_refusal(page, live_server):
    page.add_init_script(ZAF_STUB)
    response = page.goto("/zendesk/sidebar")
    assert response.status == 401
    expect(page.get_by_role("heading", name="Amends cannot open here")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("no token")
    assert page.evaluate("window.__calls") == []  # no script ran that could read the ticket


@pytest.mark.live_server(zendesk_app_public_key=PEM,
                         rules_file=str(Path(__file__).resolve().parents[1] / "fixtures" / "rules" / "sure-only.yaml"))
def test_a_general_letter_offers_the_likely_categories_as_one_click_switches(page, live_server):
    page.add_init_script(ZAF_STUB)
    open_in_zendesk(page, live_server, zendesk_token())

    expect(page.get_by_role("heading", name="General letter (category unclear)")).to_be_visible()
    expect(page.locator("#decision")).to_contain_text("not sure of the category")
    expect(page.locator("#confidence")).to_have_text(re.compile(r"^Complaint [01]\.\d\d · category unclear$"))
    expect(page.get_by_label("The letter")).to_contain_text("[what happened in the customer's words]")
    buttons = page.locator("#candidates button")
    expect(buttons.first).to_have_attribute("data-category", "delivery_delay")
    assert 2 <= buttons.count() <= 3
    second = buttons.nth(1).get_attribute("data-category")
    screenshot(page, "sidebar-general")

    buttons.nth(1).click()
    expect(page.locator("#confidence")).to_have_text("Chosen by you")
    expect(page.locator("#candidates-box")).to_be_hidden()
    expect(page.get_by_label("Category")).to_have_value(second)
    expect(page.get_by_label("The letter")).not_to_contain_text("[what happened in the customer's words]")
    recorded = wait_until(lambda: feedback(live_server), timeout=10.0, what="feedback")
    assert recorded == [("correction", "acme", "sidebar", "delivery_delay", second)]
