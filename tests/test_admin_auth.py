"""Console access: login, logout (revoked on the server), CSRF, the rate limit under concurrency, cookie flags,
the audit of sign-ins, and the console off (a page naming the missing settings) on a first run."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from plugin import db
from tests.conftest import ADMIN_PASSWORD, csrf_token


@pytest.fixture
def anon(admin_app):
    return admin_app.test_client()


def test_every_admin_page_redirects_to_login_without_a_session(admin_app, anon):
    pages = [rule.rule for rule in admin_app.url_map.iter_rules()
             if rule.rule.startswith("/admin") and "GET" in rule.methods and "<" not in rule.rule
             and rule.endpoint != "admin.login"]
    assert "/admin/" in pages
    for page in pages:
        response = anon.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"].startswith("/admin/login")


def test_every_admin_action_refuses_without_a_session(admin_app, anon):
    token = csrf_token(anon)
    actions = [rule for rule in admin_app.url_map.iter_rules()
               if rule.rule.startswith("/admin") and "POST" in rule.methods and rule.endpoint != "admin.login"]
    assert actions
    for rule in actions:
        path = rule.rule.replace("<category>", "delivery_delay").replace("<int:event_id>", "1")
        path = path.replace("<name>", "x").replace("<int:index>", "0")
        response = anon.post(path, data={"csrf_token": token})
        assert response.status_code == 401, path


def test_login_with_the_password_opens_a_session(anon):
    response = anon.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf_token(anon),
                                               "next": "/admin/"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert anon.get("/admin/").status_code == 200


def test_cookie_is_secure_over_https(admin_app):
    client = admin_app.test_client()
    token = csrf_token(client)
    response = client.post("/admin/login", base_url="https://localhost",
                           data={"password": ADMIN_PASSWORD, "csrf_token": token},
                           headers={"Referer": "https://localhost/admin/login"})
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_wrong_password_is_refused(anon):
    response = anon.post("/admin/login", data={"password": "guess", "csrf_token": csrf_token(anon)})
    assert response.status_code == 401
    assert "Wrong password" in response.get_data(as_text=True)
    assert anon.get("/admin/").status_code == 302


def test_login_without_csrf_token_is_refused(anon):
    response = anon.post("/admin/login", data={"password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_guessing_is_stopped_after_five_failures_even_with_the_right_password(anon):
    token = csrf_token(anon)
    for _ in range(5):
        assert anon.post("/admin/login", data={"password": "nope", "csrf_token": token}).status_code == 401
    response = anon.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": token})
    assert response.status_code == 429
    assert "Too many" in response.get_data(as_text=True)


def test_the_limit_is_per_address(admin_app):
    first, second = admin_app.test_client(), admin_app.test_client()
    token = csrf_token(first)
    for _ in range(5):
        first.post("/admin/login", data={"password": "nope", "csrf_token": token},
                   environ_base={"REMOTE_ADDR": "10.0.0.1"})
    other = csrf_token(second)
    response = second.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": other},
                           environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert response.status_code == 302


def test_logout_ends_the_session(admin_client):
    assert admin_client.get("/admin/").status_code == 200
    response = admin_client.post("/admin/logout", data={"csrf_token": admin_client.csrf()})
    assert response.status_code == 302
    assert admin_client.get("/admin/").status_code == 302


def test_logout_needs_csrf(admin_client):
    refused = admin_client.post("/admin/logout")
    assert refused.status_code == 400 and "Sign out" in refused.get_data(as_text=True)  # still signed in
    assert admin_client.get("/admin/").status_code == 200


def test_next_never_leaves_the_console(anon):
    for target in ("https://evil.example/", "//evil.example/admin", "/webhooks/zendesk", "/administrator",
                   "/admin\\evil"):
        response = anon.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf_token(anon),
                                                   "next": target})
        assert response.headers["Location"] == "/admin/", target
        anon.post("/admin/logout", data={"csrf_token": csrf_token(anon, "/admin/")})


def test_next_with_a_line_break_is_ignored(anon):
    # A CR/LF would break the Location header: a 500 instead of signing in.
    for target in ("/admin/\r\nSet-Cookie: x=1", "/admin/\n", "/admin/\x00"):
        response = anon.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf_token(anon),
                                                   "next": target})
        assert response.status_code == 302 and response.headers["Location"] == "/admin/", repr(target)
        anon.post("/admin/logout", data={"csrf_token": csrf_token(anon, "/admin/")})


def test_a_console_address_in_next_survives_sign_in(anon):
    response = anon.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf_token(anon),
                                               "next": "/admin/suggestions?status=failed&page=2"})
    assert response.headers["Location"] == "/admin/suggestions?status=failed&page=2"


def test_next_with_a_line_break_on_the_form_is_dropped(anon):
    page = anon.get("/admin/login", query_string={"next": "/admin/\r\nX: y"})
    assert page.status_code == 200 and 'name="next" value=""' in page.get_data(as_text=True)


def test_console_is_off_without_password_or_secret_key(app_factory):
    response = app_factory(secret_key="s" * 40).test_client().get("/admin/login")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "AMENDS_ADMIN_PASSWORD" in page and "AMENDS_SECRET_KEY" not in page


def test_first_run_without_settings_names_them_on_every_console_page(app_factory):
    # No .env at all: no secret key, so nothing on these pages may need one (CSRF, the session).
    client = app_factory().test_client()
    answers = [client.get("/admin/"), client.get("/admin/login"), client.get("/admin/rules"),
               client.post("/admin/login", data={"password": "x"}), client.post("/admin/logout")]
    for response in answers:
        page = response.get_data(as_text=True)
        assert response.status_code == 503, page
        assert "The admin console is off" in page
        assert "<code>AMENDS_SECRET_KEY</code>" in page and "<code>AMENDS_ADMIN_PASSWORD</code>" in page


def test_a_copy_of_env_example_with_a_secret_key_and_password_starts(tmp_path, monkeypatch):
    from pathlib import Path

    from plugin import create_app
    from plugin.config import load_settings

    for key in [k for k in os.environ if k.startswith("AMENDS_")]:
        monkeypatch.delenv(key)
    example = (Path(__file__).parent.parent / ".env.example").read_text()
    (tmp_path / ".env").write_text(example + f"\nAMENDS_SECRET_KEY={'k' * 40}\nAMENDS_ADMIN_PASSWORD=pw\n")
    monkeypatch.chdir(tmp_path)
    app = create_app(load_settings())
    try:
        client = app.test_client()
        assert client.get("/admin/login").status_code == 200
        response = client.post("/admin/login", data={"password": "pw", "csrf_token": csrf_token(client)})
        assert response.status_code == 302 and client.get("/admin/").status_code == 200
    finally:
        app.extensions["amends"].engine.dispose()


# --- the limit under concurrency, sessions on the server, the audit log (issue 12) ---------

def test_concurrent_wrong_guesses_get_no_more_password_checks_than_the_limit(admin_app, monkeypatch):
    from plugin.web.admin import auth

    checks, lock, guesses = [], threading.Lock(), 16
    compare = auth.password_matches

    def counted(given, expected):
        with lock:
            checks.append(given)
        time.sleep(0.05)  # a slow check: the other guesses arrive meanwhile
        return compare(given, expected)

    monkeypatch.setattr(auth, "password_matches", counted)
    clients = [admin_app.test_client() for _ in range(guesses)]
    tokens = [csrf_token(client) for client in clients]
    start = threading.Barrier(guesses)

    def guess(n):
        start.wait()
        return clients[n].post("/admin/login", data={"password": f"guess {n}", "csrf_token": tokens[n]}).status_code

    with ThreadPoolExecutor(guesses) as pool:
        statuses = sorted(pool.map(guess, range(guesses)))
    assert len(checks) <= auth.MAX_FAILURES, checks
    assert statuses == [401] * auth.MAX_FAILURES + [429] * (guesses - auth.MAX_FAILURES)


def test_a_right_password_starts_the_count_afresh(anon):
    token = csrf_token(anon)
    for _ in range(4):
        assert anon.post("/admin/login", data={"password": "nope", "csrf_token": token}).status_code == 401
    assert anon.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": token}).status_code == 302
    token = csrf_token(anon)
    for _ in range(5):
        assert anon.post("/admin/login", data={"password": "nope", "csrf_token": token}).status_code == 401


def test_the_count_starts_afresh_when_the_window_has_passed(anon):
    from plugin.web.admin import auth

    token = csrf_token(anon)
    for _ in range(5):
        anon.post("/admin/login", data={"password": "nope", "csrf_token": token})
    assert anon.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": token}).status_code == 429
    with anon.application.extensions["amends"].engine.begin() as conn:  # the window began long enough ago
        conn.execute(db.login_counters.update().values(window_start=time.time() - auth.WINDOW_SECONDS - 1))
    assert anon.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": token}).status_code == 302


def test_an_old_cookie_opens_nothing_after_sign_out(admin_client):
    kept = admin_client.get_cookie("amends_session").value
    admin_client.post("/admin/logout", data={"csrf_token": admin_client.csrf()})
    admin_client.set_cookie("amends_session", kept)  # as if copied before signing out
    response = admin_client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_the_cookie_carries_only_a_token_whose_hash_is_stored(admin_client):
    engine = admin_client.application.extensions["amends"].engine
    with engine.connect() as conn:
        [row] = conn.execute(sa.select(db.admin_sessions)).mappings().all()
    assert row["name"] == "Ada" and row["revoked_at"] is None
    assert row["expires_at"] - row["created_at"] == 12 * 3600
    assert row["id"] not in admin_client.get_cookie("amends_session").value


def test_an_expired_session_opens_nothing(admin_client):
    engine = admin_client.application.extensions["amends"].engine
    with engine.begin() as conn:
        conn.execute(db.admin_sessions.update().values(expires_at=time.time() - 1))
    assert admin_client.get("/admin/").status_code == 302


def test_sign_in_and_sign_out_are_in_the_audit_log(admin_client):
    admin_client.post("/admin/logout", data={"csrf_token": admin_client.csrf()})
    engine = admin_client.application.extensions["amends"].engine
    entries = db.list_audit(engine, "zendesk", "acme")
    assert [(e["action"], e["actor"]) for e in entries] == [("admin.sign_out", "Ada (127.0.0.1)"),
                                                            ("admin.sign_in", "Ada (127.0.0.1)")]


def test_webhooks_and_api_are_not_subject_to_csrf(admin_app):
    # Machine endpoints authenticate by signature or bearer token; a CSRF refusal there would break Zendesk.
    client = admin_app.test_client()
    assert client.post("/webhooks/zendesk", data=b"{}", content_type="application/json").status_code == 401
    assert client.post("/api/feedback", json={}).status_code == 401


def test_admin_pages_are_not_cached_or_framed(admin_client):
    response = admin_client.get("/admin/")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
