"""AMENDS_HTTP_TIMEOUT_SECONDS bounds a whole helpdesk call, however slowly the answer comes.

requests' own timeout is per read: an answer dripping a byte at a time never trips it. These
tests drip the body (the fake Zendesk's "drip" chaos) and the status line and headers (a raw
socket server), on fresh and reused connections, and through the OAuth token request.
"""

import socket
import threading
import time

import pytest
import requests

from plugin.config import Settings
from plugin.connectors import zendesk_oauth
from plugin.connectors.base import send
from plugin.errors import TransientError

TIMEOUT = 0.5
TICKET = 35436
AUTH = ("agent@example.com/token", "tok")


@pytest.fixture
def zendesk(fake_zendesk):
    fake_zendesk.add_ticket(TICKET, subject="Late", description="Where is my parcel?",
                            requester={"id": 501, "name": "Maria Gonzalez", "email": "maria@example.com"})
    return fake_zendesk


def drip(fake, path_regex, seconds=4.0):
    """Every matching answer from now on: one byte every 0.1 s for `seconds` (then the rest)."""
    fake.chaos({"drip": 1.0}, drip_interval=0.1, drip_seconds=seconds, path_regex=path_regex)


def timed(call):
    started = time.monotonic()
    with pytest.raises(TransientError) as err:
        call()
    return err.value, time.monotonic() - started


def test_a_dripping_body_is_cut_at_the_total_deadline(zendesk):
    drip(zendesk, rf"/tickets/{TICKET}\.json$")
    error, took = timed(lambda: send(requests.Session(), "GET", f"{zendesk.url}/api/v2/tickets/{TICKET}.json",
                                     "fetch ticket", TIMEOUT, auth=AUTH))
    assert "fetch ticket: timed out" in error.reason
    assert took < TIMEOUT + 0.4


def test_the_deadline_holds_on_a_reused_connection_and_spares_the_next_call(zendesk):
    session, url = requests.Session(), f"{zendesk.url}/api/v2/tickets/{TICKET}.json"
    assert send(session, "GET", url, "fetch ticket", TIMEOUT, auth=AUTH).json()["ticket"]["id"] == TICKET
    drip(zendesk, rf"/tickets/{TICKET}\.json$")
    error, took = timed(lambda: send(session, "GET", url, "fetch ticket", TIMEOUT, auth=AUTH))
    assert "timed out" in error.reason and took < TIMEOUT + 0.4
    zendesk.chaos(None)
    time.sleep(TIMEOUT)  # past the cut call's deadline: its watchdog must not touch this call
    assert send(session, "GET", url, "fetch ticket", TIMEOUT, auth=AUTH).status_code == 200


def test_a_slow_but_whole_answer_within_the_deadline_is_read(zendesk):
    drip(zendesk, rf"/tickets/{TICKET}\.json$", seconds=0.2)  # two bytes, then the rest
    response = send(requests.Session(), "GET", f"{zendesk.url}/api/v2/tickets/{TICKET}.json", "fetch ticket",
                    TIMEOUT, auth=AUTH)
    assert response.json()["ticket"]["id"] == TICKET


def test_dripping_headers_are_cut_at_the_total_deadline():
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
    with DrippingServer(answer) as url:
        error, took = timed(lambda: send(requests.Session(), "GET", url, "probe", TIMEOUT))
    assert "probe: timed out" in error.reason
    assert took < TIMEOUT + 0.4


def test_the_oauth_token_request_is_bounded_too(zendesk):
    drip(zendesk, r"^/oauth/tokens$")
    settings = Settings(zendesk_api_url=zendesk.url, http_timeout_seconds=TIMEOUT)
    error, took = timed(lambda: zendesk_oauth.refresh(requests.Session(), settings, "acme", client_id="amends-console",
                                                      client_secret="zd-client-secret", refresh_token="unknown"))
    assert "refresh access token: timed out" in error.reason
    assert took < TIMEOUT + 0.4


def test_no_watchdog_outlives_its_call(zendesk):
    before = threading.active_count()
    session = requests.Session()
    for _ in range(5):
        send(session, "GET", f"{zendesk.url}/api/v2/tickets/{TICKET}.json", "fetch ticket", TIMEOUT, auth=AUTH)
    deadline = time.monotonic() + 2
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= before


class DrippingServer:
    """One-connection HTTP server on loopback that sends `answer` one byte every 0.1 s."""

    def __init__(self, answer: bytes):
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stop = threading.Event()

    def __enter__(self) -> str:
        threading.Thread(target=self._serve, daemon=True).start()
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/"

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.listener.close()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)  # the request (small: one read is enough)
            for i in range(len(self.answer)):
                if self.stop.wait(0.1):
                    return
                try:
                    conn.sendall(self.answer[i:i + 1])
                except OSError:
                    return  # the client hung up
