"""Console access: login, logout, CSRF, rate limit, cookie flags, console off without settings."""

from __future__ import annotations

import pytest

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
    assert admin_client.post("/admin/logout").status_code == 400
    assert admin_client.get("/admin/").status_code == 200


def test_next_never_leaves_the_console(anon):
    for target in ("https://evil.example/", "//evil.example/admin", "/webhooks/zendesk"):
        response = anon.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf_token(anon),
                                                   "next": target})
        assert response.headers["Location"] == "/admin/", target
        anon.post("/admin/logout", data={"csrf_token": csrf_token(anon, "/admin/")})


def test_console_is_off_without_password_or_secret_key(make_settings):
    from plugin import create_app

    app = create_app(make_settings(secret_key="s" * 40))
    response = app.test_client().get("/admin/login")
    assert response.status_code == 503
    assert "AMENDS_ADMIN_PASSWORD" in response.get_data(as_text=True)
    app.extensions["amends"].engine.dispose()


def test_webhooks_and_api_are_not_subject_to_csrf(admin_app):
    # Machine endpoints authenticate by signature or bearer token; a CSRF refusal there would break Zendesk.
    client = admin_app.test_client()
    assert client.post("/webhooks/zendesk", data=b"{}", content_type="application/json").status_code == 401
    assert client.post("/api/feedback", json={}).status_code == 401


def test_admin_pages_are_not_cached_or_framed(admin_client):
    response = admin_client.get("/admin/")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
