"""The rules pages as a new admin meets them (issue 14): what a threshold of 0 does and the
default, where the shipped letters really are, and the import page keeping the document's format
apart from the rules' version."""

from __future__ import annotations

import html
import re
from pathlib import Path

from plugin.core.classify.calibration import load as load_calibration
from plugin.core.paths import PROJECT_ROOT, TEMPLATES_DIR
from plugin.core.rules import FORMAT
from plugin.core.rules_document import declared_format


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_rule_page_says_what_threshold_0_does_and_the_default(admin_client):
    page = text(admin_client.get("/admin/rules/delivery_delay"))
    found = re.search(r'<p class="muted" id="threshold-help">(.*?)</p>', page, re.S).group(1)
    help_text = " ".join(re.sub(r"<[^>]+>", "", found).split())
    assert "0 means this category's letter is posted whenever it is the best guess" in help_text
    assert "never the general letter for low confidence" in help_text
    assert "not complaints; those still get no note" in help_text
    default = f"{load_calibration().threshold('delivery_delay'):.2f}"
    assert re.search(rf'id="threshold-default">{re.escape(default)}<', page)
    assert 'aria-describedby="threshold-help"' in page


def test_an_emptied_threshold_goes_back_to_the_default_not_0(admin_client):
    from tests.test_admin_rules import current, rule_form

    default = load_calibration().threshold("delivery_delay")
    assert admin_client.post("/admin/rules/delivery_delay",
                             data=rule_form(admin_client, "delivery_delay", threshold="0.9")).status_code == 302
    assert current(admin_client).rules.rule("delivery_delay").threshold == 0.9
    assert admin_client.post("/admin/rules/delivery_delay",
                             data=rule_form(admin_client, "delivery_delay", threshold="")).status_code == 302
    assert current(admin_client).rules.rule("delivery_delay").threshold == default
    assert "An empty field saves the default." in text(admin_client.get("/admin/rules/delivery_delay"))


def test_a_custom_categorys_default_threshold_is_0(admin_client):
    token = admin_client.csrf("/admin/rules")
    admin_client.post("/admin/rules", data={"csrf_token": token, "id": "loyalty_points", "label": "Points",
                                            "phrases": "loyalty points"})
    page = text(admin_client.get("/admin/rules/loyalty_points"))
    assert 'id="threshold-default">0.00<' in page and "a custom category has no calibrated default" in page


def test_the_letter_help_names_the_real_folder_of_the_shipped_letters(admin_client):
    page = text(admin_client.get("/admin/rules/wrong_item"))
    folder = re.search(r'<code id="letters-folder">([^<]+)</code>', page).group(1)
    assert (PROJECT_ROOT / folder / "_base.txt.j2").is_file()  # where `{% extends "_base.txt.j2" %}` resolves
    assert folder == "templates/apologies/en/"
    assert f"{TEMPLATES_DIR / 'apologies' / 'en'}/" in page
    readme = re.search(r"the variables are listed in\s+<code>([^<]+)</code>", page).group(1)
    assert "## Variables" in (PROJECT_ROOT / readme).read_text(encoding="utf-8")
    files = re.findall(r'<code class="shipped-file">([^<]+)</code>', page)
    assert files == ["templates/apologies/en/wrong_item.customer.txt.j2",
                     "templates/apologies/en/wrong_item.client.txt.j2"]
    assert all((PROJECT_ROOT / Path(f)).is_file() for f in files)


def _fact(page: str, name: str) -> str:
    found = re.search(rf'<dd id="{name}">(.*?)</dd>', page, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", "", found).split())


def test_the_import_page_keeps_the_document_format_apart_from_the_rules_version(admin_client):
    token = admin_client.csrf("/admin/transfer")
    exported = admin_client.get("/admin/transfer/export").get_data(as_text=True)
    for tone in ("formal", "warm", "formal"):  # three imports: rules version 3, still format 1
        document = exported.replace("  billing_error:\n    enabled: true\n    audience: auto\n    tone: warm",
                                    f"  billing_error:\n    enabled: true\n    audience: auto\n    tone: {tone}")
        assert admin_client.post("/admin/transfer/import", data={"csrf_token": token, "document": document}
                                 ).status_code == 302
    page = text(admin_client.get("/admin/transfer"))
    assert _fact(page, "doc-format").startswith(f"format: {FORMAT} ")
    assert re.search(r"^format: (\d+)$", exported, re.M).group(1) == str(FORMAT)  # what the file says
    assert _fact(page, "rules-version").startswith("3 ")
    assert "the last by Ada" in _fact(page, "rules-version")
    # Before, the page called the stored rules' save count the file's version: "one YAML file (version 3)".
    assert "(version 3)" not in page


def test_a_refused_import_shows_the_format_the_document_says(admin_client):
    token = admin_client.csrf("/admin/transfer")
    response = admin_client.post("/admin/transfer/import", data={"csrf_token": token,
                                                                 "document": "format: 2\ncategories: {}\n"})
    page = text(response)
    assert response.status_code == 400 and "unsupported format 2" in page
    assert "The document you sent says format: 2; this Amends reads format 1." in " ".join(
        re.search(r'id="declared-format">(.*?)</p>', page, re.S).group(1).split()).replace("<code>", "").replace(
        "</code>", "")
    assert _fact(page, "rules-version").startswith("none saved yet")


def test_declared_format_reads_only_the_format_key():
    assert declared_format("format: 1\ncategories: {}\n") == 1
    assert declared_format("categories: {}\n") is None
    assert declared_format("- a list\n") is None
    assert declared_format("format: [unclosed\n") is None
