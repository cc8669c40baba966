"""Browser fixtures: the real app on a live server, Debian's Chromium driven by Playwright.

Every test in this folder is marked `browser` and skipped, with the reason, when Playwright or
/usr/bin/chromium is missing (`make browser` installs Debian's chromium; never a downloaded one).
The live server always runs on the embedded storage (SQLite database and queue in tmp_path):
PostgreSQL and Redis are covered by the test-client tests, and a browser adds nothing there.

    @pytest.mark.live_server(zendesk=True, worker=True, zendesk_api_token="")
    def test_something(signed_in_page, live_server, fake_zendesk): ...

`zendesk=True` points AMENDS_ZENDESK_API_URL at the `fake_zendesk` fixture, `worker=True` runs a
queue consumer in-process; any other keyword overrides a Settings field. See README.md here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.browser.live import LiveServer, sign_in
from tests.conftest import ADMIN_PASSWORD, SECRET

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("AMENDS_TEST_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000  # a console page answers in milliseconds; fail fast rather than after 30 s


def _unavailable() -> str | None:
    """None when the browser tests can run, else why not."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        recorded = Path(sys.prefix, ".chromium-missing")  # written by `make browser` when it could not install
        why = recorded.read_text().strip() if recorded.is_file() else "run `make browser` to install Debian's chromium"
        return f"no Chromium at {CHROMIUM}: {why}"
    return None


_SKIP = _unavailable()


def pytest_collection_modifyitems(config, items):
    # This hook sees the whole session's items: touch only those collected from this folder.
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if _SKIP:
                item.add_marker(pytest.mark.skip(reason=_SKIP))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets the page fixture know the test failed, to keep a screenshot of what the browser saw.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    args = ["--disable-dev-shm-usage"]  # containers give /dev/shm only 64 MB
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start its sandbox as root
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture
def live_server(request, tmp_path, monkeypatch):
    """The app over HTTP with console settings; options from the `live_server` marker."""
    from plugin.config import load_settings

    for key in list(os.environ):
        if key.startswith("AMENDS_"):
            monkeypatch.delenv(key)
    marker = request.node.get_closest_marker("live_server")
    options = dict(marker.kwargs) if marker else {}
    zendesk = options.pop("zendesk", False)
    worker = options.pop("worker", False)
    values = dict(
        database_url=f"sqlite:///{tmp_path / 'amends.db'}",
        queue_url=f"sqlite:///{tmp_path / 'queue.db'}",
        secret_key="s" * 40,
        admin_password=ADMIN_PASSWORD,
        zendesk_subdomain="acme",
        zendesk_webhook_secret=SECRET,
        zendesk_email="agent@example.com",
        zendesk_api_token="tok",
        zendesk_api_url="http://127.0.0.1:9",  # nothing listens: only zendesk=True talks to a Zendesk
        http_timeout_seconds=2.0,
        retry_base_seconds=0.2,
        retry_max_delay_seconds=1.0,
    )
    if zendesk:
        values["zendesk_api_url"] = request.getfixturevalue("fake_zendesk").url
    values.update(options)
    server = LiveServer(load_settings(env_file=tmp_path / "absent.env", **values)).start()
    if worker:
        server.start_worker()
    yield server
    server.stop()
    assert not server.errors, f"the live server raised: {server.errors!r}"


@pytest.fixture
def page(request, browser, live_server, tmp_path):
    """A fresh browser context (no cookies) at 1280x800 whose relative URLs go to the live server.

    Uncaught JavaScript errors fail the test; a failed test leaves failure.png in its tmp_path.
    """
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url, device_scale_factor=1,
                                  locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    yield page
    report = getattr(request.node, "_report_call", None)
    if report is not None and report.failed:
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"browser screenshot at failure: {shot}")
    context.close()
    assert not js_errors, f"JavaScript errors on the page: {js_errors}"


@pytest.fixture
def signed_in_page(page):
    """A page signed in through the real form, resting on the overview."""
    page.goto("/admin/login")
    sign_in(page)
    page.wait_for_url("**/admin/")
    return page
