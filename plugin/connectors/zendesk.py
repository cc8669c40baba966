"""Zendesk: webhook verification and parsing, ticket fetch, private notes and tags, and the
sidebar app's public key.

Webhooks:  https://developer.zendesk.com/documentation/webhooks/verifying/
Events:    https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/
Tickets:   https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/
Comments:  https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/
Tags:      https://developer.zendesk.com/api-reference/ticketing/ticket-management/tags/
App key:   https://developer.zendesk.com/api-reference/ticketing/apps/apps/#get-app-public-key
Comment added event (event.comment: id, body, is_public, author {id, is_staff, name}):
           https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/#comment-created

Credentials: the environment's (AMENDS_ZENDESK_OAUTH_TOKEN, or AMENDS_ZENDESK_EMAIL +
AMENDS_ZENDESK_API_TOKEN) win when set. Without them, and given the engine, the
connector uses the connection made on /admin/connect (zendesk_console.py): its OAuth
access token, refreshed shortly before it expires and once on a 401, after which the
request is sent once more. Likewise AMENDS_ZENDESK_WEBHOOK_SECRET wins over the signing
secret stored by the console's webhook set-up.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import requests
from sqlalchemy.engine import Engine

from plugin.config import Settings
from plugin.connectors.base import Connector, send
from plugin.connectors.zendesk_console import ConsoleConnection
from plugin.core import inputs, signatures
from plugin.core.secretbox import SecretBoxError
from plugin.errors import AuthError, PayloadError, SignatureError
from plugin.models import CommentEvent, Person, Ticket, TicketEvent

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
EVENT_TYPE_PREFIX = "zen:event-type:"
SUPPORTED_KINDS = frozenset({"ticket.created"})
# Parsed into a CommentEvent (plugin/models.py), measured by plugin/services/outcomes.py.
COMMENT_KIND = "ticket.comment_added"
MAX_COMMENT_PAGES = 20


class ZendeskConnector(Connector):
    slug = "zendesk"

    def __init__(self, settings: Settings, session: requests.Session | None = None, engine: Engine | None = None):
        self.settings = settings
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "amends/0.1 (+https://github.com/amends)"
        # The console's stored connection: its webhook secret, and its tokens when the env has none.
        self.console = ConsoleConnection(engine, settings) if engine is not None else None
        self.uses_console_tokens = False
        if settings.zendesk_oauth_token:
            self.session.headers["Authorization"] = f"Bearer {settings.zendesk_oauth_token}"
        elif settings.zendesk_api_token:
            # API token auth: "{email}/token" as the user name.
            self.session.auth = (f"{settings.zendesk_email}/token", settings.zendesk_api_token)
        else:
            self.uses_console_tokens = self.console is not None

    @property
    def account(self) -> str:
        """AMENDS_ZENDESK_SUBDOMAIN, else the account connected on /admin/connect."""
        if self.settings.zendesk_subdomain or self.console is None:
            return self.settings.zendesk_subdomain
        return self.console.account

    def webhook_secret(self) -> str:
        """AMENDS_ZENDESK_WEBHOOK_SECRET, else the secret of the webhook made on /admin/connect."""
        if self.settings.zendesk_webhook_secret or self.console is None:
            return self.settings.zendesk_webhook_secret
        try:
            return self.console.webhook_secret()
        except SecretBoxError as exc:
            raise SignatureError(str(exc)) from None

    # --- no I/O: the secret and the account are arguments ---------------------------

    def delivery_id(self, headers: Mapping[str, str]) -> str:
        return headers.get(INVOCATION_HEADER) or "-"

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        signatures.verify(
            secret,
            headers.get(SIGNATURE_HEADER),
            headers.get(TIMESTAMP_HEADER),
            body,
            tolerance_seconds=self.settings.webhook_tolerance_seconds,
        )

    def parse_event(self, headers: Mapping[str, str], body: bytes,
                    account: str) -> TicketEvent | CommentEvent | None:
        data = _checked(inputs.load_json_object, body)
        keys = []
        invocation = headers.get(INVOCATION_HEADER)
        if invocation:
            keys.append(f"invocation:{_checked(inputs.delivery_id, invocation, 'the invocation id header')}")
        if isinstance(data.get("type"), str) and "detail" in data:
            return self._parse_subscription(data, keys, account)
        if isinstance(data.get("ticket"), dict):
            return self._parse_trigger(data, keys, account)
        raise PayloadError(
            "unrecognised body: expected a Zendesk event ('type' and 'detail') "
            "or the trigger body from the README ('ticket')"
        )

    def _parse_subscription(self, data: dict[str, Any], keys: list[str], account: str) -> TicketEvent | CommentEvent | None:
        event_type = data["type"]
        kind = event_type[len(EVENT_TYPE_PREFIX):] if event_type.startswith(EVENT_TYPE_PREFIX) else event_type
        if kind not in SUPPORTED_KINDS and kind != COMMENT_KIND:
            return None
        detail = data["detail"]
        if not isinstance(detail, dict):
            raise PayloadError("'detail' must be an object")
        ticket_id = _ticket_id(detail.get("id"))
        if data.get("id"):
            keys.append(f"event:{_checked(inputs.delivery_id, data['id'], 'the event id')}")
        if kind == COMMENT_KIND:
            return self._parse_comment(data, detail, ticket_id, keys, account)
        via = detail.get("via") if isinstance(detail.get("via"), dict) else {}
        return TicketEvent(
            helpdesk=self.slug,
            account=account,
            ticket_id=ticket_id,
            kind=kind,
            delivery_keys=tuple(keys),
            occurred_at=str(data.get("time") or ""),
            subject=_text(detail.get("subject")),
            description=_text(detail.get("description")),
            requester=Person(id=_optional_id(detail.get("requester_id"), "the requester id")),
            tags=_tags(detail.get("tags")),
            channel=_text(via.get("channel")),
        )

    def _parse_comment(self, data: dict[str, Any], detail: dict[str, Any], ticket_id: str,
                       keys: list[str], account: str) -> CommentEvent:
        """`event.comment` carries the comment; ids arrive as strings in Zendesk's examples,
        as integers from some senders: both are read as text."""
        event = data.get("event")
        comment = event.get("comment") if isinstance(event, dict) else None
        if not isinstance(comment, dict):
            raise PayloadError("a ticket.comment_added event needs an 'event.comment' object")
        if not isinstance(comment.get("is_public"), bool):
            raise PayloadError("'event.comment.is_public' must be true or false")
        body = comment.get("body")
        if body is not None and not isinstance(body, str):
            raise PayloadError("'event.comment.body' must be a string")
        author = comment.get("author") if isinstance(comment.get("author"), dict) else {}
        if not _text(author.get("id")):
            raise PayloadError("'event.comment.author.id' is missing")
        if not _text(comment.get("id")):
            raise PayloadError("'event.comment.id' is missing")
        # Both are stored in outcomes' String(64) columns.
        author_id = _checked(inputs.helpdesk_id, author.get("id"), "'event.comment.author.id'")
        comment_id = _checked(inputs.helpdesk_id, comment.get("id"), "'event.comment.id'")
        is_staff = author.get("is_staff")
        return CommentEvent(
            helpdesk=self.slug,
            account=account,
            ticket_id=ticket_id,
            comment_id=comment_id,
            body=body or "",
            public=comment["is_public"],
            author_id=author_id,
            author_is_staff=is_staff if isinstance(is_staff, bool) else None,
            requester_id=_optional_id(detail.get("requester_id"), "the requester id"),
            occurred_at=str(data.get("time") or ""),
            delivery_keys=tuple(keys),
        )

    def _parse_trigger(self, data: dict[str, Any], keys: list[str], account: str) -> TicketEvent | None:
        kind = _text(data.get("event")) or "ticket.created"
        if kind not in SUPPORTED_KINDS:
            return None
        ticket = data["ticket"]
        ticket_id = _ticket_id(ticket.get("id"))
        requester = ticket.get("requester") if isinstance(ticket.get("requester"), dict) else {}
        organization = ticket.get("organization")
        if isinstance(organization, dict):
            organization = organization.get("name")
        name = _text(requester.get("name")) or _text(requester.get("first_name"))
        return TicketEvent(
            helpdesk=self.slug,
            account=account,
            ticket_id=ticket_id,
            kind=kind,
            delivery_keys=tuple(keys),
            subject=_text(ticket.get("subject")),
            description=_text(ticket.get("description")),
            requester=Person(
                id=_optional_id(requester.get("id"), "the requester id"),
                name=name,
                email=_checked(inputs.email, _text(requester.get("email")), "the requester's email"),
                locale=_text(requester.get("locale")) or _text(requester.get("language")),
            ),
            organization=_text(organization),
            tags=_tags(ticket.get("tags")),
            channel=_text(ticket.get("via")),
        )

    # --- network -----------------------------------------------------------

    def api_url(self, path: str) -> str:
        base = self.settings.zendesk_base_url
        if not base and self.console is not None:
            base = self.console.base_url
        return f"{base}{path}"

    def _send(self, method: str, path: str, what: str, **kwargs) -> requests.Response:
        return self.request(method, self.api_url(path), what, **kwargs)

    def request(self, method: str, url: str, what: str, **kwargs) -> requests.Response:
        """One API call with whichever credentials apply; on the console's token, a 401
        refreshes it and the call is sent once more."""
        timeout = self.settings.http_timeout_seconds
        if not self.uses_console_tokens:
            return send(self.session, method, url, what, timeout, **kwargs)
        headers = dict(kwargs.pop("headers", None) or {})
        try:
            token = self.console.access_token()
            try:
                return send(self.session, method, url, what, timeout,
                            headers={**headers, "Authorization": f"Bearer {token}"}, **kwargs)
            except AuthError as exc:
                if exc.status != 401:
                    raise
            token = self.console.refresh_after_401(token)
        except SecretBoxError as exc:
            raise AuthError(f"{what}: {exc}") from None
        return send(self.session, method, url, what, timeout,
                    headers={**headers, "Authorization": f"Bearer {token}"}, **kwargs)

    def fetch_ticket(self, event: TicketEvent) -> Ticket:
        response = self._send(
            "GET", f"/api/v2/tickets/{event.ticket_id}.json", "fetch ticket",
            params={"include": "users,organizations"},
        )
        return ticket_from_show_response(response.json(), fallback=event)

    def find_note(self, ticket_id: str, marker: str) -> bool:
        """Newest first, cursor pagination; our note is normally among the last few."""
        url = self.api_url(f"/api/v2/tickets/{ticket_id}/comments.json")
        params: dict[str, Any] | None = {"page[size]": 100, "sort": "-created_at"}
        for _ in range(MAX_COMMENT_PAGES):
            response = self.request("GET", url, "list comments", params=params)
            page = response.json()
            for comment in page.get("comments") or []:
                text = " ".join(str(comment.get(k) or "") for k in ("body", "plain_body", "html_body"))
                if marker in text:
                    return True
            next_url = (page.get("links") or {}).get("next") or page.get("next_page")
            if not next_url or not (page.get("meta") or {}).get("has_more", True):
                return False
            url, params = next_url, None
        return False

    def post_internal_note(self, ticket_id: str, body: str) -> None:
        # `public: false` is always explicit: a ticket's first comment sets the default.
        payload = {"ticket": {"comment": {"body": body, "public": False}}}
        self._send("PUT", f"/api/v2/tickets/{ticket_id}.json", "post note", json=payload)

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        # PUT adds; POST would replace every tag the ticket has.
        self._send("PUT", f"/api/v2/tickets/{ticket_id}/tags.json", "add tags", json={"tags": tags})

    def fetch_app_public_key(self, app_id: str) -> str:
        """The PEM text of a Zendesk app's public key, which checks the tokens Zendesk signs when
        it opens the app (signedUrls; used by the sidebar when AMENDS_ZENDESK_APP_ID is set).
        Get App Public Key, `GET /api/v2/apps/{app_id}/public_key.pem`:
        https://developer.zendesk.com/api-reference/ticketing/apps/apps/#get-app-public-key
        Zendesk allows it anonymously; we send our credentials as on every call. The reference's
        example shows the PEM as a JSON string, so a quoted answer is unquoted."""
        app_id = str(app_id).strip()
        if not (app_id.isascii() and app_id.isdigit()):
            raise ValueError(f"a Zendesk app id is digits, got {app_id[:40]!r}")
        text = self._send("GET", f"/api/v2/apps/{app_id}/public_key.pem", "fetch app public key").text.strip()
        if text.startswith('"'):
            try:
                quoted = json.loads(text)
            except json.JSONDecodeError:
                quoted = None
            text = quoted.strip() if isinstance(quoted, str) else text
        return text


def ticket_from_show_response(data: dict[str, Any], fallback: TicketEvent | None = None) -> Ticket:
    """A Ticket from GET /api/v2/tickets/{id}.json?include=users,organizations."""
    raw = data.get("ticket") or {}
    users = {str(u.get("id")): u for u in data.get("users") or [] if isinstance(u, dict)}
    orgs = {str(o.get("id")): o for o in data.get("organizations") or [] if isinstance(o, dict)}

    def person(user_id: Any) -> Person:
        user = users.get(str(user_id)) or {}
        return Person(id=_text(user_id), name=_text(user.get("name")), email=_text(user.get("email")),
                      locale=_text(user.get("locale")))

    org = orgs.get(str(raw.get("organization_id"))) or {}
    fields = tuple(
        (str(f.get("id")), _text(f.get("value")))
        for f in raw.get("custom_fields") or []
        if isinstance(f, dict) and f.get("value") not in (None, "", [])
    )
    via = raw.get("via") if isinstance(raw.get("via"), dict) else {}
    return Ticket(
        id=_text(raw.get("id")) or (fallback.ticket_id if fallback else ""),
        subject=_text(raw.get("subject")) or (fallback.subject if fallback else ""),
        description=_text(raw.get("description")) or (fallback.description if fallback else ""),
        requester=person(raw.get("requester_id")),
        organization=_text(org.get("name")) or (fallback.organization if fallback else ""),
        tags=_tags(raw.get("tags")),
        channel=_text(via.get("channel")),
        custom_fields=fields,
        assignee=person(raw.get("assignee_id")) if raw.get("assignee_id") else Person(),
    )


def _ticket_id(value: Any) -> str:
    if not _text(value):
        raise PayloadError("no ticket id in the body")
    return _checked(inputs.helpdesk_id, value, "ticket id")


def _optional_id(value: Any, what: str) -> str:
    """An id that may be absent; when given, digits as any id (the requester's becomes
    suggestions.requester_key when there is no email)."""
    return _checked(inputs.helpdesk_id, value, what) if _text(value) else ""


def _checked(check, value: Any, *args):
    """`check(value, *args)` from plugin/core/inputs.py, its refusal a 400 with the reason."""
    try:
        return check(value, *args)
    except ValueError as exc:
        raise PayloadError(str(exc)) from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return ""
    return str(value).strip()


def _tags(value: Any) -> tuple[str, ...]:
    # Event payloads send a list; trigger placeholders render tags space-separated.
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(t) for t in value if t and isinstance(t, (str, int, float)))
    return ()
