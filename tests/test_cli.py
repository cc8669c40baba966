"""The `amends` command: start-up refuses bad settings by name; db upgrade migrates."""


import subprocess
import sys

from tests.service import clean_environment


def amends(args, cwd, **env):
    return subprocess.run([sys.executable, "-m", "plugin.cli", *args], cwd=cwd, env=clean_environment(env),
                          capture_output=True, text=True, timeout=60)


def test_serve_stops_on_invalid_setting_and_names_it(tmp_path):
    result = amends(["serve", "--port", "0"], tmp_path, AMENDS_QUEUE_URL="amqp://nope")
    assert result.returncode != 0
    assert "AMENDS_QUEUE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_stops_on_missing_paired_setting(tmp_path):
    result = amends(["worker"], tmp_path, AMENDS_ZENDESK_SUBDOMAIN="acme", AMENDS_ZENDESK_EMAIL="a@b.c")
    assert result.returncode != 0 and "AMENDS_ZENDESK_API_TOKEN" in result.stderr


def test_dotenv_in_working_directory_is_read(tmp_path):
    (tmp_path / ".env").write_text("AMENDS_DATABASE_URL=oracle://x\n")
    result = amends(["db", "upgrade"], tmp_path)
    assert result.returncode != 0 and "AMENDS_DATABASE_URL" in result.stderr


def test_db_upgrade_creates_the_embedded_database(tmp_path):
    result = amends(["db", "upgrade"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "revision 0008" in result.stdout
    assert (tmp_path / "instance" / "amends.db").is_file()


def test_draft_json_has_the_contract_fields(tmp_path):
    import json
    from pathlib import Path

    ticket = Path(__file__).parent / "fixtures" / "tickets" / "delivery_delay.customer.json"
    result = amends(["draft", "--ticket", str(ticket), "--category", "delivery_delay", "--json"], tmp_path,
                    AMENDS_COMPANY_NAME="Northwind Goods")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["category", "confidence", "subject", "letter", "to_fill", "compensation", "lint", "note",
                          "asks"]
    assert data["category"] == "delivery_delay"
    assert data["letter"].startswith("Hi Priya,") and "Northwind Goods" in data["letter"]
    assert "[new delivery date]" in data["to_fill"] and data["lint"] == []
    assert data["subject"] in data["note"] and data["letter"] in data["note"]


def test_draft_prints_the_note_and_honours_audience(tmp_path):
    from pathlib import Path

    ticket = Path(__file__).parent / "fixtures" / "tickets" / "delivery_delay.customer.json"
    result = amends(["draft", "--ticket", str(ticket), "--category", "delivery_delay", "--audience", "client"],
                    tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Letter: client, warm" in result.stdout and "Dear Priya," in result.stdout


def test_draft_refuses_unknown_category_and_bad_files(tmp_path):
    from pathlib import Path

    ticket = Path(__file__).parent / "fixtures" / "tickets" / "delivery_delay.customer.json"
    bad = amends(["draft", "--ticket", str(ticket), "--category", "nonsense"], tmp_path)
    assert bad.returncode != 0 and "unknown category" in bad.stderr
    (tmp_path / "x.json").write_text("[1]")
    wrong = amends(["draft", "--ticket", str(tmp_path / "x.json")], tmp_path)
    assert wrong.returncode != 0 and "show-ticket" in wrong.stderr


def test_lint_fails_on_a_bad_letter_file(tmp_path):
    letter = tmp_path / "letter.txt"
    letter.write_text("Subject: Sorry\n\nHi,\n\nWe apologize for the inconvenience. {{ agent }}\n")
    result = amends(["lint", str(letter)], tmp_path)
    assert result.returncode == 1
    for code in ("generic", "template-syntax", "length", "subject"):
        assert code in result.stdout


def test_lint_finds_claims_promises_and_compensation_in_a_plain_letter(tmp_path):
    letter = tmp_path / "letter.txt"
    letter.write_text(
        "Subject: Your order A1234 is late\n\nHi Maria,\n\nI'm sorry that order A1234 hasn't arrived when we said "
        "it would. What happened: the parcel was held up at the depot because of a missed scan.\n\nI have "
        "arranged a replacement, and we will refund you 100% today. Here is a £20 voucher as well.\n\nThis will "
        "never happen again, we guarantee it. If anything doesn't look right, just reply to this email and I'll "
        "pick it up myself.\n\nKind regards,\nTom\n")
    result = amends(["lint", str(letter)], tmp_path)
    assert result.returncode == 1
    for found in ('completed-claim: "I have arranged"', 'unlisted-compensation: "100%"',
                  'unlisted-compensation: "£20 voucher"', 'absolute-promise: "will never happen again"',
                  'absolute-promise: "we guarantee"'):
        assert found in result.stdout.replace("\n", " ")
    honest = letter.read_text().replace("I have arranged a replacement, and we will refund you 100% today. Here is "
                                        "a £20 voucher as well.", "I will arrange a replacement once you confirm "
                                        "your address.").replace("This will never happen again, we guarantee it. ",
                                                                 "To stop this happening again, we are changing how "
                                                                 "we check parcels. ")
    letter.write_text(honest)
    clean = amends(["lint", str(letter)], tmp_path)
    assert clean.returncode == 0, clean.stdout


def test_classify_text_prints_category_and_confidence(tmp_path):
    result = amends(["classify", "I was charged twice for my order, please refund the duplicate"], tmp_path)
    assert result.returncode == 0, result.stderr
    category, confidence = result.stdout.split()
    assert category == "billing_error" and 0 < float(confidence) <= 1


def test_classify_jsonl_keeps_order_and_fields(tmp_path):
    import json

    rows = [{"id": "a", "subject": "Late", "description": "my parcel still hasn't arrived", "extra": 1},
            {"id": 7, "subject": "", "description": "what are your opening hours?"},
            {"id": "c", "description": "someone used my card for payments I didn't make"}]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = amends(["classify", "--jsonl", str(path)], tmp_path)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", 7, "c"]
    assert [o["category"] for o in out] == ["delivery_delay", "other", "security_incident"]
    assert all(set(o) == {"id", "category", "confidence", "runner_up", "evidence", "decision", "candidates"}
               for o in out)
    assert [o["decision"] for o in out] == ["specific", "none", "specific"]
    for o in out:  # up to three [category, score], best first; the best guess leads when there is a note
        assert 1 <= len(o["candidates"]) <= 3 and all(len(pair) == 2 for pair in o["candidates"])
        assert [s for _, s in o["candidates"]] == sorted((s for _, s in o["candidates"]), reverse=True)
        assert o["decision"] == "none" or o["candidates"][0][0] == o["category"]


def test_classify_jsonl_reports_the_bad_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1, "description": "fine"}\nnot json\n')
    result = amends(["classify", "--jsonl", str(path)], tmp_path)
    assert result.returncode != 0 and "line 2" in result.stderr


def test_train_refuses_an_account_that_is_not_a_subdomain(tmp_path):
    result = amends(["train", "--account", "../outside"], tmp_path)
    assert result.returncode == 2 and "--account" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path.parent / "outside").exists()
