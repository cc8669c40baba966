"""Shared fixtures: settings per storage backend, the app, signed deliveries, the fake Zendesk.

Storage-touching tests run twice: on the embedded defaults (SQLite + Huey's
SQLite queue) and on PostgreSQL + Redis, in a database and a Redis db this run creates
for itself on the servers AMENDS_TEST_DATABASE_URL and AMENDS_TEST_QUEUE_URL name
(defaults: the local services; see tests/scratch.py), dropped at the end. Where those
are not reachable the second run is skipped with the reason.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from plugin.config import load_settings
from plugin.core.signatures import sign
from tests.scratch import Scratch, Unavailable


def pytest_sessionstart(session):
    """Train (or load the cached) classifier once before any test runs: a fresh clone has no
    cached model, and training it (about a minute on 2 cores) must not count against the
    timeouts of whichever test happens to classify first."""
    from plugin.core.classify import base_model

    base_model()

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "whsec-test-secret"


def _scratch():
    """Our own PostgreSQL database and Redis db for this run (tests/scratch.py), dropped at exit
    (a SIGTERM, e.g. from `timeout`, exits through atexit too; what a kill -9 leaves behind the
    next run on this machine drops)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        scratch = Scratch("test").create()
    except Unavailable as exc:
        return None, str(exc)
    atexit.register(scratch.drop)
    return scratch, None


SCRATCH, _DISTRIBUTED_SKIP = _scratch()


def reset_distributed() -> None:
    """Empty this run's own database and queue so each test starts clean."""
    SCRATCH.reset()


@pytest.fixture(params=["embedded", "distributed"])
def backend(request, tmp_path):
    """(database_url, queue_url) for this run."""
    if request.param == "embedded":
        return (f"sqlite:///{tmp_path / 'amends.db'}", f"sqlite:///{tmp_path / 'queue.db'}")
    if _DISTRIBUTED_SKIP:
        pytest.skip(_DISTRIBUTED_SKIP)
    reset_distributed()
    return (SCRATCH.database_url, SCRATCH.queue_url)


@pytest.fixture
def make_settings(backend, tmp_path, monkeypatch):
    """Settings as the service would load them, with a clean environment and no .env."""
    for key in list(os.environ):
        if key.startswith("AMENDS_"):
            monkeypatch.delenv(key)
    database_url, queue_url = backend

    def factory(**overrides):
        values = dict(
            database_url=database_url,
            queue_url=queue_url,
            zendesk_subdomain="acme",
            zendesk_webhook_secret=SECRET,
            zendesk_email="agent@example.com",
            zendesk_api_token="tok",
            zendesk_api_url="http://127.0.0.1:9",  # nothing listens: tests that post pass the fake's URL
            http_timeout_seconds=2.0,
            lease_seconds=10.0,
            retry_base_seconds=0.2,
            retry_max_delay_seconds=1.0,
            retry_max_attempts=4,
        )
        values.update(overrides)
        return load_settings(env_file=tmp_path / "absent.env", **values)

    return factory


@pytest.fixture
def settings(make_settings):
    return make_settings()


@pytest.fixture
def app(settings):
    from plugin import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["amends"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def engine(settings):
    """The settings' database, migrated; disposed after the test."""
    from plugin import db

    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def app_factory(make_settings):
    """create_app() on make_settings(**overrides), in testing mode; every app's engine is
    disposed after the test."""
    from plugin import create_app

    apps = []

    def factory(**overrides):
        app = create_app(make_settings(**overrides))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["amends"].engine.dispose()


def wait_until(predicate, timeout: float = 20.0, what: str = "condition"):
    """Poll `predicate` until it returns something truthy (returned), else fail after `timeout`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / "zendesk" / name).read_bytes()


def fixture_json(name: str) -> dict:
    return json.loads(fixture_bytes(name))


def signed_headers(body: bytes, secret: str = SECRET, timestamp: str | None = None,
                   invocation_id: str | None = None) -> dict[str, str]:
    timestamp = timestamp or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Id": "01HWEBHOOKTEST",
        "X-Zendesk-Webhook-Invocation-Id": invocation_id or uuid.uuid4().hex,
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Signature": sign(secret, timestamp, body),
    }


@pytest.fixture
def fake_zendesk():
    from tests.fakes.zendesk import FakeZendesk

    fake = FakeZendesk(email="agent@example.com", api_token="tok", oauth_token="oauth-tok")
    fake.start()
    yield fake
    fake.stop()
    # Whatever a test did, nothing we sent may break Zendesk's published contract.
    assert fake.contract_errors == [], fake.contract_errors


# --- admin console --------------------------------------------------------------

ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin_settings(make_settings):
    return make_settings(secret_key="s" * 40, admin_password=ADMIN_PASSWORD)


@pytest.fixture
def admin_app(admin_settings):
    from plugin import create_app

    app = create_app(admin_settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["amends"].engine.dispose()


def csrf_token(client, path: str = "/admin/login") -> str:
    """The CSRF token a page of the console hands the browser (forms carry it back)."""
    import re

    page = client.get(path)
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def audited_changes(engine, helpdesk: str = "zendesk", account: str = "acme") -> list[dict]:
    """The account's audit log without sign-ins and sign-outs: the changes a test made."""
    from plugin import db

    return [e for e in db.list_audit(engine, helpdesk, account) if e["action"] not in SIGN_IN_OUT]


SIGN_IN_OUT = ("admin.sign_in", "admin.sign_out")


@pytest.fixture
def admin_client(admin_app):
    """A test client signed in to the console; `.csrf()` gives a token for its forms."""
    client = admin_app.test_client()
    response = client.post("/admin/login", data={"password": ADMIN_PASSWORD, "name": "Ada",
                                                  "csrf_token": csrf_token(client)})
    assert response.status_code == 302, response.get_data(as_text=True)
    client.csrf = lambda path="/admin/": csrf_token(client, path)
    return client
