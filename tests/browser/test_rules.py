"""Mapping rules in a real browser: editing a rule while the live preview follows the typing,
a letter with lint findings saved only after confirming, incidents, the import/export round
trip through real downloads and uploads, and the audit log of it all."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from plugin import db
from plugin.services import rulebook
from tests.browser.live import expect, screenshot

ACCOUNT = ("zendesk", "acme")


def rules_of(server):
    return rulebook.load(server.engine, server.runtime.rulebooks.base, *ACCOUNT).rules


def test_edit_a_rule_with_the_live_preview(signed_in_page, live_server):
    page = signed_in_page
    page.goto("/admin/rules")
    expect(page.locator('tr[data-category="security_incident"]')).to_contain_text("no-fault")
    screenshot(page, "rules")
    page.get_by_role("link", name="Delivery delay").click()
    note = page.locator("#preview-note")
    expect(note).to_contain_text("Hi Marta,")  # the first sample ticket, rendered on arrival

    page.get_by_label("Remedy").fill("We have sent a new pair by express courier, at our cost.")
    expect(note).to_contain_text("We have sent a new pair by express courier, at our cost.")
    page.get_by_label("Tone").select_option("formal")
    expect(note).to_contain_text("Dear Marta Kowalski,")
    letter = page.locator("#template_customer")
    letter.fill(letter.input_value().replace("we did not keep our word.", "we did not keep our promise to you."))
    expect(note).to_contain_text("we did not keep our promise to you.")
    page.locator("#sample").select_option(label="paste a ticket…")
    page.locator("#pasted").fill("Order #Q4821 late\nStill waiting for my parcel, two weeks now.")
    expect(note).to_contain_text("Q4821")
    expect(page.locator("#preview-lint")).to_contain_text("Lint: no findings.")
    page.locator("#sample").select_option(index=0)
    expect(note).to_contain_text("Marta")
    screenshot(page, "rule-editor")

    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash.ok")).to_have_text("Saved.")
    rule = rules_of(live_server).rule("delivery_delay")
    assert rule.tone == "formal" and rule.remedy.startswith("We have sent a new pair")
    assert "our promise to you" in rule.source("customer") and rule.source("client") is None


def test_a_letter_with_lint_findings_is_saved_only_after_confirming(signed_in_page, live_server):
    page = signed_in_page
    page.goto("/admin/rules/wrong_item")
    page.locator("#template_client").fill('{% extends "_base.txt.j2" %}\n'
                                          "{% block subject %}The wrong item in your delivery{% endblock %}\n")
    page.locator("#preview_audience").select_option("client")
    expect(page.locator("#preview-lint")).to_contain_text("no apology part found")
    page.locator("#template_client").fill("Subject: a b c\n{{ ''.__class__ }}")
    expect(page.locator("#preview-error")).to_contain_text("Line 2: access to attribute '__class__'")
    page.locator("#template_client").fill('{% extends "_base.txt.j2" %}\n'
                                          "{% block subject %}The wrong item in your delivery{% endblock %}\n")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#findings-client")).to_contain_text("no apology part found")
    assert rules_of(live_server).rule("wrong_item").source("client") is None
    page.get_by_label("Save anyway, with these lint findings").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash.ok")).to_have_text("Saved.")
    assert rules_of(live_server).rule("wrong_item").source("client").startswith('{% extends "_base.txt.j2" %}')
    page.get_by_role("button", name="Reset the client letter to the shipped one").click()
    expect(page.locator(".flash.ok")).to_contain_text("shipped one again")
    assert rules_of(live_server).rule("wrong_item").source("client") is None


def test_import_export_round_trip_and_the_audit_log(signed_in_page, live_server, tmp_path):
    page = signed_in_page
    page.goto("/admin/incidents")
    page.get_by_label("Category").select_option("delivery_delay")
    page.get_by_label("Cause").fill("A storm closed our main warehouse for two days.")
    page.get_by_label("Starts (UTC)").fill("2030-01-14T06:00")  # far off: the picture never shows "active"
    page.get_by_label("Ends (UTC)").fill("2030-01-16T18:00")
    page.get_by_role("button", name="Add incident").click()
    expect(page.locator("table.incidents")).to_contain_text("A storm closed our main warehouse")
    screenshot(page, "incidents")

    page.goto("/admin/transfer")
    screenshot(page, "transfer")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rules (YAML)").click()
    exported = Path(download.value.path()).read_text()
    assert download.value.suggested_filename == "amends-rules-acme.yaml" and "A storm closed" in exported
    edited = exported.replace("  billing_error:\n    enabled: true\n    audience: auto\n    tone: warm",
                              "  billing_error:\n    enabled: true\n    audience: auto\n    tone: formal")
    assert edited != exported
    upload = tmp_path / "rules.yaml"
    upload.write_text(edited)
    page.get_by_label("A file").set_input_files(str(upload))
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".flash.ok")).to_contain_text("Imported")
    with page.expect_download() as again:
        page.get_by_role("link", name="Download the rules (YAML)").click()
    assert Path(again.value.path()).read_text() == edited  # export -> import -> export: the same bytes

    page.get_by_label("or paste the document").fill("categories:\n  billing_error:\n    tone: loud\n")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-error")).to_contain_text("line 3: categories.billing_error.tone")
    assert rules_of(live_server).rule("billing_error").tone == "formal"

    with live_server.engine.begin() as conn:  # fixed times, so the picture changes only with the page
        for n, entry_id in enumerate(conn.execute(sa.select(db.audit_log.c.id).order_by(db.audit_log.c.id)).scalars()):
            conn.execute(db.audit_log.update().where(db.audit_log.c.id == entry_id).values(at=1_900_000_000 + 60 * n))
    page.goto("/admin/audit")
    expect(page.locator("table.audit")).to_contain_text("rules.import")
    expect(page.locator("table.audit")).to_contain_text("2030-03-17 17:47:40")
    expect(page.locator("pre.diff").first).to_contain_text("categories.billing_error")
    expect(page.locator("pre.diff").first).to_contain_text("+    tone: formal")
    screenshot(page, "audit")
