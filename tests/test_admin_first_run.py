"""The console as a new admin meets it: what was made under "default" is carried over to the real
account (or the admin chooses), the overview lists what Zendesk still needs, the connect page's
set-up button waits for a connection, `/` sends to the console, start-up says where it is."""

import json
import re
import threading

import pytest
import requests

from plugin import db
from tests.conftest import ADMIN_PASSWORD
from tests.service import Service
from tests.test_admin_connect import connect, make_app, press, signed_in, words  # noqa: F401 (make_app: fixture)

DEFAULT_RULES = "categories:\n  billing_error:\n    tone: formal\n"
ACME_RULES = "categories:\n  delivery_delay:\n    tone: warm\n"


@pytest.fixture
def engine_of():
    return lambda app: app.extensions["amends"].engine


def save(engine, account, document, action="rules.import"):
    version = (db.rule_document(engine, "zendesk", account) or {}).get("version", 0)
    assert db.save_rule_document(engine, "zendesk", account, document, expect_version=version, actor="Ada (test)",
                                 action=action, target="rules", before=None, after=document) == version + 1


def actions(engine, account):
    return [e["action"] for e in db.list_audit(engine, "zendesk", account)]


# --- carry-over --------------------------------------------------------------------------------------


def test_what_was_made_under_default_moves_to_the_configured_account(make_app, engine_of):
    before = make_app()  # no subdomain, nothing connected: the console works on "default"
    client = signed_in(before)
    assert "zendesk / default" in words(client.get("/admin/"))
    engine = engine_of(before)
    save(engine, "default", DEFAULT_RULES)
    made = actions(engine, "default")
    assert made == ["rules.import", "admin.sign_in"]

    after = make_app(zendesk_subdomain="acme")  # the setting is set: same database, the real account
    page = words(signed_in(after).get("/admin/"))
    assert "zendesk / acme" in page and "Rules made before this account was set" not in page
    moved = db.rule_document(engine, "zendesk", "acme")
    assert moved["document"] == DEFAULT_RULES and moved["version"] == 1
    assert db.rule_document(engine, "zendesk", "default") is None
    acme = actions(engine, "acme")
    assert set(made) <= set(acme) and actions(engine, "default") == []  # nothing vanished
    entry = next(e for e in db.list_audit(engine, "zendesk", "acme") if e["action"] == "account.carried_over")
    assert json.loads(entry["after"]) == {"account": "acme", "rules_document_version": 1, "audit_entries": 2,
                                          "discarded_default_rules_version": None}
    assert entry["actor"].startswith("Ada")
    assert after.extensions["amends"].rulebooks.rules_for("zendesk", "acme").categories["billing_error"].tone == "formal"


def test_carry_over_is_idempotent_and_happens_once_when_two_run_at_once(make_settings, engine_of):
    settings = make_settings()
    engines = [db.make_engine(settings.database_url) for _ in range(2)]  # two processes' engines
    db.upgrade(engines[0])
    save(engines[0], "default", DEFAULT_RULES)
    for n in range(5):
        db.add_audit(engines[0], "zendesk", "default", "Ada", "rules.edit", f"rule {n}")
    results, start = [], threading.Barrier(2)

    def run(engine):
        start.wait()
        results.append(db.carry_over_default(engine, "zendesk", "acme", "Ada"))

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert sorted(r.audit_entries for r in results) == [0, 6]  # the rules import and five edits, once
    assert [r.rules_version for r in results].count(1) == 1
    assert actions(engines[0], "acme").count("account.carried_over") == 1
    again = db.carry_over_default(engines[0], "zendesk", "acme", "Ada")
    assert not again.moved and not again.conflict
    assert len(db.list_audit(engines[0], "zendesk", "acme")) == 7
    for engine in engines:
        engine.dispose()


def conflicted(make_app, engine_of):
    app = make_app(zendesk_subdomain="acme")
    engine = engine_of(app)
    save(engine, "acme", ACME_RULES)
    save(engine, "default", DEFAULT_RULES)
    save(engine, "default", DEFAULT_RULES + "    audience: customer\n", action="rules.edit")
    return app, engine, signed_in(app)


def test_when_the_account_has_rules_nothing_moves_and_the_overview_asks(make_app, engine_of):
    app, engine, client = conflicted(make_app, engine_of)
    page = client.get("/admin/")
    text = words(page)
    assert "Rules made before this account was set" in text and "which has rules of its own" in text
    assert "Carry them over, replacing acme's rules" in text and "Discard them" in text
    assert page.get_data(as_text=True).count('name="csrf_token"') >= 3  # both choices carry a CSRF token
    assert db.rule_document(engine, "zendesk", "acme")["document"] == ACME_RULES
    assert db.rule_document(engine, "zendesk", "default")["version"] == 2
    assert actions(engine, "default") == ["rules.edit", "rules.import"]  # left for the admin's choice
    refused = client.post("/admin/carry-over", data={"choice": "replace"})
    assert refused.status_code == 400 and "security token" in words(refused)
    assert db.rule_document(engine, "zendesk", "acme")["document"] == ACME_RULES
    bad = client.post("/admin/carry-over", data={"choice": "merge", "csrf_token": client.csrf("/admin/")})
    assert bad.status_code == 400


def test_carrying_over_replaces_the_accounts_rules_and_keeps_them_in_the_audit(make_app, engine_of):
    app, engine, client = conflicted(make_app, engine_of)
    answer = client.post("/admin/carry-over", data={"choice": "replace", "csrf_token": client.csrf("/admin/")},
                         follow_redirects=True)
    assert answer.status_code == 200 and "are now acme's (version 3)" in words(answer)
    stored = db.rule_document(engine, "zendesk", "acme")
    assert stored["document"].startswith(DEFAULT_RULES) and stored["version"] == 3  # new to every cache
    assert db.rule_document(engine, "zendesk", "default") is None and actions(engine, "default") == []
    entry = next(e for e in db.list_audit(engine, "zendesk", "acme") if e["action"] == "account.carried_over")
    assert json.loads(entry["before"])["replaced_document"] == ACME_RULES
    assert {"rules.edit", "rules.import"} <= set(actions(engine, "acme"))
    assert "Rules made before this account was set" not in words(client.get("/admin/"))
    assert app.extensions["amends"].rulebooks.rules_for("zendesk", "acme").categories["billing_error"].tone == "formal"


def test_discarding_keeps_the_accounts_rules_and_the_discarded_in_the_audit(make_app, engine_of):
    app, engine, client = conflicted(make_app, engine_of)
    answer = client.post("/admin/carry-over", data={"choice": "discard", "csrf_token": client.csrf("/admin/")},
                         follow_redirects=True)
    assert "were discarded; the audit log keeps a copy" in words(answer)
    assert db.rule_document(engine, "zendesk", "acme")["document"] == ACME_RULES
    assert db.rule_document(engine, "zendesk", "default") is None and actions(engine, "default") == []
    entry = next(e for e in db.list_audit(engine, "zendesk", "acme") if e["action"] == "account.carried_over")
    assert json.loads(entry["before"])["discarded_document"].startswith(DEFAULT_RULES)
    assert json.loads(entry["after"])["discarded_default_rules_version"] == 2
    again = client.post("/admin/carry-over", data={"choice": "replace", "csrf_token": client.csrf("/admin/")},
                        follow_redirects=True)
    assert "Nothing was left under “default”" in words(again)
    assert db.rule_document(engine, "zendesk", "acme")["document"] == ACME_RULES


def test_amends_rules_commands_carry_over_too(make_settings, engine_of, monkeypatch):
    from click.testing import CliRunner

    from plugin.cli import main

    settings = make_settings(zendesk_subdomain="acme")
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    save(engine, "default", DEFAULT_RULES)
    monkeypatch.setenv("AMENDS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("AMENDS_ZENDESK_SUBDOMAIN", "acme")
    result = CliRunner().invoke(main, ["rules", "export"])
    assert result.exit_code == 0, result.output
    assert "tone: formal" in result.output
    assert db.rule_document(engine, "zendesk", "default") is None
    assert actions(engine, "acme")[0] == "account.carried_over"
    engine.dispose()


# --- overview checklist ------------------------------------------------------------------------------


def missing_lines(client) -> list[str]:
    return re.findall(r'<li id="missing-([a-z-]+)"', client.get("/admin/").get_data(as_text=True))


def test_a_new_console_lists_what_zendesk_needs_with_links(make_app, fake_zendesk):
    client = signed_in(make_app())
    page = client.get("/admin/").get_data(as_text=True)
    assert missing_lines(client) == ["webhook-secret", "credentials", "connection"]
    assert 'href="/admin/connect#webhook"' in page and 'href="/admin/connect#oauth"' in page
    text = words(client.get("/admin/"))
    assert "Zendesk signs every webhook delivery with it" in text and "AMENDS_ZENDESK_WEBHOOK_SECRET" in text
    assert "posts its note with them" in text and "placeholder account “default”" in text

    connect(client, fake_zendesk)
    assert missing_lines(client) == ["webhook-secret"]
    press(client)
    assert missing_lines(client) == []
    assert "Everything Zendesk needs is in place" in words(client.get("/admin/"))


def test_environment_settings_count_as_in_place(admin_client):
    assert missing_lines(admin_client) == []  # subdomain, token and webhook secret come from the environment


def test_a_connection_needing_reauthorisation_is_listed(make_app, fake_zendesk):
    app = make_app()
    client = signed_in(app)
    connect(client, fake_zendesk)
    db.save_connection(app.extensions["amends"].engine, "zendesk", "acme",
                       {**db.get_connection(app.extensions["amends"].engine, "zendesk", "acme"),
                        "status": "needs_reauthorisation"})
    assert "connection" in missing_lines(client)
    assert "no longer accepts the stored access to acme.zendesk.com" in words(client.get("/admin/"))


# --- connect page ------------------------------------------------------------------------------------


def test_set_up_is_disabled_and_refused_until_connected(make_app, fake_zendesk):
    client = signed_in(make_app())
    page = client.get("/admin/connect").get_data(as_text=True)
    assert re.search(r'<button type="submit" disabled[^>]*>Set up Zendesk for me</button>', page)
    refused = client.post("/admin/connect/webhook", data={"csrf_token": client.csrf()})
    assert refused.status_code == 409 and "connect Zendesk first" in words(refused)
    assert fake_zendesk.webhooks() == []
    connect(client, fake_zendesk)
    page = client.get("/admin/connect").get_data(as_text=True)
    assert re.search(r'<button type="submit" >Set up Zendesk for me</button>', page)


def test_redirect_url_comes_from_the_request_through_the_proxy(make_app):
    client = signed_in(make_app(proxy_hops=1))
    page = client.get("/admin/connect", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "amends.example.org",
                                                 "X-Forwarded-For": "203.0.113.9"}).get_data(as_text=True)
    field = re.search(r'<input type="text" id="redirect-uri" value="([^"]+)" readonly', page)
    assert field and field.group(1) == "https://amends.example.org/admin/connect/callback"
    assert 'data-copy="redirect-uri"' in page
    assert 'value="https://amends.example.org"' in page  # the public URL suggested from the same request
    assert "<script>" not in page and '<script src="/admin/connect/copy.js" defer>' in page
    script = client.get("/admin/connect/copy.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"navigator.clipboard" in script.data
    direct = signed_in(make_app()).get("/admin/connect").get_data(as_text=True)  # no proxy trusted
    assert 'value="http://localhost/admin/connect/callback"' in direct


# --- / and start-up ----------------------------------------------------------------------------------


def test_root_sends_to_the_console(app):
    answer = app.test_client().get("/")
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/"


def test_start_up_prints_the_console_url_and_what_is_missing(tmp_path):
    with Service(tmp_path, {}) as service:
        root = requests.get(service.url + "/", allow_redirects=False, timeout=5)
        assert root.status_code == 302 and root.headers["Location"] == "/admin/"
        off = requests.get(service.url + "/admin/", timeout=5)
        assert off.status_code == 503
    log = (tmp_path / f"service-{service.port}.log").read_text()
    assert f"admin console: http://127.0.0.1:{service.port}/admin/" in log
    assert "until these are set: AMENDS_SECRET_KEY" in log and "AMENDS_ADMIN_PASSWORD (the first sign-in" in log
    assert "webhook secret: AMENDS_ZENDESK_WEBHOOK_SECRET" in log and "or connect from the console" in log
    assert f"Connect from the console: http://127.0.0.1:{service.port}/admin/connect" in log


def test_start_up_names_nothing_that_is_set(tmp_path):
    env = {"AMENDS_SECRET_KEY": "k" * 40, "AMENDS_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "AMENDS_ZENDESK_SUBDOMAIN": "acme", "AMENDS_ZENDESK_EMAIL": "a@acme.test",
           "AMENDS_ZENDESK_API_TOKEN": "tok", "AMENDS_ZENDESK_WEBHOOK_SECRET": "whsec"}
    with Service(tmp_path, env) as service:
        pass
    log = (tmp_path / f"service-{service.port}.log").read_text()
    assert f"admin console: http://127.0.0.1:{service.port}/admin/" in log
    assert "until these are set" not in log and "Zendesk is not set up yet" not in log
