"""The real app served over real HTTP for the browser, plus helpers that put data in its database.

A browser cannot use Flask's test client, so `LiveServer` runs `plugin.create_app(settings)` on
werkzeug's threaded server at 127.0.0.1:<free port>. Optionally a Huey consumer runs in-process
on the same queue, so a button that enqueues work (retry) really gets it done, as `amends serve`
would. Exceptions raised inside a request are collected in `.errors`: the fixture fails the test
on them at teardown, since the browser would only see a bland 500 page.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from flask import got_request_exception
from werkzeug.serving import make_server

from plugin import db
from plugin.config import Settings
from plugin.models import Person, TicketEvent

# Tests import `expect` from here: without Playwright they are then skipped (conftest says why)
# instead of breaking collection.
try:
    from playwright.sync_api import expect  # noqa: F401
except ImportError:
    expect = None

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class LiveServer:
    def __init__(self, settings: Settings):
        from plugin import create_app

        self.settings = settings
        self.app = create_app(settings)
        self.errors: list[BaseException] = []
        got_request_exception.connect(self._record_error, self.app, weak=False)
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)
        self._consumer = None

    @property
    def runtime(self):
        return self.app.extensions["amends"]

    @property
    def engine(self):
        return self.runtime.engine

    def _record_error(self, _sender, exception: BaseException, **_extra) -> None:
        self.errors.append(exception)

    def start(self) -> "LiveServer":
        self._thread.start()
        return self

    def start_worker(self) -> None:
        """A real Huey consumer on this server's queue, in threads of this process."""
        from huey.consumer import Consumer

        consumer = Consumer(self.runtime.huey, workers=2, worker_type="thread", periodic=False,
                            initial_delay=0.05, backoff=1.15, max_delay=0.2)
        # Huey would take over SIGINT/SIGTERM for the whole pytest process: keep pytest's.
        consumer._set_signal_handlers = lambda: None
        consumer.start()
        self._consumer = consumer

    def stop(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()
        got_request_exception.disconnect(self._record_error, self.app)
        self.engine.dispose()

    def __call__(self, path: str = "/admin/") -> str:
        """Absolute URL of a path on this server: `live_server("/admin/rules")`."""
        return self.url + path


def add_event(server: LiveServer, ticket_id: str = "101", status: str = db.FAILED, *,
              error: str | None = None, http_status: int | None = None, account: str | None = None,
              subject: str = "My parcel never came",
              description: str = "I ordered a kettle two weeks ago and it still has not arrived.") -> int:
    """A finished ticket stored exactly as the worker stores one (received, claimed, one attempt
    recorded, finished with `status`: failed, posted or skipped). Returns the event id.

    No letter is composed: for a row with a real suggestion, send a webhook to a live server
    started with `@pytest.mark.live_server(zendesk=True, worker=True)` (see test_live_server.py).
    """
    engine = server.engine
    event = TicketEvent(
        helpdesk="zendesk", account=account or server.settings.zendesk_subdomain or "default",
        ticket_id=str(ticket_id), kind="ticket.created", delivery_keys=(f"browser-{uuid.uuid4().hex}",),
        subject=subject, description=description, requester=Person(name="Robin Example"),
    )
    accepted = db.accept_event(engine, event)
    assert not accepted.duplicate, f"ticket {ticket_id} already has an event"
    claim = db.claim(engine, accepted.event_id, owner="browser-test", lease_seconds=30)
    assert claim is not None, f"event {accepted.event_id} could not be claimed"
    started = time.time()
    if status == db.POSTED:
        db.mark_post_started(engine, claim)
        db.mark_note_posted(engine, claim)
    db.record_attempt(engine, claim, started, status, http_status=http_status, error=error)
    assert db.finish(engine, claim, status, error)
    return accepted.event_id


def add_failed_event(server: LiveServer, ticket_id: str = "101", *,
                     error: str = "Zendesk refused the note: 422 RecordInvalid", http_status: int = 422,
                     **fields) -> int:
    """A ticket the pipeline gave up on, with the reason, as the suggestion log shows it.

    For a retry that then succeeds, give the fake Zendesk the same ticket id
    (`fake_zendesk.add_ticket(101, ...)`) and mark the test
    `@pytest.mark.live_server(zendesk=True, worker=True)`.
    """
    return add_event(server, ticket_id, db.FAILED, error=error, http_status=http_status, **fields)


def sign_in(page, password: str | None = None, name: str = "Ada") -> None:
    """Fill and send the real login form on the current page (default: the right password)."""
    from tests.conftest import ADMIN_PASSWORD

    page.fill("#name", name)
    page.fill("#password", ADMIN_PASSWORD if password is None else password)
    page.click("button[type=submit]")


def screenshot(page, name: str) -> Path:
    """Save docs/screenshots/<name>.png (whole page, at the fixed 1280x800 viewport).

    Written only when the pixels changed, so re-running the tests leaves the tree clean.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    image = page.screenshot(full_page=True, animations="disabled", caret="hide")
    if not target.exists() or target.read_bytes() != image:
        target.write_bytes(image)
    return target
