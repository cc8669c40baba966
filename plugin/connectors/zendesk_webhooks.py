"""Zendesk's Webhooks API, for the console's "Set up Zendesk for me": one webhook, idempotently.

Reference: https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/
Guide:     https://developer.zendesk.com/documentation/webhooks/creating-and-monitoring-webhooks/

  Create   POST /api/v2/webhooks {"webhook": {name, status, endpoint, http_method,
           request_format, subscriptions}}                 -> 201 {"webhook": {"id": ..., ...}}
  List     GET  /api/v2/webhooks?filter[name_contains]=... -> {"webhooks": [...], "meta", "links"}
           (cursor pagination: links.next)
  Show     GET  /api/v2/webhooks/{webhook_id}              -> {"webhook": {...}}
  Update   PUT  /api/v2/webhooks/{webhook_id} {"webhook": {...the whole webhook}} -> 204
  Secret   GET  /api/v2/webhooks/{webhook_id}/signing_secret
                                                  -> {"signing_secret": {"algorithm", "secret"}}
  Test     POST /api/v2/webhooks/test?webhook_id=... {"request": {endpoint, http_method,
           request_format, payload}} -> {"response": {"status", "headers", "body"}}; for an
           existing webhook Zendesk signs the test request with that webhook's secret.

A webhook subscribed to Zendesk events must use POST and json; it cannot later be
connected to a trigger (nor the reverse).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from plugin.errors import NotFound, PermanentError

WEBHOOK_NAME = "Amends"
# ticket.created brings the tickets to write for; ticket.comment_added brings the agents' replies,
# whose outcome (how much of our letter they kept) plugin/services/outcomes.py measures. A webhook made
# before the second one existed lacks it: _drifted() sees that and the set-up updates it.
SUBSCRIPTIONS = ["zen:event-type:ticket.created", "zen:event-type:ticket.comment_added"]
TEST_EVENT_TYPE = "zen:event-type:amends.connection_test"  # an event type Amends answers "ignored"
MAX_LIST_PAGES = 10


@dataclass(frozen=True)
class WebhookSetup:
    webhook_id: str
    endpoint: str
    created: bool
    updated: bool
    signing_secret: str


@dataclass(frozen=True)
class WebhookTest:
    status: int
    body: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def desired(endpoint: str) -> dict[str, Any]:
    return {"name": WEBHOOK_NAME, "status": "active", "endpoint": endpoint, "http_method": "POST",
            "request_format": "json", "subscriptions": list(SUBSCRIPTIONS)}


def ensure_webhook(connector, endpoint: str, known_id: str | None = None) -> WebhookSetup:
    """The webhook Amends needs, reusing the stored one (or one already pointing at `endpoint`),
    updated if it drifted, created only when none exists; plus its signing secret."""
    hook = None
    if known_id:
        try:
            hook = _webhook(connector.request("GET", _url(connector, f"/api/v2/webhooks/{known_id}"), "show webhook"))
        except NotFound:
            hook = None
    if hook is None:
        hook = find_webhook(connector, endpoint)
    created = updated = False
    if hook is None:
        response = connector.request("POST", _url(connector, "/api/v2/webhooks"), "create webhook",
                                     json={"webhook": desired(endpoint)})
        hook, created = _webhook(response), True
    elif _drifted(hook, endpoint):
        connector.request("PUT", _url(connector, f"/api/v2/webhooks/{hook['id']}"), "update webhook",
                          json={"webhook": desired(endpoint)})
        updated = True
    webhook_id = str(hook["id"])
    return WebhookSetup(webhook_id, endpoint, created, updated, signing_secret(connector, webhook_id))


def find_webhook(connector, endpoint: str) -> dict[str, Any] | None:
    """An existing webhook named like ours that already posts to `endpoint`."""
    url, params = _url(connector, "/api/v2/webhooks"), {"filter[name_contains]": WEBHOOK_NAME}
    for _ in range(MAX_LIST_PAGES):
        page = connector.request("GET", url, "list webhooks", params=params).json()
        for hook in page.get("webhooks") or []:
            if isinstance(hook, dict) and hook.get("endpoint") == endpoint and hook.get("id"):
                return hook
        url = (page.get("links") or {}).get("next")
        if not url or not (page.get("meta") or {}).get("has_more", True):
            return None
        params = None
    return None


def signing_secret(connector, webhook_id: str) -> str:
    response = connector.request("GET", _url(connector, f"/api/v2/webhooks/{webhook_id}/signing_secret"),
                                 "read webhook signing secret")
    secret = ((response.json() or {}).get("signing_secret") or {}).get("secret")
    if not isinstance(secret, str) or not secret:
        raise PermanentError("read webhook signing secret: Zendesk's answer has no secret")
    return secret


def send_test(connector, webhook_id: str, endpoint: str) -> WebhookTest:
    """Ask Zendesk to send a signed test request to `endpoint`; what our server answered it."""
    payload = {"type": TEST_EVENT_TYPE, "id": str(uuid.uuid4()), "zendesk_event_version": "2022-11-06",
               "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "subject": "amends:test",
               "detail": {}, "event": {}}
    body = {"request": {"endpoint": endpoint, "http_method": "POST", "request_format": "json",
                        "payload": json.dumps(payload)}}
    response = connector.request("POST", _url(connector, "/api/v2/webhooks/test"), "test webhook",
                                 params={"webhook_id": webhook_id}, json=body)
    answer = (response.json() or {}).get("response") or {}
    status = answer.get("status")
    return WebhookTest(status if isinstance(status, int) else 0, str(answer.get("body") or "")[:300])


def _url(connector, path: str) -> str:
    return connector.api_url(path)


def _webhook(response) -> dict[str, Any]:
    hook = (response.json() or {}).get("webhook")
    if not isinstance(hook, dict) or not hook.get("id"):
        raise PermanentError("Zendesk's webhook answer has no webhook id")
    return hook


def _drifted(hook: dict[str, Any], endpoint: str) -> bool:
    want = desired(endpoint)
    return any(hook.get(key) != value for key, value in want.items() if key != "subscriptions") or \
        not set(SUBSCRIPTIONS) <= set(hook.get("subscriptions") or [])
