"""A loopback fake of Zendesk's Support API that checks every request against Zendesk's contract.

``FakeZendesk`` is a real HTTP server on 127.0.0.1 (werkzeug, threaded) speaking the documented
shapes of the endpoints Amends uses: show ticket (with side-loads), update ticket (add a comment
or internal note), list comments, add tags, plus show user / organization, list ticket fields,
and what the admin console's "Connect Zendesk" uses (``tests/fakes/zendesk_console.py``): the OAuth
authorization page and token endpoint (codes, expiring access tokens, rotating refresh tokens) and
the Webhooks API (create, list, show, update, signing secret, test), plus the sidebar app's public
key (Get App Public Key).

Every request is checked with ``tests.contract.validate_request`` (Zendesk's own OpenAPI document
plus our unknown-key rule), or, for the parts that document lacks (the authorization page, the
Webhooks API and the app public key), against the documented parameters and
``fixtures/zendesk/webhooks-api.schema.json``.
A violation goes to ``.contract_errors`` and the request is answered
``400 {"error": "InvalidRequest"}`` without being applied.

``latency=0.1`` makes every request wait 100 ms before it is handled (a real API's answer time).
Tests inspect ``.requests``, ``.comments(id)``, ``.ticket_tags(id)``, wait with ``.wait_for()``
and inject faults with ``.inject()`` / ``.release()``; ``.chaos()`` fails a seeded random fraction of
the API calls (429 with Retry-After, 500, 503, a slow drip of the answer, a connection dropped mid-answer)
and counts them in ``.chaos_counts`` (``bench/chaos.py``). For the console: ``.oauth_clients``
(default ``amends-console`` / ``zd-client-secret``), ``.deny_authorization``,
``.access_token_lifetime``, ``.expire_access_tokens()``, ``.revoke_refresh_tokens()``,
``.access_tokens()``, ``.webhooks()``, ``.webhook_secret(id)`` and ``.webhook_transport``. For the
sidebar: ``.set_app_public_key(app_id, pem)``.
Standalone, from the project root::

    .venv/bin/python -m tests.fakes.zendesk --port 8765     # unknown ticket ids are auto-created
"""

from __future__ import annotations

import argparse
import base64
import copy
import html
import itertools
import json
import random
import re
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import urlencode

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.contract import validate_request
from tests.fakes.zendesk_console import AUTHORIZE_PATH, INVALID_TOKEN, ConsoleEndpoints

AGENT_ID = 360_000_000_001  # the API user: author of comments added through the API
UNAUTHORIZED = {"error": "Couldn't authenticate you"}
PUBLIC_PATHS = ("/oauth/tokens", AUTHORIZE_PATH)  # the grant, or the user's browser session, authenticates
NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
ERROR_BODIES = {  # default bodies for injected statuses
    401: UNAUTHORIZED, 404: NOT_FOUND,
    409: {"error": "UpdateConflict", "description": "Safe Update prevented the update due to outdated ticket data."},
    422: {"error": "RecordInvalid", "description": "Record validation errors", "details": {}},
    429: {"error": "TooManyRequests", "description": "You have exceeded the rate limit"},
    500: {"error": "InternalServerError", "description": "Internal server error"},
    503: {"error": "ServiceUnavailable", "description": "Service temporarily unavailable"},
}
CHAOS_MODES = ("429", "500", "503", "drip", "drop")  # see FakeZendesk.chaos()
DELIVERY_KEY = "fake_zendesk.delivery"  # environ key: how _wsgi must (mis)deliver an applied answer
CHANGEABLE = ("subject", "status", "priority", "type", "assignee_id", "group_id", "organization_id",
              "requester_id", "external_id", "due_at", "custom_status_id", "tags")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _unique(values: Iterable) -> list:
    return list(dict.fromkeys(v for v in values if v is not None))


def _html_to_text(markup: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def _text_to_html(text: str) -> str:
    return f'<div class="zd-comment" dir="auto"><p dir="auto">{html.escape(text).replace(chr(10), "<br>")}</p></div>'


@dataclass
class RecordedRequest:
    """One received request; ``record.json`` and ``record["json"]`` both work."""

    method: str
    path: str
    query: dict
    headers: dict
    json: Any
    received_at: float
    status: int | None = None  # the answer's status, once decided (None while hanging)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class _Fault:
    method: str
    path_regex: re.Pattern
    status: int | None
    headers: dict
    body: Any
    delay: float
    after_apply: bool
    times: int


@dataclass
class _Chaos:
    rates: dict[str, float]
    rng: random.Random
    retry_after: int
    drip_interval: float
    drip_seconds: float
    path_regex: re.Pattern

    def roll(self, path: str) -> str | None:
        """The fault for this request, or None; one draw per matching request (seeded)."""
        if not self.path_regex.search(path):
            return None
        draw = self.rng.random()
        for mode, rate in self.rates.items():
            if draw < rate:
                return mode
            draw -= rate
        return None


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # no access log
        pass


class FakeZendesk(ConsoleEndpoints):
    """Zendesk Support API on a free loopback port; a context manager, or start()/stop()."""

    def __init__(self, email: str = "agent@example.com", api_token: str = "tok", oauth_token: str = "oauth-tok",
                 *, host: str = "127.0.0.1", port: int = 0, auto_tickets: bool = False,
                 latency: float = 0.0, on_contract_error: Callable[[str], None] | None = None) -> None:
        self.email, self.api_token, self.oauth_token = email, api_token, oauth_token
        self.host, self.port, self.auto_tickets = host, port, auto_tickets
        # Seconds every request waits before it is handled, as a real API's round trip (bench/scale.py).
        self.latency = latency
        self.on_contract_error = on_contract_error
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.contract_errors: list[str] = []
        self.ticket_fields: list[dict] = []  # what GET /api/v2/ticket_fields lists
        self._cond = threading.Condition(threading.RLock())
        self._tickets: dict[int, dict] = {}
        self._comments: dict[int, list[dict]] = {}
        self._users: dict[int, dict] = {}
        self._orgs: dict[int, dict] = {}
        self._faults: list[_Fault] = []
        self._chaos: _Chaos | None = None
        self.chaos_counts: dict[str, int] = dict.fromkeys(CHAOS_MODES, 0)
        self._sleepers: set[threading.Event] = set()
        self._ids = itertools.count(10_000_000_001)
        self._server: Any = None
        self._stopping = False
        self._put_user({"id": AGENT_ID, "name": "Amends API", "email": email}, role="agent")
        self._init_console()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeZendesk:
        self._stopping = False
        self._server = make_server(self.host, self.port, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://{self.host}:{self._server.server_port}"
        with self._cond:  # objects stored before start() got host-less urls
            for stored in [*self._tickets.values(), *self._users.values(), *self._orgs.values()]:
                stored["url"] = self.url + stored["url"][stored["url"].index("/api/"):]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},  # quick stop()
                         name="fake-zendesk", daemon=True).start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeZendesk:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- test API ---------------------------------------------------------------------------------

    def add_ticket(self, ticket_id: int, *, subject: str, description: str, requester: Mapping,
                   organization: Mapping | None = None, tags: Iterable[str] = (),
                   custom_fields: Iterable[Mapping] = (), assignee: Mapping | None = None,
                   status: str = "new") -> dict:
        """Store a ticket; its description becomes the first public comment, by the requester."""
        with self._cond:
            org_id = self._put_org(organization)["id"] if organization else None
            requester_id = self._put_user(requester, role="end-user", organization_id=org_id)["id"]
            now = _now()
            self._tickets[ticket_id] = {
                "id": ticket_id, "url": f"{self.url}/api/v2/tickets/{ticket_id}.json", "external_id": None,
                "subject": subject, "raw_subject": subject, "description": description, "status": status,
                "priority": None, "type": None, "requester_id": requester_id, "submitter_id": requester_id,
                "assignee_id": self._put_user(assignee, role="agent")["id"] if assignee else None,
                "organization_id": org_id, "group_id": None, "tags": _unique(tags),
                "custom_fields": [{"id": int(f["id"]), "value": f.get("value")} for f in custom_fields],
                "created_at": now, "updated_at": now, "via": {"channel": "web"},
            }
            self._comments[ticket_id] = []
            self._store_comment(ticket_id, {"body": description, "public": True}, requester_id, channel="web")
            return copy.deepcopy(self._tickets[ticket_id])

    def ticket(self, ticket_id: int) -> dict | None:
        with self._cond:
            return copy.deepcopy(self._tickets.get(ticket_id))

    def comments(self, ticket_id: int) -> list[dict]:
        """Stored comments, oldest first; ``sent`` is the comment object exactly as received."""
        with self._cond:
            return copy.deepcopy(self._comments.get(ticket_id, []))

    def note_counts(self) -> dict[int, int]:
        """Internal notes per ticket, without copying comments (cheap enough to poll for thousands)."""
        with self._cond:
            return {tid: sum(1 for c in comments if c["public"] is False) for tid, comments in self._comments.items()}

    def ticket_tags(self, ticket_id: int) -> list[str]:
        with self._cond:
            return list(self._tickets[ticket_id]["tags"]) if ticket_id in self._tickets else []

    def wait_for(self, method: str, path_regex: str, timeout: float = 10, *, count: int = 1) -> RecordedRequest:
        """Block until ``count`` matching requests arrived (earlier ones count); return the last of them.

        Whatever the request does before an injected delay (all of it, without one) is visible by then.
        """
        rx = re.compile(path_regex)

        def matching() -> list[RecordedRequest]:
            return [r for r in self.requests if r.method == method.upper() and rx.search(r.path)]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout):
                seen = ", ".join(f"{r.method} {r.path}" for r in self.requests) or "none"
                raise TimeoutError(f"no {method.upper()} {path_regex} within {timeout}s (received: {seen})")
            return matching()[count - 1]

    def inject(self, method: str, path_regex: str, *, status: int | None = None, headers: Mapping | None = None,
               body: Any = None, delay: float = 0.0, after_apply: bool = False, times: int = 1) -> None:
        """Make the next ``times`` matching requests fail or hang; faults are consumed in order.

        ``status``: answer it (with ``headers`` and ``body``, by default a Zendesk-style error) without
        applying the request. ``delay``: wait that long, or until release()/stop(), before answering.
        ``after_apply=True``: apply the request first, then wait, then answer (normally, or with
        ``status``), i.e. "Zendesk stored the note but the caller never read the answer".
        """
        fault = _Fault(method.upper(), re.compile(path_regex), status, dict(headers or {}), body,
                       delay, after_apply, times)
        with self._cond:
            self._faults.append(fault)

    def chaos(self, rates: Mapping[str, float] | None, *, seed: int = 0, retry_after: int = 1,
              drip_interval: float = 1.0, drip_seconds: float = 30.0,
              path_regex: str = r"^/api/v2/tickets/") -> None:
        """Fail a random fraction of the matching requests (not consumed like inject()); None stops it.

        ``rates`` maps modes to fractions, e.g. ``{"429": 0.02, "drop": 0.01}``: "429" (with
        ``Retry-After: retry_after``), "500" and "503" answer an error without applying the request;
        "drip" applies it and sends the real answer one byte every ``drip_interval`` seconds (the rest at
        once after ``drip_seconds``: only a total deadline on the caller's side cuts it); "drop" applies
        it, sends half the answer and closes the connection. Draws come from ``random.Random(seed)``.
        """
        unknown = set(rates or {}) - set(CHAOS_MODES)
        if unknown or sum((rates or {}).values()) > 1:
            raise ValueError(f"chaos rates: modes {CHAOS_MODES}, summing to at most 1; got {rates}")
        with self._cond:
            self._chaos = None if not rates else _Chaos(
                dict(rates), random.Random(seed), retry_after, drip_interval, drip_seconds, re.compile(path_regex))

    def release(self) -> None:
        """Wake every request currently waiting in an injected delay."""
        with self._cond:
            for event in self._sleepers:
                event.set()

    # --- HTTP plumbing ----------------------------------------------------------------------------

    def _wsgi(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.latency > 0:
            time.sleep(self.latency)  # one server thread per request: the waits overlap, as Zendesk's do
        request = Request(environ)
        status, payload, headers = self._handle(request)
        text = payload if isinstance(payload, str) else json.dumps(payload)
        headers = dict(headers)
        content_type = headers.pop("Content-Type", "application/json; charset=utf-8")  # the app key is text
        if environ.get(DELIVERY_KEY):
            data = text.encode()
            chunks = self._drip(data) if environ[DELIVERY_KEY] == "drip" else self._cut(data, environ)
            response = Response(chunks, status, headers, content_type=content_type)
            response.headers["Content-Length"] = str(len(data))  # the client waits for all of it
            return response(environ, start_response)
        return Response(text, status, headers, content_type=content_type)(environ, start_response)

    def _drip(self, data: bytes) -> Iterator[bytes]:
        """One byte per drip_interval until drip_seconds have passed (or release()/stop()), then the rest."""
        chaos, wake = self._chaos, threading.Event()
        interval, seconds = (chaos.drip_interval, chaos.drip_seconds) if chaos else (0.0, 0.0)
        with self._cond:
            self._sleepers.add(wake)
            if self._stopping:
                wake.set()
        try:
            deadline, sent = time.time() + seconds, 0
            while sent < len(data) and time.time() < deadline and not wake.is_set():
                yield data[sent:sent + 1]
                sent += 1
                wake.wait(interval)
            yield data[sent:]
        finally:
            with self._cond:
                self._sleepers.discard(wake)

    @staticmethod
    def _cut(data: bytes, environ: dict) -> Iterator[bytes]:
        """Half the answer, then the connection closes under it: the client reads a short body."""
        yield data[:max(1, len(data) // 2)]
        environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)

    def _parse(self, request: Request) -> tuple[Any, list[str]]:
        raw, label = request.get_data(), f"{request.method} {request.path}"

        def check(body: Any) -> list[str]:
            console = self._console_contract(request, body)
            return validate_request(request.method, request.path, body) if console is None else console

        if not raw:
            return None, check(None)
        if request.mimetype != "application/json":
            return None, [f"{label}: Content-Type must be application/json, got {request.mimetype!r}"]
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return None, [f"{label}: body is not valid JSON ({exc})"]
        return body, check(body)

    def _handle(self, request: Request) -> tuple[int, Any, dict]:
        body, errors = self._parse(request)
        record = RecordedRequest(request.method, request.path, request.args.to_dict(), dict(request.headers),
                                 body, time.time())
        fault, result, wake = None, None, threading.Event()
        with self._cond:  # decide (and apply, unless delayed first) before the record becomes visible
            if errors:
                self.contract_errors.extend(errors)
                result = (400, {"error": "InvalidRequest", "description": "; ".join(errors)}, {})
            elif request.path not in PUBLIC_PATHS and not self._authenticated(request):
                result = (401, self._unauthorized_body(request), {})
            else:
                fault = self._take_fault(request.method, request.path)
                chaos = self._chaos.roll(request.path) if fault is None and self._chaos else None
                if chaos:
                    self.chaos_counts[chaos] += 1
                if chaos in ("429", "500", "503"):
                    result = self._chaos_error(int(chaos))
                elif fault is None or fault.after_apply or (fault.status is None and not fault.delay):
                    result = self._apply(request, body)
                    if chaos:  # drip or drop: Zendesk did the work, the answer is what breaks
                        request.environ[DELIVERY_KEY] = chaos
            deferred = fault is not None and (fault.delay > 0 or fault.status is not None)
            if deferred and fault.delay > 0:
                self._sleepers.add(wake)
                if self._stopping:
                    wake.set()
            record.status = None if deferred else result[0]
            self.requests.append(record)
            self._cond.notify_all()
        if self.on_contract_error is not None:
            for error in errors:
                self.on_contract_error(error)
        if deferred:
            wake.wait(fault.delay)  # an Event, not time.sleep: release() and stop() end it
            with self._cond:
                self._sleepers.discard(wake)
                if fault.status is not None:
                    default = ERROR_BODIES.get(fault.status, {})
                    result = (fault.status, default if fault.body is None else fault.body, fault.headers)
                elif result is None:
                    result = self._apply(request, body)
                record.status = result[0]
        return result

    def _chaos_error(self, status: int) -> tuple[int, dict, dict]:
        retry = {"Retry-After": str(self._chaos.retry_after)} if status == 429 else {}
        return status, ERROR_BODIES[status], retry

    def _authenticated(self, request: Request) -> bool:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return credentials == self.oauth_token or self._bearer_status(credentials) == "ok"
        expected = base64.b64encode(f"{self.email}/token:{self.api_token}".encode()).decode()
        return scheme.lower() == "basic" and credentials.strip() == expected

    def _unauthorized_body(self, request: Request) -> dict:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        expired = scheme.lower() == "bearer" and self._bearer_status(credentials) == "expired"
        return INVALID_TOKEN if expired else UNAUTHORIZED

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.path_regex.search(path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    ROUTES = [
        ("GET", r"/api/v2/tickets/(\d+)", "_show_ticket"),
        ("PUT", r"/api/v2/tickets/(\d+)", "_update_ticket"),
        ("GET", r"/api/v2/tickets/(\d+)/comments", "_list_comments"),
        ("PUT", r"/api/v2/tickets/(\d+)/tags", "_add_tags"),
        ("GET", r"/api/v2/users/(\d+)", "_show_user"),
        ("GET", r"/api/v2/organizations/(\d+)", "_show_organization"),
        ("GET", r"/api/v2/ticket_fields", "_list_ticket_fields"),
        ("POST", r"/oauth/tokens", "_create_token"),
        ("GET", r"/oauth/authorizations/new", "_authorize"),
        ("POST", r"/api/v2/webhooks", "_create_webhook"),
        ("GET", r"/api/v2/webhooks", "_list_webhooks"),
        ("POST", r"/api/v2/webhooks/test", "_test_webhook"),
        ("GET", r"/api/v2/webhooks/(\w+)", "_show_webhook"),
        ("PUT", r"/api/v2/webhooks/(\w+)", "_update_webhook"),
        ("GET", r"/api/v2/webhooks/(\w+)/signing_secret", "_webhook_signing_secret"),
        ("GET", r"/api/v2/apps/(\d+)/public_key(?:\.pem)?", "_app_public_key"),
    ]

    def _apply(self, request: Request, body: Any) -> tuple[int, str, dict]:
        """Route and run the request (lock held); the answer is serialised under the lock too."""
        path = request.path.removesuffix(".json")
        for method, pattern, handler in self.ROUTES:
            found = re.fullmatch(pattern, path)
            if found and method == request.method:
                args = (int(g) if g.isdigit() else g for g in found.groups())
                status, payload, *headers = getattr(self, handler)(request, body, *args)
                return status, payload if isinstance(payload, str) else json.dumps(payload), \
                    (headers[0] if headers else {})
        return 404, json.dumps({"error": "InvalidEndpoint", "description": "Not found"}), {}

    # --- storage ------------------------------------------------------------------------------------

    def _put_user(self, user: Mapping, *, role: str, organization_id: int | None = None) -> dict:
        stored = self._users.setdefault(int(user["id"]), {"id": int(user["id"]), "role": role, "created_at": _now()})
        stored.update({"url": f"{self.url}/api/v2/users/{user['id']}.json", "name": user["name"],
                       "email": user.get("email"), "locale": user.get("locale", "en-US"),
                       "organization_id": organization_id or stored.get("organization_id"), "updated_at": _now()})
        return stored

    def _put_org(self, org: Mapping) -> dict:
        return self._orgs.setdefault(int(org["id"]), {
            "id": int(org["id"]), "url": f"{self.url}/api/v2/organizations/{org['id']}.json",
            "name": org["name"], "tags": [], "created_at": _now(), "updated_at": _now()})

    def _ticket(self, ticket_id: int) -> dict | None:
        if ticket_id not in self._tickets and self.auto_tickets:
            self.add_ticket(
                ticket_id, subject=f"Where is my order #{ticket_id}?",
                description=f"Hi, my order #{ticket_id} was due last Monday and still hasn't arrived. "
                            "I needed it for a birthday this weekend. Where is it?",
                requester={"id": 1_000_001, "name": "Jane Doe", "email": "jane.doe@example.com", "locale": "en-US"},
                organization={"id": 5_000_001, "name": "Doe Household"})
        return self._tickets.get(ticket_id)

    def _store_comment(self, ticket_id: int, sent: Mapping, author_id: int, audit_id: int | None = None,
                       channel: str = "api") -> dict:
        existing = self._comments[ticket_id]
        if "html_body" in sent:
            html_body, plain = sent["html_body"], _html_to_text(sent["html_body"])
        else:
            html_body, plain = _text_to_html(sent.get("body", "")), sent.get("body", "")
        comment = {
            "id": next(self._ids), "type": "Comment", "author_id": sent.get("author_id", author_id),
            "body": plain, "html_body": html_body, "plain_body": plain,
            # "public" absent: the value set on the ticket's first comment persists (Zendesk's rule)
            "public": sent.get("public", existing[0]["public"] if existing else True),
            "attachments": [], "audit_id": audit_id or next(self._ids), "via": {"channel": channel},
            "metadata": {"system": {}, "custom": {}}, "created_at": _now(), "sent": copy.deepcopy(dict(sent)),
        }
        existing.append(comment)
        return comment

    @staticmethod
    def _public(comment: dict) -> dict:
        return {k: v for k, v in comment.items() if k != "sent"}

    @staticmethod
    def _conflict(ticket: dict, changes: Mapping) -> bool:
        """safe_update with a stale updated_stamp (Zendesk answers 409)."""
        return changes.get("safe_update") in (True, "true") and changes.get("updated_stamp") != ticket["updated_at"]

    # --- endpoints ------------------------------------------------------------------------------------
    # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/

    def _show_ticket(self, request: Request, body: Any, ticket_id: int) -> tuple[int, dict]:
        ticket = self._ticket(ticket_id)
        if ticket is None:
            return 404, NOT_FOUND
        payload, include = {"ticket": ticket}, request.args.get("include", "").split(",")
        if "users" in include:
            ids = _unique([ticket["requester_id"], ticket["submitter_id"], ticket["assignee_id"]])
            payload["users"] = [self._users[i] for i in ids]
        if "organizations" in include:
            payload["organizations"] = [self._orgs[ticket["organization_id"]]] if ticket["organization_id"] else []
        return 200, payload

    def _update_ticket(self, request: Request, body: Any, ticket_id: int) -> tuple[int, dict]:
        ticket = self._ticket(ticket_id)
        if ticket is None:
            return 404, NOT_FOUND
        changes = (body or {}).get("ticket") or {}
        comment = changes.get("comment")
        if self._conflict(ticket, changes):
            return 409, ERROR_BODIES[409]
        if comment is not None and not (comment.get("body", "").strip() or comment.get("html_body")
                                        or comment.get("uploads")):
            return 422, {"error": "RecordInvalid", "description": "Record validation errors",
                         "details": {"base": [{"description": "Comment: cannot be blank", "error": "BlankValue"}]}}
        audit = {"id": next(self._ids), "ticket_id": ticket_id, "created_at": _now(), "author_id": AGENT_ID,
                 "metadata": {"system": {}, "custom": {}}, "via": {"channel": "api"}, "events": []}
        if comment is not None:
            stored = self._public(self._store_comment(ticket_id, comment, AGENT_ID, audit["id"]))
            audit["events"].append({k: v for k, v in stored.items() if k not in ("via", "metadata", "created_at")})
        for field in (f for f in CHANGEABLE if f in changes):
            new = _unique(changes[field]) if field == "tags" else changes[field]
            if new != ticket.get(field):
                audit["events"].append({"id": next(self._ids), "type": "Change", "field_name": field,
                                        "value": new, "previous_value": ticket.get(field)})
                ticket[field] = new
        ticket["raw_subject"] = ticket["subject"]
        values = {f["id"]: f for f in ticket["custom_fields"]}
        for custom in changes.get("custom_fields", []):
            values.setdefault(custom["id"], {"id": custom["id"]})["value"] = custom.get("value")
        ticket["custom_fields"] = list(values.values())
        if audit["events"] or "custom_fields" in changes:
            ticket["updated_at"] = _now()
        return 200, {"ticket": ticket, "audit": audit}

    # https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/
    # Offset pagination (page, per_page <= 100, sort_order) or cursor pagination (page[size], sort).
    def _list_comments(self, request: Request, body: Any, ticket_id: int) -> tuple[int, dict]:
        if self._ticket(ticket_id) is None:
            return 404, NOT_FOUND
        items, args = [self._public(c) for c in self._comments[ticket_id]], request.args.to_dict()
        cursor_mode = any(key.startswith("page[") for key in args)
        try:
            payload = (self._cursor_page if cursor_mode else self._offset_page)(request, items, args)
        except ValueError as exc:
            return 400, {"error": "InvalidPaginationParameter", "description": str(exc)}
        if "users" in request.args.get("include", "").split(","):
            payload["users"] = [self._users[i] for i in _unique(c["author_id"] for c in payload["comments"])]
        return 200, payload

    def _link(self, request: Request, args: dict, **changes: Any) -> str:
        return f"{self.url}{request.path}?{urlencode({**args, **changes})}"

    def _offset_page(self, request: Request, items: list, args: dict) -> dict:
        page, per_page = int(args.get("page", 1)), min(int(args.get("per_page", 100)), 100)
        if page < 1 or per_page < 1 or args.get("sort_order", "asc") not in ("asc", "desc"):
            raise ValueError("page and per_page must be positive integers, sort_order asc or desc")
        ordered = items[::-1] if args.get("sort_order") == "desc" else items
        start = (page - 1) * per_page
        more = start + per_page < len(ordered)
        return {"comments": ordered[start:start + per_page], "count": len(ordered),
                "next_page": self._link(request, args, page=page + 1, per_page=per_page) if more else None,
                "previous_page": self._link(request, args, page=page - 1, per_page=per_page) if page > 1 else None}

    def _cursor_page(self, request: Request, items: list, args: dict) -> dict:
        size, sort = min(int(args.get("page[size]", 100)), 100), args.get("sort", "created_at")
        if size < 1 or sort not in ("created_at", "-created_at"):
            raise ValueError("page[size] must be a positive integer, sort created_at or -created_at")
        ordered = items if sort == "created_at" else items[::-1]
        ids = [c["id"] for c in ordered]

        def position(cursor: str) -> int:
            try:
                return ids.index(int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("comment:")))
            except ValueError as exc:
                raise ValueError(f"invalid cursor {cursor!r}") from exc

        if "page[before]" in args:
            end = position(args["page[before]"])
            start = max(0, end - size)
        else:
            start = position(args["page[after]"]) + 1 if "page[after]" in args else 0
            end = min(start + size, len(ordered))
        chunk, base = ordered[start:end], {k: v for k, v in args.items() if k not in ("page[after]", "page[before]")}
        cursors = [base64.urlsafe_b64encode(f"comment:{c['id']}".encode()).decode() for c in chunk]
        first, last = (cursors[0], cursors[-1]) if cursors else (None, None)
        return {"comments": chunk,
                "meta": {"has_more": start > 0 if "page[before]" in args else end < len(ordered),
                         "before_cursor": first, "after_cursor": last},
                "links": {"next": self._link(request, base, **{"page[after]": last}) if end < len(ordered) else None,
                          "prev": self._link(request, base, **{"page[before]": first}) if start > 0 else None}}

    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/tags/
    # PUT adds tags, keeping existing ones (POST, which replaces them, is not used by Amends).
    def _add_tags(self, request: Request, body: Any, ticket_id: int) -> tuple[int, dict]:
        ticket = self._ticket(ticket_id)
        if ticket is None:
            return 404, NOT_FOUND
        if self._conflict(ticket, body):
            return 409, ERROR_BODIES[409]
        tags = _unique([*ticket["tags"], *body["tags"]])
        if tags != ticket["tags"]:
            ticket["tags"], ticket["updated_at"] = tags, _now()
        return 200, {"tags": tags}

    def _show_user(self, request: Request, body: Any, user_id: int) -> tuple[int, dict]:
        return (200, {"user": self._users[user_id]}) if user_id in self._users else (404, NOT_FOUND)

    def _show_organization(self, request: Request, body: Any, org_id: int) -> tuple[int, dict]:
        return (200, {"organization": self._orgs[org_id]}) if org_id in self._orgs else (404, NOT_FOUND)

    def _list_ticket_fields(self, request: Request, body: Any) -> tuple[int, dict]:
        fields = self.ticket_fields
        return 200, {"ticket_fields": fields, "count": len(fields), "next_page": None, "previous_page": None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a fake Zendesk Support API until interrupted.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--email", default="agent@example.com")
    parser.add_argument("--api-token", default="tok")
    parser.add_argument("--oauth-token", default="oauth-tok")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="wait this long before each answer")
    parser.add_argument("--no-auto-tickets", dest="auto_tickets", action="store_false",
                        help="answer 404 for unknown ticket ids instead of creating them")
    args = parser.parse_args(argv)
    fake = FakeZendesk(args.email, args.api_token, args.oauth_token, host=args.host, port=args.port,
                       auto_tickets=args.auto_tickets, latency=args.latency_ms / 1000,
                       on_contract_error=lambda e: print(f"CONTRACT: {e}", file=sys.stderr))
    fake.add_ticket(35436, subject="Order A-100245 still hasn't arrived", description=(
        "Hello, I ordered a stand mixer (order A-100245) on March 3rd with guaranteed delivery by March 7th. "
        "It is now March 12th and the tracking page hasn't changed in five days."),
        requester={"id": 20978392, "name": "Maria Gonzalez", "email": "maria.gonzalez@example.com", "locale": "en-US"},
        organization={"id": 509974, "name": "Gonzalez Bakery"}, tags=["delivery"],
        custom_fields=[{"id": 27642, "value": "A-100245"}])
    fake.start()
    print(f"FakeZendesk on {fake.url} (auto_tickets={args.auto_tickets}; OAuth clients: "
          f"{', '.join(f'{k} / {v}' for k, v in fake.oauth_clients.items())})", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    fake.stop()
    print(f"{len(fake.requests)} requests, {len(fake.contract_errors)} contract errors", file=sys.stderr)
    return 1 if fake.contract_errors else 0


if __name__ == "__main__":
    sys.exit(main())
