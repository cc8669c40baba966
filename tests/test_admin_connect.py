"""Console "Connect Zendesk": the OAuth round trip against the fake, the webhook set-up and its test."""

import html
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import sqlalchemy as sa

from plugin import db
from plugin.connectors.zendesk_console import ConsoleConnection
from tests.conftest import ADMIN_PASSWORD, csrf_token, fixture_bytes, signed_headers

PUBLIC = "https://amends.example.test"
FORM = {"subdomain": "acme", "client_id": "amends-console", "client_secret": "zd-client-secret", "public_url": PUBLIC}
NO_ENV_CREDENTIALS = dict(zendesk_subdomain="", zendesk_email="", zendesk_api_token="", zendesk_webhook_secret="")


def signed_in(app):
    client = app.test_client()
    answer = client.post("/admin/login", data={"password": ADMIN_PASSWORD, "name": "Ada",
                                               "csrf_token": csrf_token(client)})
    assert answer.status_code == 302
    client.csrf = lambda path="/admin/connect": csrf_token(client, path)
    return client


@pytest.fixture
def make_app(app_factory, fake_zendesk):
    values = dict(secret_key="s" * 40, admin_password=ADMIN_PASSWORD, zendesk_api_url=fake_zendesk.url,
                  **NO_ENV_CREDENTIALS)
    return lambda **overrides: app_factory(**{**values, **overrides})


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return signed_in(app)


def start(client, **changes):
    """Submit the form; the answer sends the browser to Zendesk's authorization page."""
    return client.post("/admin/connect", data={**FORM, **changes, "csrf_token": client.csrf()})


def authorise(client, fake, **changes):
    """Form -> Zendesk's authorization page (the fake answers at once) -> our callback."""
    answer = start(client, **changes)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    page = requests.get(answer.headers["Location"], allow_redirects=False, timeout=5)
    assert page.status_code == 302
    back = urlparse(page.headers["Location"])
    assert f"{back.scheme}://{back.netloc}" == PUBLIC and back.path == "/admin/connect/callback"
    return back


def finish(client, back, **query):
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    params.update(query)
    return client.get(back.path, query_string=params, follow_redirects=True)


def words(answer) -> str:
    """The page's text as a reader sees it: entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(answer.get_data(as_text=True)).split())


def raw_row(app, account="acme") -> str:
    with app.extensions["amends"].engine.connect() as conn:
        return conn.execute(sa.select(db.connections.c.data).where(db.connections.c.account == account)).scalar()


def console(app, account="acme"):
    runtime = app.extensions["amends"]
    return ConsoleConnection(runtime.engine, runtime.settings, account=account)


def connect(client, fake):
    page = finish(client, authorise(client, fake))
    assert page.status_code == 200 and "Connected to acme.zendesk.com" in page.get_data(as_text=True)
    return page


# --- OAuth ---------------------------------------------------------------------------------------


def test_page_shows_the_form_and_how_to_register_the_client(client):
    page = client.get("/admin/connect")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "OAuth client unique identifier" in text and "not connected" in text
    assert 'name="client_secret"' in text and "/admin/connect/callback" in text


def test_full_oauth_round_trip_stores_tokens_encrypted(app, client, fake_zendesk):
    answer = start(client)
    location = urlparse(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == fake_zendesk.url + "/oauth/authorizations/new"
    query = parse_qs(location.query)
    assert query["response_type"] == ["code"] and query["client_id"] == ["amends-console"]
    assert query["redirect_uri"] == [PUBLIC + "/admin/connect/callback"] and query["scope"] == ["read write"]
    assert query["code_challenge_method"] == ["S256"] and len(query["state"][0]) >= 32

    page = requests.get(answer.headers["Location"], allow_redirects=False, timeout=5)
    back = urlparse(page.headers["Location"])
    text = finish(client, back).get_data(as_text=True)
    assert "Connected to acme.zendesk.com" in text and "status connected" in text

    exchange = [r for r in fake_zendesk.requests if r.path == "/oauth/tokens"][-1].json
    assert exchange["grant_type"] == "authorization_code" and exchange["code_verifier"]
    assert exchange["redirect_uri"] == PUBLIC + "/admin/connect/callback"
    access = fake_zendesk.access_tokens()[0]
    raw = raw_row(app)
    for secret in (access, "zd-client-secret", exchange["code"], exchange["code_verifier"]):
        assert secret not in raw
    data = json.loads(raw)
    assert data["access_token"].startswith("fernet1:") and data["refresh_token"].startswith("fernet1:")
    assert console(app).reveal(data, "access_token") == access
    assert data["status"] == "connected" and "pending" not in data and data["access_expires_at"] > 0
    assert "zd-client-secret" not in text and access not in text

    audit = db.list_audit(app.extensions["amends"].engine, "zendesk", "acme")
    # The sign-in, made while the console still worked on "default", was carried over to acme.
    assert [a["action"] for a in audit] == ["zendesk.connect", "account.carried_over", "zendesk.connect.start",
                                            "admin.sign_in"]
    assert all(access not in (a["after"] or "") and "zd-client-secret" not in (a["after"] or "") for a in audit)
    assert audit[0]["actor"].startswith("Ada")


def test_the_stored_secret_is_never_shown_and_can_be_kept(app, client, fake_zendesk):
    connect(client, fake_zendesk)
    text = client.get("/admin/connect").get_data(as_text=True)
    assert "stored" in text and "zd-client-secret" not in text
    assert 'value=""' in text.split('id="client_secret"')[1].split(">")[0]
    # Connecting again without retyping the secret keeps the stored one.
    page = finish(client, authorise(client, fake_zendesk, client_secret=""))
    assert "Connected to acme.zendesk.com" in page.get_data(as_text=True)


def test_state_mismatch_is_refused_and_changes_nothing(app, client, fake_zendesk):
    back = authorise(client, fake_zendesk)
    answer = finish(client, back, state="forged-state")
    assert answer.status_code == 400 and "state mismatch" in answer.get_data(as_text=True)
    assert "access_token" not in json.loads(raw_row(app))
    assert not [r for r in fake_zendesk.requests if r.path == "/oauth/tokens"]


def test_callback_from_another_browser_is_refused(app, client, fake_zendesk):
    back = authorise(client, fake_zendesk)
    other = signed_in(app)  # signed in too, but did not start this authorisation
    assert finish(other, back).status_code == 400
    assert "access_token" not in json.loads(raw_row(app))


def test_access_denied_is_shown(app, client, fake_zendesk):
    fake_zendesk.deny_authorization = True
    page = finish(client, authorise(client, fake_zendesk))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "access was denied" in text
    data = json.loads(raw_row(app))
    assert "access_token" not in data and "pending" not in data


def test_a_bad_code_is_shown(app, client, fake_zendesk):
    page = finish(client, authorise(client, fake_zendesk), code="not-a-code")
    assert "Zendesk refused the authorisation (invalid_grant)" in page.get_data(as_text=True)
    assert "access_token" not in json.loads(raw_row(app))


def test_a_wrong_client_secret_is_shown(app, client, fake_zendesk):
    page = finish(client, authorise(client, fake_zendesk, client_secret="wrong"))
    assert "Zendesk refused the authorisation (invalid_client)" in page.get_data(as_text=True)


@pytest.mark.parametrize("field, value, message", [
    ("subdomain", "", "Enter the subdomain only"),
    ("subdomain", "acme corp", "Enter the subdomain only"),
    ("client_id", "", "unique identifier"),
    ("client_id", "has spaces", "unique identifier"),
    ("client_secret", "", "Enter the OAuth client's secret"),
    ("public_url", "", "Enter the address Zendesk can reach"),
    ("public_url", "amends.example.test", "Enter the address Zendesk can reach"),
    ("public_url", "http://amends.example.test", "only redirects to https"),
    ("public_url", "https://amends.example.test/?x=1", "Enter the address Zendesk can reach"),
])
def test_validation_errors(app, client, field, value, message):
    answer = start(client, **{field: value})
    text = words(answer)
    assert answer.status_code == 400 and message in text
    assert "zd-client-secret" not in text
    assert raw_row(app) is None


def test_pasted_hosts_and_local_http_are_accepted(client, fake_zendesk):
    answer = start(client, subdomain="https://Acme.zendesk.com/", public_url="http://localhost:8000/")
    assert answer.status_code == 302
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    assert query["redirect_uri"] == ["http://localhost:8000/admin/connect/callback"]


def test_a_configured_subdomain_must_match(make_app, make_settings, fake_zendesk):
    client = signed_in(make_app(zendesk_subdomain="acme"))
    answer = start(client, subdomain="other")
    assert answer.status_code == 400 and "AMENDS_ZENDESK_SUBDOMAIN is 'acme' on this server" in words(answer)


@pytest.mark.parametrize("path", ["/admin/connect", "/admin/connect/webhook", "/admin/connect/webhook/test"])
def test_csrf_is_refused_on_every_post(app, client, path):
    answer = client.post(path, data=FORM)
    assert answer.status_code == 400 and "security token" in answer.get_data(as_text=True)
    assert raw_row(app) is None


def test_reauthorisation_needed_is_shown(app, client, fake_zendesk):
    connect(client, fake_zendesk)
    console(app).update(lambda d: {**d, "status": "needs_reauthorisation", "status_reason": "invalid_grant"})
    text = client.get("/admin/connect").get_data(as_text=True)
    assert "needs re-authorisation" in text and "Connect again" in text


# --- webhook set-up ---------------------------------------------------------------------------------


def press(client, path="/admin/connect/webhook"):
    return client.post(path, data={"csrf_token": client.csrf()}, follow_redirects=True)


def test_set_up_twice_creates_one_webhook_and_stores_its_secret(app, client, fake_zendesk):
    connect(client, fake_zendesk)
    first = press(client).get_data(as_text=True)
    second = press(client).get_data(as_text=True)
    hooks = fake_zendesk.webhooks()
    assert len(hooks) == 1
    hook = hooks[0]
    assert hook["name"] == "Amends" and hook["endpoint"] == PUBLIC + "/webhooks/zendesk"
    assert hook["subscriptions"] == ["zen:event-type:ticket.created", "zen:event-type:ticket.comment_added"]
    assert hook["status"] == "active"
    assert "Created the webhook" in first and "Found the webhook" in second
    secret = fake_zendesk.webhook_secret(hook["id"])
    raw = raw_row(app)
    assert secret not in raw and json.loads(raw)["webhook_id"] == hook["id"]
    assert console(app).webhook_secret() == secret
    assert secret not in second
    actions = [a["action"] for a in db.list_audit(app.extensions["amends"].engine, "zendesk", "acme")]
    assert actions.count("zendesk.webhook.setup") == 2


def test_an_existing_webhook_for_our_endpoint_is_reused(app, client, fake_zendesk):
    connect(client, fake_zendesk)
    token = fake_zendesk.access_tokens()[0]
    made = requests.post(fake_zendesk.url + "/api/v2/webhooks", timeout=5,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"webhook": {"name": "Amends (old)", "status": "inactive",
                                           "endpoint": PUBLIC + "/webhooks/zendesk", "http_method": "POST",
                                           "request_format": "json",
                                           "subscriptions": ["zen:event-type:ticket.created"]}}).json()["webhook"]
    assert "Updated the webhook" in press(client).get_data(as_text=True)
    assert [h["id"] for h in fake_zendesk.webhooks()] == [made["id"]]
    assert fake_zendesk.webhooks()[0]["status"] == "active"


def test_a_webhook_made_before_comment_events_gets_them_added(app, client, fake_zendesk):
    """Set up with only ticket.created (as before outcomes existed): pressing again updates it in place."""
    connect(client, fake_zendesk)
    token = fake_zendesk.access_tokens()[0]
    made = requests.post(fake_zendesk.url + "/api/v2/webhooks", timeout=5,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"webhook": {"name": "Amends", "status": "active",
                                           "endpoint": PUBLIC + "/webhooks/zendesk", "http_method": "POST",
                                           "request_format": "json",
                                           "subscriptions": ["zen:event-type:ticket.created"]}}).json()["webhook"]
    assert "Updated the webhook" in press(client).get_data(as_text=True)
    [hook] = fake_zendesk.webhooks()
    assert hook["id"] == made["id"]
    assert set(hook["subscriptions"]) == {"zen:event-type:ticket.created", "zen:event-type:ticket.comment_added"}
    assert "Found the webhook" in press(client).get_data(as_text=True)  # no drift left: nothing to update


def test_a_deleted_webhook_is_created_again(app, client, fake_zendesk):
    connect(client, fake_zendesk)
    press(client)
    gone = fake_zendesk.webhooks()[0]["id"]
    fake_zendesk._webhooks.clear()  # someone deleted it in Admin Center
    assert "Created the webhook" in press(client).get_data(as_text=True)
    assert [h["id"] for h in fake_zendesk.webhooks()] != [gone] and len(fake_zendesk.webhooks()) == 1


def test_webhooks_signed_with_the_stored_secret_are_accepted(app, client, fake_zendesk):
    connect(client, fake_zendesk)
    press(client)
    secret = fake_zendesk.webhook_secret(fake_zendesk.webhooks()[0]["id"])
    body = fixture_bytes("ticket_created_event.json")
    web = app.test_client()
    good = web.post("/webhooks/zendesk", data=body, headers=signed_headers(body, secret=secret))
    assert good.status_code == 202, good.json
    bad = web.post("/webhooks/zendesk", data=body, headers=signed_headers(body, secret="not-the-secret"))
    assert bad.status_code == 401
    event = db.get_event(app.extensions["amends"].engine, good.json["event_id"])
    assert event["account"] == "acme"


def test_the_environment_webhook_secret_wins(make_app, fake_zendesk):
    app = make_app(zendesk_subdomain="acme", zendesk_webhook_secret="env-secret")
    client = signed_in(app)
    connect(client, fake_zendesk)
    assert "wins over the signing secret stored here" in words(press(client))
    stored = fake_zendesk.webhook_secret(fake_zendesk.webhooks()[0]["id"])
    body = fixture_bytes("ticket_created_event.json")
    web = app.test_client()
    assert web.post("/webhooks/zendesk", data=body, headers=signed_headers(body, secret=stored)).status_code == 401
    assert web.post("/webhooks/zendesk", data=body, headers=signed_headers(body, secret="env-secret")).status_code == 202


def test_set_up_needs_a_connection(client, fake_zendesk):
    text = press(client).get_data(as_text=True)
    assert "connect Zendesk first" in text
    assert fake_zendesk.webhooks() == []


def deliver_to(app, log=None):
    """A transport for the fake's webhook test: into this app instead of over the internet."""
    def transport(method, url, headers, body):
        if log is not None:
            log.append((method, url))
        answer = app.test_client().open(urlparse(url).path, method=method, data=body, headers=headers)
        return answer.status_code, dict(answer.headers), answer.get_data(as_text=True)
    return transport


def test_test_button_shows_what_zendesk_reports(app, client, fake_zendesk):
    connect(client, fake_zendesk)
    press(client)
    delivered = []
    fake_zendesk.webhook_transport = deliver_to(app, delivered)
    text = press(client, "/admin/connect/webhook/test").get_data(as_text=True)
    assert delivered == [("POST", PUBLIC + "/webhooks/zendesk")]
    assert "Amends answered HTTP 200" in text and "ignored" in text
    test_call = [r for r in fake_zendesk.requests if r.path == "/api/v2/webhooks/test"][-1]
    assert test_call.query == {"webhook_id": fake_zendesk.webhooks()[0]["id"]}
    assert re.search(r"Last test .*HTTP 200", client.get("/admin/connect").get_data(as_text=True), re.S)


def test_test_button_reports_a_refused_signature(app, client, fake_zendesk):
    connect(client, fake_zendesk)
    press(client)
    console(app).update(lambda d: {**d, "webhook_secret": console(app).box().encrypt("stale-secret")})
    fake_zendesk.webhook_transport = deliver_to(app)
    text = press(client, "/admin/connect/webhook/test").get_data(as_text=True)
    assert "got HTTP 401" in text and "signature does not match" in text


def test_test_button_needs_the_webhook(client, fake_zendesk):
    connect(client, fake_zendesk)
    assert "Set up the webhook first" in press(client, "/admin/connect/webhook/test").get_data(as_text=True)
