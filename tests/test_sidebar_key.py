"""The sidebar app's public key fetched from Zendesk by app id (AMENDS_ZENDESK_APP_ID): the
setting, the connector call, the fake's endpoint, the once-per-process cache and its refetch
after a key rotation, and the 503 the page answers when Zendesk cannot give the key.

Keys are made here (tests/test_sidebar.py); the fake Zendesk serves the public half.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time

import pytest
import requests

from plugin.config import load_settings
from plugin.connectors.zendesk import ZendeskConnector
from plugin.core import sidebar_auth
from plugin.core.sidebar_auth import AppKeySource, KeyUnavailable
from plugin.errors import AuthError, ConfigError, NotFound
from plugin.web.sidebar import KEY_SOURCE
from tests.fakes.zendesk import FakeZendesk
from tests.test_sidebar import KEY, OTHER_KEY, PEM, SECRET_KEY, _pem, zendesk_token

APP_ID = 360_001_234_567
OTHER_PEM = _pem(OTHER_KEY)
KEY_PATH = f"/api/v2/apps/{APP_ID}/public_key.pem"


def key_requests(fake) -> list:
    return [r for r in fake.requests if "/public_key" in r.path]


# --- the setting ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["abc", "12a", "-5", "12 34", "１２３", "1" * 21])
def test_the_app_id_must_be_digits_and_the_error_names_the_setting(tmp_path, value):
    with pytest.raises(ConfigError, match="AMENDS_ZENDESK_APP_ID must be the Zendesk app's id"):
        load_settings(env_file=tmp_path / "absent.env", secret_key=SECRET_KEY, zendesk_app_id=value)


def test_the_app_id_needs_the_secret_key_and_is_read_from_the_environment(tmp_path, monkeypatch):
    absent = tmp_path / "absent.env"
    for key in [k for k in os.environ if k.startswith("AMENDS_")]:
        monkeypatch.delenv(key)
    with pytest.raises(ConfigError, match="AMENDS_SECRET_KEY is missing: the Zendesk sidebar .AMENDS_ZENDESK_APP_ID"):
        load_settings(env_file=absent, zendesk_app_id=str(APP_ID))
    monkeypatch.setenv("AMENDS_ZENDESK_APP_ID", f" {APP_ID} ")
    monkeypatch.setenv("AMENDS_SECRET_KEY", SECRET_KEY)
    assert load_settings(env_file=absent).zendesk_app_id == str(APP_ID)


# --- the connector and the fake ------------------------------------------------------------------

@pytest.fixture
def connector(make_settings, fake_zendesk):
    connector = ZendeskConnector(make_settings(zendesk_api_url=fake_zendesk.url))
    yield connector
    connector.session.close()


def test_the_connector_fetches_the_pem_with_its_credentials(connector, fake_zendesk):
    fake_zendesk.set_app_public_key(APP_ID, PEM)
    assert connector.fetch_app_public_key(str(APP_ID)) == PEM.strip()
    (sent,) = key_requests(fake_zendesk)
    assert sent.path == KEY_PATH and sent.headers["Authorization"].startswith("Basic ")
    with pytest.raises(NotFound):
        connector.fetch_app_public_key("999")
    with pytest.raises(ValueError, match="digits"):
        connector.fetch_app_public_key("../tickets/1")


def test_a_pem_answered_as_a_json_string_is_unquoted(connector, fake_zendesk):
    # The reference's 200 example prints the key as a JSON string.
    fake_zendesk.inject("GET", "/public_key", status=200, body=json.dumps(PEM))
    assert connector.fetch_app_public_key(str(APP_ID)) == PEM.strip()


def test_the_connector_maps_a_refusal_to_auth_error(make_settings, fake_zendesk):
    fake_zendesk.set_app_public_key(APP_ID, PEM)
    connector = ZendeskConnector(make_settings(zendesk_api_url=fake_zendesk.url, zendesk_api_token="wrong"))
    with pytest.raises(AuthError, match="fetch app public key: HTTP 401"):
        connector.fetch_app_public_key(str(APP_ID))
    connector.session.close()


def test_the_fake_serves_the_key_as_text_and_checks_the_contract():
    with FakeZendesk() as fake:
        fake.set_app_public_key(APP_ID, PEM)
        auth = ("agent@example.com/token", "tok")
        ok = requests.get(fake.url + KEY_PATH, auth=auth, timeout=5)
        assert ok.status_code == 200 and ok.text == PEM and ok.headers["Content-Type"].startswith("text/plain")
        assert requests.get(fake.url + f"/api/v2/apps/{APP_ID}/public_key", auth=auth, timeout=5).text == PEM
        missing = requests.get(fake.url + "/api/v2/apps/999/public_key.pem", auth=auth, timeout=5)
        assert (missing.status_code, missing.json()) == (404, "Not Found")
        assert requests.get(fake.url + KEY_PATH, timeout=5).status_code == 401
        assert fake.contract_errors == []
        assert requests.get(fake.url + KEY_PATH + "?x=1", auth=auth, timeout=5).status_code == 400
        assert requests.post(fake.url + KEY_PATH, auth=auth, timeout=5).status_code == 400
        assert len(fake.contract_errors) == 2 and "only read (GET)" in fake.contract_errors[1]


# --- the cache -----------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_concurrent_first_loads_fetch_once():
    calls = []

    def slow_fetch() -> str:
        calls.append(1)
        time.sleep(0.2)
        return PEM

    source = AppKeySource(slow_fetch)
    keys = []
    threads = [threading.Thread(target=lambda: keys.append(source.key())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(keys) == 8
    assert all(k.public_numbers() == KEY.public_key().public_numbers() for k in keys)


def test_a_failure_is_remembered_briefly_and_a_refetch_is_rate_limited():
    clock, answers = Clock(), [KeyUnavailable("down"), PEM, OTHER_PEM, KeyUnavailable("down again")]

    def fetch() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    source = AppKeySource(fetch, clock=clock)
    for _ in range(2):
        with pytest.raises(KeyUnavailable, match="down"):
            source.key()
    assert source.fetches == 1  # the second load did not ask Zendesk again
    clock.now += AppKeySource.RETRY_SECONDS
    assert source.key().public_numbers() == KEY.public_key().public_numbers()
    assert source.refetch() is False and source.fetches == 2  # fetched just now: no second request
    clock.now += AppKeySource.REFETCH_SECONDS
    assert source.refetch() is True  # Zendesk rotated the key
    assert source.key().public_numbers() == OTHER_KEY.public_key().public_numbers()
    clock.now += AppKeySource.REFETCH_SECONDS
    assert source.refetch() is False  # the fetch failed: the key we had stays
    assert source.key().public_numbers() == OTHER_KEY.public_key().public_numbers() and source.fetches == 4


def test_an_answer_that_is_not_an_rsa_key_is_unavailable():
    source = AppKeySource(lambda: "<html>Maintenance</html>")
    with pytest.raises(KeyUnavailable, match="Zendesk's answer for the app's public key is not a PEM public key"):
        source.key()


# --- the page ------------------------------------------------------------------------------------

@pytest.fixture
def make_app(app_factory, fake_zendesk):
    values = dict(secret_key=SECRET_KEY, zendesk_app_id=str(APP_ID), zendesk_api_url=fake_zendesk.url)
    return lambda **overrides: app_factory(**{**values, **overrides})


def load(client, private=KEY):
    return client.post("/zendesk/sidebar", data={"token": zendesk_token(private)})


def test_with_only_the_app_id_the_key_is_fetched_once_for_many_loads(make_app, fake_zendesk):
    fake_zendesk.set_app_public_key(APP_ID, PEM)
    client = make_app().test_client()
    assert client.get("/zendesk/sidebar").status_code == 401  # no token: nothing fetched for it
    assert key_requests(fake_zendesk) == []
    for _ in range(3):
        response = load(client)
        assert response.status_code == 200 and 'name="amends-sidebar-token"' in response.get_data(as_text=True)
    assert [r.path for r in key_requests(fake_zendesk)] == [KEY_PATH]
    refused = load(client, OTHER_KEY)  # a token from elsewhere: refused, and no refetch so soon
    assert refused.status_code == 401 and "signature does not match" in refused.get_data(as_text=True)
    assert len(key_requests(fake_zendesk)) == 1


def test_a_rotated_key_is_fetched_again_and_then_used(make_app, fake_zendesk):
    fake_zendesk.set_app_public_key(APP_ID, PEM)
    app = make_app()
    client = app.test_client()
    assert load(client).status_code == 200
    fake_zendesk.set_app_public_key(APP_ID, OTHER_PEM)  # Zendesk rotated the app's key
    app.extensions[KEY_SOURCE].REFETCH_SECONDS = 0  # as if the last fetch were minutes ago
    assert load(client, OTHER_KEY).status_code == 200
    assert len(key_requests(fake_zendesk)) == 2
    assert load(client, KEY).status_code == 401  # the old key no longer opens the sidebar


def test_a_wrong_app_id_answers_503_with_the_reason(make_app, fake_zendesk, caplog):
    fake_zendesk.set_app_public_key(APP_ID, PEM)
    client = make_app(zendesk_app_id="999").test_client()
    caplog.set_level(logging.INFO)
    for _ in range(2):
        response = load(client)
        html = response.get_data(as_text=True)
        assert response.status_code == 503, html
        assert "Zendesk has no app 999 on this account" in html and "AMENDS_ZENDESK_APP_ID" in html
        assert "amends-sidebar-token" not in html
    assert len(key_requests(fake_zendesk)) == 1  # the failure is remembered for a while
    assert "fetching the public key of Zendesk app 999 failed: fetch app public key: HTTP 404" in caplog.text


def test_refused_credentials_and_an_outage_are_503_and_no_secret_is_logged(make_app, fake_zendesk, caplog):
    fake_zendesk.set_app_public_key(APP_ID, PEM)
    caplog.set_level(logging.INFO)
    refused = load(make_app(zendesk_api_token="wrong-api-token-7f3a").test_client())
    assert refused.status_code == 503 and "refused Amends&#39; credentials" in refused.get_data(as_text=True)
    fake_zendesk.inject("GET", "/public_key", status=503)
    down = load(make_app().test_client())
    assert down.status_code == 503 and "did not answer" in down.get_data(as_text=True)
    assert "wrong-api-token-7f3a" not in caplog.text and "HTTP 401" in caplog.text


def test_the_configured_pem_wins_over_the_app_id(make_app, fake_zendesk):
    fake_zendesk.set_app_public_key(APP_ID, OTHER_PEM)  # would refuse KEY's tokens if it were used
    client = make_app(zendesk_app_public_key=PEM).test_client()
    assert load(client).status_code == 200
    assert key_requests(fake_zendesk) == []


def test_with_the_consoles_oauth_connection_the_key_is_fetched_with_its_token(make_app, fake_zendesk):
    from tests.connectors.test_zendesk_console import NO_ENV_CREDENTIALS, connect

    fake_zendesk.set_app_public_key(APP_ID, PEM)
    app = make_app(**NO_ENV_CREDENTIALS)
    runtime = app.extensions["amends"]
    client = app.test_client()
    not_connected = load(client)
    assert not_connected.status_code == 503 and "not connected to a Zendesk account" in not_connected.get_data(
        as_text=True)
    connect(runtime.engine, runtime.settings)
    app.extensions[KEY_SOURCE].RETRY_SECONDS = 0
    assert load(client).status_code == 200
    (sent,) = key_requests(fake_zendesk)
    assert sent.headers["Authorization"].startswith("Bearer zat-")


def test_the_page_says_which_settings_it_needs(make_app):
    response = make_app(zendesk_app_id="").test_client().post("/zendesk/sidebar", data={"token": zendesk_token()})
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and "AMENDS_ZENDESK_APP_PUBLIC_KEY" in html and "AMENDS_ZENDESK_APP_ID" in html


def test_verify_takes_the_key_lazily():
    asked = []

    def key():
        asked.append(1)
        return sidebar_auth.load_public_key(PEM)

    with pytest.raises(sidebar_auth.SidebarRefused, match="no token"):
        sidebar_auth.verify_zendesk_token(None, key, lambda account: True)
    with pytest.raises(sidebar_auth.SidebarRefused, match="not a JSON Web Token"):
        sidebar_auth.verify_zendesk_token("garbage", key, lambda account: True)
    assert asked == []
    assert sidebar_auth.verify_zendesk_token(zendesk_token(), key, lambda account: True).account == "acme"
    assert asked == [1]
