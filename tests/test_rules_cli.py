"""`amends rules export [FILE]` and `amends rules import FILE`, run as the real command."""

from __future__ import annotations

from plugin import db
from tests.test_cli import amends

ACCOUNT = {"AMENDS_ZENDESK_SUBDOMAIN": "acme"}


def audit_of(tmp_path, account="acme"):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'instance' / 'amends.db'}")
    try:
        return db.list_audit(engine, "zendesk", account)
    finally:
        engine.dispose()


def test_export_writes_the_complete_document_to_stdout_or_a_file(tmp_path):
    printed = amends(["rules", "export"], tmp_path, **ACCOUNT)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("# Amends mapping rules") and "  security_incident:\n" in printed.stdout
    written = amends(["rules", "export", "rules.yaml"], tmp_path, **ACCOUNT)
    assert written.returncode == 0 and "wrote rules.yaml: rules of zendesk/acme, version 0" in written.stderr
    assert (tmp_path / "rules.yaml").read_text() == printed.stdout


def test_import_applies_and_export_import_export_is_identical(tmp_path):
    exported = amends(["rules", "export"], tmp_path, **ACCOUNT).stdout
    changed = exported.replace("  wrong_item:\n    enabled: true", "  wrong_item:\n    enabled: false")
    assert changed != exported
    (tmp_path / "changed.yaml").write_text(changed)
    result = amends(["rules", "import", "changed.yaml"], tmp_path, **ACCOUNT)
    assert result.returncode == 0, result.stderr
    assert "imported changed.yaml into zendesk/acme: version 1" in result.stdout
    again = amends(["rules", "export"], tmp_path, **ACCOUNT).stdout
    assert again == changed
    (tmp_path / "again.yaml").write_text(again)
    same = amends(["rules", "import", "again.yaml"], tmp_path, **ACCOUNT)
    assert same.returncode == 0 and "nothing changed" in same.stdout
    [entry] = audit_of(tmp_path)
    assert (entry["actor"], entry["action"]) == ("cli", "rules.import")
    assert "enabled: true" in entry["before"] and entry["after"] == changed


def test_a_bad_file_exits_1_naming_the_line_and_changes_nothing(tmp_path):
    (tmp_path / "good.yaml").write_text("categories:\n  billing_error:\n    tone: formal\n")
    assert amends(["rules", "import", "good.yaml"], tmp_path, **ACCOUNT).returncode == 0
    before = amends(["rules", "export"], tmp_path, **ACCOUNT).stdout
    (tmp_path / "bad.yaml").write_text("categories:\n  billing_error:\n    tone: warm\n"
                                       "  delivery_delay:\n    threshold: 3\n")
    result = amends(["rules", "import", "bad.yaml"], tmp_path, **ACCOUNT)
    assert result.returncode == 1
    assert "bad.yaml, line 5: categories.delivery_delay.threshold: must be a number from 0 to 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert amends(["rules", "export"], tmp_path, **ACCOUNT).stdout == before
    assert len(audit_of(tmp_path)) == 1


def test_without_a_subdomain_the_default_account_is_used(tmp_path):
    (tmp_path / "r.yaml").write_text("categories:\n  slow_response:\n    tone: formal\n")
    result = amends(["rules", "import", "r.yaml"], tmp_path)
    assert result.returncode == 0 and "zendesk/default" in result.stdout
    assert audit_of(tmp_path, "default")[0]["target"] == "rules document"


def test_an_import_that_would_exhaust_the_machine_exits_1_at_once(tmp_path):
    bomb = "a0: &a0 [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 8))
    looping = ("categories:\n  delivery_delay:\n    template:\n      customer: |\n        Subject: late\n"
               "        {% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n")
    for name, text, said in [("bomb.yaml", bomb, "bomb.yaml, line 1: anchors and aliases"),
                             ("deep.yaml", "categories: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml, line 1"),
                             ("loop.yaml", looping, "loop.yaml, line 6: categories.delivery_delay.template.customer: "
                                                    "template line 2: the letter takes too long to render")]:
        (tmp_path / name).write_text(text)
        result = amends(["rules", "import", name], tmp_path, **ACCOUNT)
        assert result.returncode == 1 and said in result.stderr and "Traceback" not in result.stderr
    assert audit_of(tmp_path) == []
