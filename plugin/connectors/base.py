"""The Connector interface every helpdesk implements, and the HTTP error mapping they share.

`delivery_id`, `verify` and `parse_event` do no I/O at all: the webhook secret and the account
are arguments, which the caller reads first (`webhook_secret()`, `account`, which may look up a
connection stored in the console). `fetch_ticket`, `find_note` and the
posting methods are the only network calls, through an injected
`requests.Session`, and they raise the typed errors of plugin.errors.

Every call goes through `send` (or `fetch`, which leaves the status to the caller):
AMENDS_HTTP_TIMEOUT_SECONDS bounds the whole call, answer included (`deadline`).
"""

from __future__ import annotations

import email.utils
import time
from abc import ABC, abstractmethod
from typing import Mapping

import requests

from plugin.connectors import deadline
from plugin.errors import AuthError, NotFound, PermanentError, RateLimited, TransientError
from plugin.models import CommentEvent, Ticket, TicketEvent


class Connector(ABC):
    slug: str = ""

    @property
    @abstractmethod
    def account(self) -> str:
        """The helpdesk account this connector works for (e.g. the Zendesk subdomain)."""

    @abstractmethod
    def webhook_secret(self) -> str:
        """The secret the helpdesk signs webhooks with."""

    @abstractmethod
    def delivery_id(self, headers: Mapping[str, str]) -> str:
        """The helpdesk's id for this delivery (for logs), or "-"."""

    @abstractmethod
    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """Raise SignatureError unless the raw body is signed with `secret`."""

    @abstractmethod
    def parse_event(self, headers: Mapping[str, str], body: bytes, account: str) -> TicketEvent | CommentEvent | None:
        """The event for `account`, or None for an event type we ignore; PayloadError when malformed."""

    @abstractmethod
    def fetch_ticket(self, event: TicketEvent) -> Ticket:
        """Complete a thin event from the helpdesk API."""

    @abstractmethod
    def find_note(self, ticket_id: str, marker: str) -> bool:
        """Whether a note carrying `marker` is already on the ticket."""

    @abstractmethod
    def post_internal_note(self, ticket_id: str, body: str) -> None:
        """Add a private note; never public."""

    @abstractmethod
    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        """Add tags, keeping the ones the ticket already has."""


def retry_after_seconds(value: str | None, default: float = 60.0, now: float | None = None) -> float:
    """Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return default
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return default
    return max(0.0, when - (now or time.time()))


def raise_for_response(response: requests.Response, what: str) -> None:
    """Map an HTTP answer to our error tree; return quietly on 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = f"{what}: HTTP {status} {_short_body(response)}".strip()
    if status == 429:
        raise RateLimited(reason, retry_after_seconds(response.headers.get("Retry-After")), status)
    if status in (401, 403):
        raise AuthError(reason, status)
    if status == 404:
        raise NotFound(reason, status)
    if status >= 500 or status in (408, 409):
        # 409 is Zendesk's answer to concurrent updates of one ticket: try again.
        if status == 503 and response.headers.get("Retry-After"):
            raise RateLimited(reason, retry_after_seconds(response.headers.get("Retry-After")), status)
        raise TransientError(reason, status)
    raise PermanentError(reason, status)


def send(session: requests.Session, method: str, url: str, what: str, timeout: float, **kwargs) -> requests.Response:
    """One HTTP call, over within `timeout` seconds in all; errors mapped to plugin.errors."""
    response = fetch(session, method, url, what, timeout, **kwargs)
    raise_for_response(response, what)
    return response


def fetch(session: requests.Session, method: str, url: str, what: str, timeout: float, **kwargs) -> requests.Response:
    """One HTTP call and its whole answer within `timeout` seconds, whatever its status;
    a timeout (total, or of one read) and network failures become TransientError."""
    try:
        return deadline.request(session, method, url, timeout, **kwargs)
    except deadline.TotalTimeout:
        raise TransientError(f"{what}: timed out (no complete answer within {timeout:g} s)") from None
    except requests.Timeout as exc:
        raise TransientError(f"{what}: timed out ({exc.__class__.__name__})") from None
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        # ChunkedEncodingError: the connection broke in the middle of the answer.
        raise TransientError(f"{what}: connection failed ({exc.__class__.__name__})") from None


def _short_body(response: requests.Response) -> str:
    text = (response.text or "").strip().replace("\n", " ")
    return text[:200]
