"""The console's stored OAuth connection: the connector uses it when the environment has no
credentials, refreshes it before expiry and on 401, safely across threads, and gives way to
environment credentials."""

import threading
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from plugin import db
from plugin.connectors import zendesk_oauth
from plugin.connectors.zendesk import ZendeskConnector
from plugin.connectors.zendesk_console import CONNECTED, NEEDS_REAUTH, ConsoleConnection, store_grant
from plugin.errors import AuthError

PUBLIC = "https://amends.example.test"
CLIENT_ID, CLIENT_SECRET = "amends-console", "zd-client-secret"
NO_ENV_CREDENTIALS = dict(zendesk_subdomain="", zendesk_email="", zendesk_api_token="", zendesk_webhook_secret="",
                          secret_key="k" * 40)


@pytest.fixture
def settings(make_settings, fake_zendesk):
    return make_settings(zendesk_api_url=fake_zendesk.url, **NO_ENV_CREDENTIALS)


def connect(engine, settings, account="acme") -> ConsoleConnection:
    """Authorise through the fake's authorization page and store the grant, as the console does."""
    verifier, challenge = zendesk_oauth.new_pkce()
    page = requests.get(zendesk_oauth.authorization_url(settings, account, CLIENT_ID, PUBLIC, "st", challenge),
                        allow_redirects=False, timeout=5)
    code = parse_qs(urlparse(page.headers["Location"]).query)["code"][0]
    grant = zendesk_oauth.exchange_code(requests.Session(), settings, account, client_id=CLIENT_ID,
                                        client_secret=CLIENT_SECRET, code=code, public_url=PUBLIC,
                                        code_verifier=verifier)
    console = ConsoleConnection(engine, settings, account=account)
    box = console.box()
    console.update(lambda d: store_grant({**d, "subdomain": account, "client_id": CLIENT_ID, "public_url": PUBLIC,
                                          "client_secret": box.encrypt(CLIENT_SECRET)}, grant, box))
    return console


@pytest.fixture
def ticket(fake_zendesk):
    fake_zendesk.add_ticket(35436, subject="Late parcel", description="Where is my parcel?",
                            requester={"id": 7, "name": "Maria Gonzalez", "email": "maria@example.com"})
    return 35436


def bearer_requests(fake, method="PUT"):
    return [r for r in fake.requests if r.method == method and r.path.startswith("/api/v2/tickets/")]


def token_requests(fake, grant):
    return [r for r in fake.requests if r.path == "/oauth/tokens" and r.json["grant_type"] == grant]


def set_expiry(console, seconds_left):
    console.update(lambda d: {**d, "access_expires_at": time.time() + seconds_left})


def test_connector_without_env_credentials_posts_with_the_console_token(settings, engine, fake_zendesk, ticket):
    console = connect(engine, settings)
    connector = ZendeskConnector(settings, engine=engine)
    assert connector.uses_console_tokens and connector.account == "acme"
    connector.post_internal_note(str(ticket), "Draft apology")
    assert fake_zendesk.comments(ticket)[-1]["sent"] == {"body": "Draft apology", "public": False}
    sent = bearer_requests(fake_zendesk)[-1].headers["Authorization"]
    assert sent == f"Bearer {console.reveal(console.load(), 'access_token')}"
    assert token_requests(fake_zendesk, "refresh_token") == []


def test_the_token_is_refreshed_shortly_before_it_expires(settings, engine, fake_zendesk, ticket):
    console = connect(engine, settings)
    old = console.reveal(console.load(), "access_token")
    set_expiry(console, 30)
    ZendeskConnector(settings, engine=engine).post_internal_note(str(ticket), "Draft apology")
    assert len(token_requests(fake_zendesk, "refresh_token")) == 1
    refresh_body = token_requests(fake_zendesk, "refresh_token")[0].json
    assert refresh_body["client_id"] == CLIENT_ID and refresh_body["client_secret"] == CLIENT_SECRET
    data = console.load()
    new = console.reveal(data, "access_token")
    assert new != old and data["status"] == CONNECTED and data["token_serial"] == 2
    assert data["access_expires_at"] > time.time() + 3600
    assert bearer_requests(fake_zendesk)[-1].headers["Authorization"] == f"Bearer {new}"
    assert [r.status for r in bearer_requests(fake_zendesk)] == [200]  # no 401 first


def test_a_401_refreshes_once_and_retries_the_request(settings, engine, fake_zendesk, ticket):
    console = connect(engine, settings)
    fake_zendesk.expire_access_tokens()  # Zendesk revoked it early; our stored expiry still looks fine
    ZendeskConnector(settings, engine=engine).post_internal_note(str(ticket), "Draft apology")
    assert [r.status for r in bearer_requests(fake_zendesk)] == [401, 200]
    assert len(token_requests(fake_zendesk, "refresh_token")) == 1
    assert len(fake_zendesk.comments(ticket)) == 2  # the description plus one note
    assert console.load()["token_serial"] == 2


def test_a_refused_refresh_token_marks_the_connection_for_reauthorisation(settings, engine, fake_zendesk, ticket):
    console = connect(engine, settings)
    fake_zendesk.expire_access_tokens()
    fake_zendesk.revoke_refresh_tokens()
    connector = ZendeskConnector(settings, engine=engine)
    with pytest.raises(AuthError, match="authorise again on /admin/connect"):
        connector.post_internal_note(str(ticket), "Draft apology")
    data = console.load()
    assert data["status"] == NEEDS_REAUTH and "invalid_grant" in data["status_reason"]
    assert "refresh_lease" not in data
    with pytest.raises(AuthError, match="must be authorised again"):  # no more calls until the admin acts
        connector.post_internal_note(str(ticket), "Draft apology")
    assert len(token_requests(fake_zendesk, "refresh_token")) == 1


def test_many_threads_refresh_once_and_all_get_the_new_token(settings, engine, fake_zendesk):
    console = connect(engine, settings)
    set_expiry(console, 10)
    results, errors = [], []

    def worker():
        try:  # one ConsoleConnection per thread, as each worker thread has its own connector
            results.append(ConsoleConnection(engine, settings).access_token())
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    # Zendesk rotates refresh tokens: a second refresh with the same one would be refused.
    assert len(token_requests(fake_zendesk, "refresh_token")) == 1
    data = console.load()
    assert set(results) == {console.reveal(data, "access_token")}
    assert data["status"] == CONNECTED and "refresh_lease" not in data


def test_a_newer_token_stored_meanwhile_wins_over_a_refused_refresh(settings, engine, fake_zendesk):
    console = connect(engine, settings)
    stale = console.reveal(console.load(), "access_token")
    newer = connect(engine, settings)  # e.g. the admin re-connected while a worker held the old token
    fake_zendesk.revoke_refresh_tokens()
    token = ConsoleConnection(engine, settings).refresh_after_401(stale)
    assert token == newer.reveal(newer.load(), "access_token") != stale
    assert token_requests(fake_zendesk, "refresh_token") == []  # nothing to refresh: a newer token exists


def test_environment_credentials_win_over_the_console(make_settings, fake_zendesk, ticket):
    settings = make_settings(zendesk_api_url=fake_zendesk.url, secret_key="k" * 40)  # env API token + email
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    try:
        connect(engine, settings, account="acme")
        connector = ZendeskConnector(settings, engine=engine)
        assert not connector.uses_console_tokens
        connector.post_internal_note(str(ticket), "Draft apology")
        assert bearer_requests(fake_zendesk)[-1].headers["Authorization"].startswith("Basic ")
        assert token_requests(fake_zendesk, "refresh_token") == []
    finally:
        engine.dispose()


def test_no_connection_at_all_is_an_auth_error(settings, engine, ticket):
    connector = ZendeskConnector(settings, engine=engine)
    with pytest.raises(AuthError, match="not connected"):
        connector.post_internal_note(str(ticket), "Draft apology")


def test_a_changed_secret_key_is_an_auth_error_naming_the_fix(settings, engine, make_settings, fake_zendesk, ticket):
    connect(engine, settings)
    other = make_settings(zendesk_api_url=fake_zendesk.url, **{**NO_ENV_CREDENTIALS, "secret_key": "z" * 40})
    with pytest.raises(AuthError, match="connect Zendesk again"):
        ZendeskConnector(other, engine=engine).post_internal_note(str(ticket), "Draft apology")
