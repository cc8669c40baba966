"""Console area "mapping rules": the rules table, one rule's editor with its live preview and lint
confirmation, custom categories, incidents, import/export and the audit log.

Every change is read back through plugin.services.rulebook (what the worker uses), and every change
must leave an audit entry with before and after.
"""

from __future__ import annotations

import html
import re
import time

import pytest

from plugin.core.compose import shipped_source
from plugin.core.rules import CATEGORIES
from plugin.services import rulebook
from tests.conftest import audited_changes

ACCOUNT = ("zendesk", "acme")
BARE_LETTER = """{% extends "_base.txt.j2" %}
{% block subject %}Your parcel {{ order }} is late{% endblock %}
{% block apology %}Sorry.{% endblock %}
"""


def engine_of(client):
    return client.application.extensions["amends"].engine


def current(client):
    base = client.application.extensions["amends"].rulebooks.base
    return rulebook.load(engine_of(client), base, *ACCOUNT)


def audit(client):
    return audited_changes(engine_of(client), *ACCOUNT)


def text(response):
    return html.unescape(response.get_data(as_text=True))


def rule_form(client, category, **changes):
    """The editor's fields as the page fills them for the rule as it stands, then `changes`."""
    rule = current(client).rules.rule(category)
    form = {
        "csrf_token": client.csrf(f"/admin/rules/{category}"),
        "audience": rule.audience, "tone": rule.tone, "threshold": f"{rule.threshold:g}", "tags": " ".join(rule.tags),
        "remedy": rule.remedy, "prevention": rule.prevention, "comp_kind": rule.compensation.kind,
        "comp_amount": "", "comp_currency": "", "comp_cap": "", "comp_repeat_amount": "",
        "phrases": "\n".join(f"{p} = {w:g}" for p, w in rule.phrases),
        "template_customer": rule.source("customer") or shipped_source(category, "customer"),
        "template_client": rule.source("client") or shipped_source(category, "client"),
    }
    if rule.enabled:
        form["enabled"] = "1"
    if rule.no_fault:
        form["no_fault"] = "1"
    if rule.label:
        form["label"] = rule.label
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


# --- the table and custom categories ---------------------------------------------------

def test_rules_page_lists_every_category_with_its_summary(admin_client):
    page = text(admin_client.get("/admin/rules"))
    for category in CATEGORIES:
        assert f'data-category="{category}"' in page
    assert "refund overcharge (default)" in page and "shipped" in page
    assert 'name="csrf_token"' in page and 'action="/admin/rules"' in page


def test_adding_a_custom_category(admin_client):
    token = admin_client.csrf("/admin/rules")
    response = admin_client.post("/admin/rules", data={"csrf_token": token, "id": "loyalty_points",
                                                       "label": "Loyalty points missing",
                                                       "phrases": "loyalty points\npoints missing = 3"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/rules/loyalty_points"
    rule = current(admin_client).rules.rule("loyalty_points")
    assert rule.label == "Loyalty points missing"
    assert rule.phrases == (("loyalty points", 2.0), ("points missing", 3.0))
    page = text(admin_client.get("/admin/rules/loyalty_points"))
    assert "Loyalty points missing" in page and "Delete this category" in page
    assert "generic (custom category)" in text(admin_client.get("/admin/rules"))
    [entry] = audit(admin_client)
    assert (entry["action"], entry["target"], entry["before"]) == ("rule.add", "loyalty_points", "")
    assert "label: Loyalty points missing" in entry["after"] and entry["actor"].startswith("Ada")


@pytest.mark.parametrize("fields, message", [
    ({"id": "Loyalty Points", "label": "x", "phrases": "points"}, "a category id is 2-40 lowercase"),
    ({"id": "delivery_delay", "label": "x", "phrases": "points"}, "There is already a category"),
    ({"id": "loyalty", "label": "", "phrases": "points"}, "a custom category needs a label"),
    ({"id": "loyalty", "label": "Loyalty", "phrases": ""}, "needs at least one phrase"),
    ({"id": "loyalty", "label": "Loyalty", "phrases": "points = lots"}, "must be a number"),
])
def test_custom_category_validation(admin_client, fields, message):
    response = admin_client.post("/admin/rules", data={"csrf_token": admin_client.csrf("/admin/rules"), **fields})
    assert response.status_code == 400 and message in text(response)
    assert current(admin_client).version == 0 and audit(admin_client) == []


def test_posts_without_csrf_are_refused(admin_client):
    for path in ("/admin/rules", "/admin/rules/delivery_delay", "/admin/rules/delivery_delay/reset",
                 "/admin/rules/delivery_delay/delete", "/admin/incidents", "/admin/transfer/import"):
        assert admin_client.post(path, data={"id": "x"}).status_code == 400, path
    preview = admin_client.post("/admin/rules/delivery_delay/preview", json={"preview_audience": "customer"})
    assert preview.status_code == 400 and preview.json["status"] == "refused"
    assert current(admin_client).version == 0


# --- editing one rule --------------------------------------------------------------------

def test_editing_every_field_of_a_rule(admin_client):
    response = admin_client.post("/admin/rules/delivery_delay", data=rule_form(
        admin_client, "delivery_delay", audience="client", tone="formal", no_fault="1", threshold="0.4",
        tags="shipping, vip", remedy="We have re-sent your parcel by express courier.",
        prevention="We added a second carrier.", comp_kind="shipping_refund", comp_amount="10", comp_currency="EUR",
        comp_cap="25", comp_repeat_amount="20", comp_in_letter="1", phrases="parcel is missing = 1.5"))
    assert response.status_code == 302, text(response)
    rule = current(admin_client).rules.rule("delivery_delay")
    assert (rule.audience, rule.tone, rule.no_fault, rule.threshold) == ("client", "formal", True, 0.4)
    assert rule.tags == ("shipping", "vip") and rule.phrases == (("parcel is missing", 1.5),)
    c = rule.compensation
    assert (c.kind, c.amount, c.currency, c.cap, c.repeat_amount, c.in_letter) == \
        ("shipping_refund", 10.0, "EUR", 25.0, 20.0, True)
    assert rule.template == ()  # the shipped letters were posted back unchanged: not stored
    [entry] = audit(admin_client)
    assert entry["action"] == "rule.update" and "tone: warm" in entry["before"] and "tone: formal" in entry["after"]
    page = text(admin_client.get("/admin/rules/delivery_delay"))
    assert 'value="shipping vip"' in page and "parcel is missing = 1.5" in page


def test_disabling_a_built_in_category(admin_client):
    form = rule_form(admin_client, "wrong_item")
    del form["enabled"]
    assert admin_client.post("/admin/rules/wrong_item", data=form).status_code == 302
    assert current(admin_client).rules.rule("wrong_item").enabled is False
    assert 'class="disabled"' in text(admin_client.get("/admin/rules"))


@pytest.mark.parametrize("changes, message", [
    ({"threshold": "2"}, "threshold: must be a number from 0 to 1"),
    ({"comp_amount": "lots"}, "compensation.amount: must be a number"),
    ({"tags": "vip!"}, "is not a Zendesk tag"),
    ({"audience": "everyone"}, "audience: must be one of auto, customer, client"),
    ({"template_customer": "{% extends \"_base.txt.j2\" %}\n{% block subject %}{% if %}{% endblock %}"},
     "template.customer: template line 2: Expected an expression"),
    ({"template_customer": "Subject: hello there friend\n\n{{ ''.__class__.__mro__ }}"}, "unsafe"),
    ({"template_client": "Subject: hello there friend\n\n{{ nonsense }}"}, "'nonsense' is undefined"),
])
def test_rule_validation_errors_change_nothing(admin_client, changes, message):
    response = admin_client.post("/admin/rules/delivery_delay", data=rule_form(admin_client, "delivery_delay",
                                                                              **changes))
    assert response.status_code == 400 and message in text(response)
    assert current(admin_client).version == 0 and audit(admin_client) == []


def test_unknown_category_is_404(admin_client):
    assert admin_client.get("/admin/rules/nope").status_code == 404
    form = rule_form(admin_client, "delivery_delay")
    assert admin_client.post("/admin/rules/nope", data=form).status_code == 404


def test_a_letter_with_lint_findings_needs_confirmation(admin_client):
    form = rule_form(admin_client, "delivery_delay", template_customer=BARE_LETTER)
    response = admin_client.post("/admin/rules/delivery_delay", data=form)
    assert response.status_code == 409
    page = text(response)
    assert "Save anyway" in page and 'name="confirm_lint"' in page and "no explanation part found" in page
    assert current(admin_client).version == 0
    response = admin_client.post("/admin/rules/delivery_delay", data={**form, "confirm_lint": "1"})
    assert response.status_code == 302
    rule = current(admin_client).rules.rule("delivery_delay")
    assert rule.source("customer") == BARE_LETTER and rule.source("client") is None
    assert "changed: customer" in text(admin_client.get("/admin/rules"))
    # Saving other fields later does not ask again for the same letter.
    again = admin_client.post("/admin/rules/delivery_delay", data=rule_form(admin_client, "delivery_delay",
                                                                           tone="formal"))
    assert again.status_code == 302


def test_a_clean_edited_letter_saves_at_once_and_reset_restores_the_shipped_one(admin_client):
    shipped = shipped_source("delivery_delay", "customer")
    edited = shipped.replace("You planned around our date, and we let you down.",
                             "You planned your week around our date, and we let you down.")
    assert edited != shipped
    form = rule_form(admin_client, "delivery_delay", template_customer=edited.replace("\n", "\r\n"))
    assert admin_client.post("/admin/rules/delivery_delay", data=form).status_code == 302
    assert current(admin_client).rules.rule("delivery_delay").source("customer") == edited
    page = text(admin_client.get("/admin/rules/delivery_delay"))
    assert "Reset the customer letter to the shipped one" in page
    token = admin_client.csrf("/admin/rules/delivery_delay")
    bad = admin_client.post("/admin/rules/delivery_delay/reset", data={"csrf_token": token, "audience": "x"})
    assert bad.status_code == 303
    response = admin_client.post("/admin/rules/delivery_delay/reset", data={"csrf_token": token,
                                                                            "audience": "customer"})
    assert response.status_code == 302
    assert current(admin_client).rules.rule("delivery_delay").source("customer") is None
    reset = audit(admin_client)[0]
    assert reset["action"] == "template.reset" and reset["target"] == "delivery_delay.customer"
    assert "planned your week" in reset["before"] and "planned your week" not in reset["after"]


def test_deleting_categories(admin_client):
    token = admin_client.csrf("/admin/rules")
    admin_client.post("/admin/rules", data={"csrf_token": token, "id": "loyalty", "label": "Loyalty",
                                            "phrases": "loyalty points"})
    refused = admin_client.post("/admin/rules/delivery_delay/delete", data={"csrf_token": token})
    assert refused.status_code == 303 and "delivery_delay" in current(admin_client).rules.categories
    admin_client.post("/admin/incidents", data={"csrf_token": token, "action": "add", "category": "loyalty",
                                                "cause": "Our points system was down."})
    in_use = admin_client.post("/admin/rules/loyalty/delete", data={"csrf_token": token})
    assert in_use.status_code == 303 and "loyalty" in current(admin_client).rules.categories
    key = re.search(r'name="key" value="(\w+)"', text(admin_client.get("/admin/incidents"))).group(1)
    admin_client.post("/admin/incidents", data={"csrf_token": token, "action": "remove", "key": key})
    assert admin_client.post("/admin/rules/loyalty/delete", data={"csrf_token": token}).status_code == 302
    assert "loyalty" not in current(admin_client).rules.categories
    assert audit(admin_client)[0]["action"] == "rule.delete" and audit(admin_client)[0]["after"] == ""


# --- the live preview ----------------------------------------------------------------------

def preview(client, category="delivery_delay", headers=None, **fields):
    form = rule_form(client, category)
    token = form.pop("csrf_token")
    body = {**form, "preview_audience": "customer", "sample": "0", **fields}
    return client.post(f"/admin/rules/{category}/preview", json=body,
                       headers=headers if headers is not None else {"X-CSRFToken": token})


def test_preview_renders_the_note_for_a_sample_ticket(admin_client):
    response = preview(admin_client, remedy="We have sent a new pair by express courier.")
    assert response.status_code == 200 and response.json["ok"] is True
    note = response.json["note"]
    assert note.startswith("Amends suggestion: delivery_delay") and "Hi Marta," in note
    assert "We have sent a new pair by express courier." in note  # the unsaved field, as typed
    assert response.json["lint"] == [] and response.json["audience"] == "customer"
    client_letter = preview(admin_client, preview_audience="client", sample="1").json
    assert "Dear Owen," in client_letter["note"] and "Letter: client" in client_letter["note"]
    assert current(admin_client).version == 0  # a preview never saves


def test_preview_of_a_typed_letter_shows_lint_and_errors(admin_client):
    bare = preview(admin_client, template_customer=BARE_LETTER).json
    assert bare["ok"] is True and any("no explanation part" in f["message"] for f in bare["lint"])
    broken = preview(admin_client, template_customer="Subject: x y z\n\nline two\n{{ ''.__class__ }}").json
    assert broken["ok"] is False and broken["error"]["line"] == 4 and "unsafe" in broken["error"]["message"]
    syntax = preview(admin_client, template_customer="Subject: a b c\n{% if %}").json
    assert syntax["ok"] is False and syntax["error"]["line"] == 2


def test_preview_with_pasted_text_and_bad_requests(admin_client):
    pasted = preview(admin_client, sample="paste", pasted="Order #Q4821 late\nStill waiting for my parcel.").json
    assert pasted["ok"] is True and "Q4821" in pasted["note"]
    assert preview(admin_client, sample="paste", pasted="").status_code == 400
    assert preview(admin_client, preview_audience="robots").status_code == 400
    invalid = preview(admin_client, threshold="7").json
    assert invalid["ok"] is True and "Using the saved settings" in invalid["warning"]
    token = admin_client.csrf()
    assert admin_client.post("/admin/rules/delivery_delay/preview", data="[]", content_type="application/json",
                             headers={"X-CSRFToken": token}).status_code == 400
    assert admin_client.post("/admin/rules/nope/preview", json={}, headers={"X-CSRFToken": token}).status_code == 404


NESTED_LOOPS = ("Subject: a late order\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                "{% endfor %}\n")


def test_preview_of_a_letter_that_loops_too_long_stops_within_a_second(admin_client):
    started = time.monotonic()
    response = preview(admin_client, template_customer=NESTED_LOOPS)
    assert time.monotonic() - started < 2
    assert response.status_code == 200 and response.json["ok"] is False
    assert response.json["error"]["line"] == 2 and "takes too long to render" in response.json["error"]["message"]
    huge = preview(admin_client, template_customer="Subject: x\n" + "y" * 30_000)
    assert huge.status_code == 400 and "keep it under 20000" in huge.json["error"]["message"]


def test_rule_page_has_the_preview_wiring(admin_client):
    page = text(admin_client.get("/admin/rules/delivery_delay"))
    assert 'data-url="/admin/rules/delivery_delay/preview"' in page and "X-CSRFToken" in page
    assert "Parcel a week late" in page and "paste a ticket" in page


# --- incidents -----------------------------------------------------------------------------

def test_incidents_add_list_remove(admin_client):
    token = admin_client.csrf("/admin/incidents")
    response = admin_client.post("/admin/incidents", data={
        "csrf_token": token, "action": "add", "category": "delivery_delay",
        "cause": "A storm closed our warehouse for two days.", "remedy": "Every delayed order ships by express.",
        "starts": "2026-11-20T00:00", "ends": "2026-11-25T00:00"})
    assert response.status_code == 302
    [incident] = current(admin_client).rules.incidents
    assert incident.starts.isoformat() == "2026-11-20T00:00:00+00:00" and incident.remedy.startswith("Every")
    page = text(admin_client.get("/admin/incidents"))
    assert "A storm closed our warehouse" in page and "2026-11-25 00:00" in page
    assert audit(admin_client)[0]["action"] == "incident.add" and "A storm" in audit(admin_client)[0]["after"]
    stale = admin_client.post("/admin/incidents", data={"csrf_token": token, "action": "remove", "key": "0" * 16})
    assert stale.status_code == 303 and len(current(admin_client).rules.incidents) == 1
    key = re.search(r'name="key" value="(\w+)"', page).group(1)
    assert admin_client.post("/admin/incidents", data={"csrf_token": token, "action": "remove",
                                                       "key": key}).status_code == 302
    assert current(admin_client).rules.incidents == ()
    assert audit(admin_client)[0]["action"] == "incident.remove"


@pytest.mark.parametrize("fields, message", [
    ({"category": "delivery_delay", "cause": ""}, "Needs at least a category and a cause"),
    ({"category": "nope", "cause": "x"}, "no category 'nope'"),
    ({"category": "delivery_delay", "cause": "x", "starts": "2026-11-25T00:00", "ends": "2026-11-20T00:00"},
     "ends before it starts"),
    ({"category": "delivery_delay", "cause": "x", "starts": "soon"}, "must be an ISO 8601 date"),
])
def test_incident_validation(admin_client, fields, message):
    response = admin_client.post("/admin/incidents", data={"csrf_token": admin_client.csrf("/admin/incidents"),
                                                           "action": "add", **fields})
    assert response.status_code == 400 and message in text(response)
    assert current(admin_client).version == 0


# --- import / export and the audit log -------------------------------------------------------

def test_export_downloads_the_complete_document(admin_client):
    response = admin_client.get("/admin/transfer/export")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="amends-rules-acme.yaml"'
    body = response.get_data(as_text=True)
    assert body.startswith("# Amends mapping rules") and all(f"  {c}:\n" in body for c in CATEGORIES)
    assert "Download the rules" in text(admin_client.get("/admin/transfer"))


def test_import_through_the_console_round_trips(admin_client):
    token = admin_client.csrf("/admin/transfer")
    exported = admin_client.get("/admin/transfer/export").get_data(as_text=True)
    changed = exported.replace("  billing_error:\n    enabled: true\n    audience: auto\n    tone: warm",
                               "  billing_error:\n    enabled: true\n    audience: auto\n    tone: formal")
    assert changed != exported
    response = admin_client.post("/admin/transfer/import", data={"csrf_token": token, "document": changed})
    assert response.status_code == 302
    assert current(admin_client).rules.rule("billing_error").tone == "formal"
    assert admin_client.get("/admin/transfer/export").get_data(as_text=True) == changed
    [entry] = audit(admin_client)
    assert entry["action"] == "rules.import" and entry["before"] == exported and entry["after"] == changed
    # The same document again: nothing to change, no new version.
    from io import BytesIO

    again = admin_client.post("/admin/transfer/import", data={"csrf_token": token,
                                                              "file": (BytesIO(changed.encode()), "rules.yaml")},
                              content_type="multipart/form-data")
    assert again.status_code == 302 and current(admin_client).version == 1


def test_a_bad_import_names_the_line_and_changes_nothing(admin_client):
    token = admin_client.csrf("/admin/transfer")
    document = "categories:\n  billing_error:\n    tone: formal\n  wrong_item:\n    tone: loud\n"
    response = admin_client.post("/admin/transfer/import", data={"csrf_token": token, "document": document})
    page = text(response)
    assert response.status_code == 400 and "Nothing was changed" in page
    assert "line 5" in page and "categories.wrong_item.tone: must be one of warm, formal" in page
    assert "tone: loud" in page  # the pasted text is kept for fixing
    assert current(admin_client).version == 0 and audit(admin_client) == []
    empty = admin_client.post("/admin/transfer/import", data={"csrf_token": token, "document": " "})
    assert empty.status_code == 400 and "choose a file or paste" in text(empty)


@pytest.mark.parametrize("document, message", [
    (("categories:\n  delivery_delay:\n    template:\n      customer: |\n        Subject: late\n"
      "        {% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n"),
     "line 6: categories.delivery_delay.template.customer: template line 2: the letter takes too long to render"),
    ("a0: &a0 [x,x,x,x,x,x,x,x,x]\n" + "".join(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]\n"
                                                for i in range(1, 8)), "line 1: anchors and aliases"),
    ("categories: " + "[" * 5000 + "]" * 5000 + "\n", "nest"),
    ("categories:\n  wrong_item:\n    template: admin/base.html\n", "'admin/base.html' is not a shipped letter"),
])
def test_an_import_that_would_exhaust_the_server_is_refused_quickly(admin_client, document, message):
    token = admin_client.csrf("/admin/transfer")
    started = time.monotonic()
    response = admin_client.post("/admin/transfer/import", data={"csrf_token": token, "document": document})
    assert time.monotonic() - started < 2
    assert response.status_code == 400 and "Nothing was changed" in text(response) and message in text(response)
    assert current(admin_client).version == 0


def test_audit_page_shows_who_when_and_a_diff(admin_client):
    admin_client.post("/admin/rules/slow_response", data=rule_form(admin_client, "slow_response", tone="formal"))
    page = text(admin_client.get("/admin/audit"))
    assert "rule.update" in page and "slow_response" in page and "Ada" in page
    assert '<span class="del">-  tone: warm</span>' in page and '<span class="add">+  tone: formal</span>' in page
