"""What the admin console's "Connect Zendesk" talks to, and the sidebar app's public key, for
``FakeZendesk`` (mixed into it).

* The OAuth authorization page ``GET /oauth/authorizations/new``
  (https://support.zendesk.com/hc/en-us/articles/4408845965210, PKCE:
  https://developer.zendesk.com/documentation/api-basics/authentication/oauth-pkce). No user clicks
  here: it redirects straight back to ``redirect_uri`` with ``code`` and ``state``, or with
  ``error=access_denied`` when ``deny_authorization`` is set.
* ``POST /oauth/tokens`` for the ``authorization_code`` and ``refresh_token`` grants
  (https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/): single-use codes valid
  for 120 s, PKCE S256 checked, access tokens that expire (then any API call answers 401
  ``invalid_token``), refresh tokens rotated on use. Errors are ``{"error", "error_description"}``.
* The Webhooks API (https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/): create,
  list (``filter[name_contains]``, cursor pagination), show, update, signing secret, and test, which
  really sends the signed test request to the endpoint through ``webhook_transport``.

* Get App Public Key ``GET /api/v2/apps/{app_id}/public_key[.pem]``
  (https://developer.zendesk.com/api-reference/ticketing/apps/apps/#get-app-public-key): the PEM
  text of a key set with ``set_app_public_key()`` (``text/plain``), ``404 "Not Found"`` for any other
  app id. Zendesk allows it anonymously; this fake wants credentials, as on every API path, so a
  connector that forgot them is caught.

Requests to the authorization page, the Webhooks API and the app public key are checked here (none
is in Zendesk's Support OpenAPI document): query parameters against the documented lists, bodies
against ``tests/fixtures/zendesk/webhooks-api.schema.json``. ``/oauth/tokens`` stays checked by
tests/contract.py.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import secrets
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode, urlparse

import jsonschema
from werkzeug.wrappers import Request

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "zendesk" / "webhooks-api.schema.json"
AUTHORIZE_PATH = "/oauth/authorizations/new"
AUTHORIZE_PARAMS = {"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                    "code_challenge_method", "brand_id"}
LIST_WEBHOOK_PARAMS = {"filter[name_contains]", "filter[status]", "page[after]", "page[before]", "page[size]",
                       "sort"}
INVALID_GRANT = {"error": "invalid_grant", "error_description": (
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used "
    "in the authorization request, or was issued to another client.")}
INVALID_CLIENT = {"error": "invalid_client", "error_description": (
    "Client authentication failed due to unknown client, no client authentication included, or unsupported "
    "authentication method.")}
INVALID_TOKEN = {"error": "invalid_token", "error_description": (
    "The access token provided is expired, revoked, malformed or invalid for other reasons.")}
APP_PUBLIC_KEY_PATH = re.compile(r"/api/v2/apps/(\d+)/public_key(?:\.pem)?")
WEBHOOK_NOT_FOUND = {"errors": [{"code": "WebhookNotFound", "title": "Webhook not found",
                                 "detail": "The webhook does not exist"}]}
Transport = Callable[[str, str, dict, bytes], tuple[int, dict, str]]


@functools.cache
def _schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _schema_errors(definition: str, body: Any, label: str) -> list[str]:
    validator = jsonschema.Draft7Validator({"$ref": f"#/definitions/{definition}", **_schema()})
    found = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{label}: body{''.join(f'.{p}' for p in e.absolute_path)}: {e.message}" for e in found]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _http_transport(method: str, url: str, headers: dict, body: bytes) -> tuple[int, dict, str]:
    import requests

    response = requests.request(method, url, headers=headers, data=body, timeout=10)
    return response.status_code, dict(response.headers), response.text


class ConsoleEndpoints:
    """OAuth and Webhooks API state and handlers; FakeZendesk calls ``_init_console()``."""

    def _init_console(self) -> None:
        self.oauth_clients: dict[str, str] = {"amends-console": "zd-client-secret"}  # unique identifier -> secret
        self.deny_authorization = False
        self.access_token_lifetime: int | None = None  # overrides the requested expires_in when set
        self.webhook_transport: Transport = _http_transport
        self._codes: dict[str, dict] = {}
        self._access: dict[str, dict] = {}
        self._refresh: dict[str, dict] = {}
        self._webhooks: dict[str, dict] = {}
        self._webhook_secrets: dict[str, str] = {}
        self._app_keys: dict[int, str] = {}  # app id -> PEM text

    # --- test API -----------------------------------------------------------------------------

    def access_tokens(self) -> list[str]:
        """Issued access tokens still valid now."""
        with self._cond:
            return [t for t, info in self._access.items()
                    if info["expires_at"] is None or info["expires_at"] > time.time()]

    def expire_access_tokens(self) -> None:
        with self._cond:
            for info in self._access.values():
                info["expires_at"] = time.time() - 1

    def revoke_refresh_tokens(self) -> None:
        with self._cond:
            self._refresh.clear()

    def webhooks(self) -> list[dict]:
        with self._cond:
            return [dict(w) for w in self._webhooks.values()]

    def webhook_secret(self, webhook_id: str) -> str:
        with self._cond:
            return self._webhook_secrets[webhook_id]

    def set_app_public_key(self, app_id: int, pem: str) -> None:
        """Install an app whose public key (PEM text) GET /api/v2/apps/{app_id}/public_key.pem serves."""
        with self._cond:
            self._app_keys[int(app_id)] = pem

    # --- contract for the paths Zendesk's OpenAPI document lacks ---------------------------------

    def _console_contract(self, request: Request, body: Any) -> list[str] | None:
        """Violations for the authorization page, the Webhooks API and the app public key; None for
        any other path (tests/contract.py checks those against the OpenAPI document)."""
        path, method, label = request.path.removesuffix(".json"), request.method, f"{request.method} {request.path}"
        params = set(request.args)
        if path == AUTHORIZE_PATH:
            errors = [f"{label}: unknown query parameter {p!r}" for p in sorted(params - AUTHORIZE_PARAMS)]
            errors += [f"{label}: query parameter {p!r} is required" for p in
                       ("response_type", "client_id", "redirect_uri", "scope") if not request.args.get(p)]
            if request.args.get("response_type", "code") != "code":
                errors.append(f"{label}: response_type must be 'code' (the implicit grant is deprecated)")
            if request.args.get("code_challenge_method", "S256") not in ("S256", "plain"):
                errors.append(f"{label}: code_challenge_method must be S256 or plain")
            if method != "GET" or body is not None:
                errors.append(f"{label}: the authorization page is a GET without a body")
            return errors
        if APP_PUBLIC_KEY_PATH.fullmatch(request.path):
            if method != "GET":
                return [f"{label}: the app public key is only read (GET)"]
            return [] if body is None and not params else [f"{label}: takes no body or query parameters"]
        if not path.startswith("/api/v2/webhooks"):
            return None
        parts = path.split("/")[4:]  # after /api/v2/webhooks
        if method == "GET" and not parts:
            return [f"{label}: unknown query parameter {p!r}" for p in sorted(params - LIST_WEBHOOK_PARAMS)]
        if method == "POST" and not parts:
            extra = params - {"clone_webhook_id"}
            return [f"{label}: unknown query parameter {p!r}" for p in sorted(extra)] + (
                _schema_errors("CreateWebhookRequest", body, label) if "clone_webhook_id" not in params else [])
        if method == "POST" and parts == ["test"]:
            extra = params - {"webhook_id"}
            return [f"{label}: unknown query parameter {p!r}" for p in sorted(extra)] + \
                _schema_errors("TestWebhookRequest", body, label)
        if method == "PUT" and len(parts) == 1:
            return _schema_errors("UpdateWebhookRequest", body, label)
        if method == "GET" and (len(parts) == 1 or (len(parts) == 2 and parts[1] == "signing_secret")):
            return [] if body is None and not params else [f"{label}: takes no body or query parameters"]
        return [f"{label}: not an operation of Zendesk's Webhooks API (or not one Amends may use)"]

    # --- OAuth --------------------------------------------------------------------------------

    def _bearer_status(self, token: str) -> str:
        """'ok', 'expired' (issued, now expired) or 'unknown'."""
        info = self._access.get(token)
        if info is None:
            return "unknown"
        return "ok" if info["expires_at"] is None or info["expires_at"] > time.time() else "expired"

    def _authorize(self, request: Request, body: Any) -> tuple[int, Any, dict]:
        args = request.args
        client_id, redirect_uri = args.get("client_id", ""), args.get("redirect_uri", "")
        if client_id not in self.oauth_clients:
            return 400, INVALID_CLIENT, {}
        target = urlparse(redirect_uri)
        if target.scheme not in ("http", "https") or not target.netloc:
            return 400, {"error": "invalid_request", "error_description": "redirect_uri must be absolute"}, {}
        answer = {"state": args["state"]} if "state" in args else {}
        if self.deny_authorization:
            answer = {"error": "access_denied", "error_description": "The end-user denied the request", **answer}
        else:
            code = secrets.token_urlsafe(24)
            self._codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri, "scope": args["scope"],
                                 "challenge": args.get("code_challenge"),
                                 "method": args.get("code_challenge_method", "plain"),
                                 "expires_at": time.time() + 120, "used": False}
            answer = {"code": code, **answer}
        separator = "&" if target.query else "?"
        return 302, "", {"Location": f"{redirect_uri}{separator}{urlencode(answer)}"}

    def _create_token(self, request: Request, body: Any) -> tuple[int, Any]:
        client_id, secret = body.get("client_id"), body.get("client_secret")
        if client_id not in self.oauth_clients or (secret is not None and secret != self.oauth_clients[client_id]):
            return 401, INVALID_CLIENT
        if body["grant_type"] == "authorization_code":
            grant = self._codes.get(body["code"])
            if grant is None or grant["used"] or grant["expires_at"] < time.time() or grant["client_id"] != client_id:
                return 400, INVALID_GRANT
            grant["used"] = True  # single use, even when the rest of the request is wrong
            if grant["redirect_uri"] != body.get("redirect_uri", grant["redirect_uri"]):
                return 400, INVALID_GRANT
            if grant["challenge"] and not self._pkce_ok(grant, body.get("code_verifier")):
                return 400, {"error": "invalid_grant", "error_description": "The code verifier does not match"}
            if not grant["challenge"] and secret is None:
                return 401, INVALID_CLIENT
            scope = grant["scope"]
        else:
            held = self._refresh.get(body["refresh_token"])
            if held is None or held["client_id"] != client_id or held["expires_at"] < time.time():
                return 400, INVALID_GRANT
            del self._refresh[body["refresh_token"]]  # rotated: each refresh token works once
            scope = held["scope"]
        return 201, self._issue(client_id, scope, body)

    @staticmethod
    def _pkce_ok(grant: dict, verifier: str | None) -> bool:
        if not verifier:
            return False
        if grant["method"] == "S256":
            digest = hashlib.sha256(verifier.encode("ascii")).digest()
            return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == grant["challenge"]
        return verifier == grant["challenge"]

    def _issue(self, client_id: str, scope: str, body: dict) -> dict:
        lifetime = self.access_token_lifetime or body.get("expires_in")
        refresh_lifetime = body.get("refresh_token_expires_in") or 2_592_000
        access, refresh = f"zat-{secrets.token_urlsafe(24)}", f"zrt-{secrets.token_urlsafe(24)}"
        self._access[access] = {"client_id": client_id, "scope": scope,
                                "expires_at": time.time() + lifetime if lifetime else None}
        self._refresh[refresh] = {"client_id": client_id, "scope": scope,
                                  "expires_at": time.time() + refresh_lifetime}
        return {"access_token": access, "token_type": "bearer", "scope": scope, "expires_in": lifetime,
                "refresh_token": refresh, "refresh_token_expires_in": refresh_lifetime}

    # --- Apps API: the sidebar app's public key ---------------------------------------------------

    def _app_public_key(self, request: Request, body: Any, app_id: int) -> tuple[int, Any, dict]:
        pem = self._app_keys.get(app_id)
        if pem is None:
            return 404, json.dumps("Not Found"), {}  # the reference's 404 example: the JSON string "Not Found"
        return 200, pem, {"Content-Type": "text/plain; charset=utf-8"}

    # --- Webhooks API -----------------------------------------------------------------------------

    def _create_webhook(self, request: Request, body: Any) -> tuple[int, Any]:
        webhook_id = "01J" + "".join(secrets.choice("ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(23))
        hook = {**body["webhook"], "id": webhook_id, "created_at": _now(), "created_by": "360000000001",
                "updated_at": _now(), "updated_by": "360000000001"}
        hook.pop("signing_secret", None)
        self._webhooks[webhook_id] = hook
        self._webhook_secrets[webhook_id] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        return 201, {"webhook": hook}

    def _list_webhooks(self, request: Request, body: Any) -> tuple[int, Any]:
        needle = request.args.get("filter[name_contains]", "").lower()
        status = request.args.get("filter[status]")
        found = [h for h in self._webhooks.values()
                 if needle in h["name"].lower() and (status is None or h["status"] == status)]
        return 200, {"webhooks": found, "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
                     "links": {"next": None, "prev": None}}

    def _show_webhook(self, request: Request, body: Any, webhook_id: str) -> tuple[int, Any]:
        hook = self._webhooks.get(str(webhook_id))
        return (200, {"webhook": hook}) if hook else (404, WEBHOOK_NOT_FOUND)

    def _update_webhook(self, request: Request, body: Any, webhook_id: str) -> tuple[int, Any]:
        hook = self._webhooks.get(str(webhook_id))
        if hook is None:
            return 404, WEBHOOK_NOT_FOUND
        was_events = any(s.startswith("zen:event-type:") for s in hook.get("subscriptions") or [])
        now_events = any(s.startswith("zen:event-type:") for s in body["webhook"].get("subscriptions") or [])
        if was_events != now_events:
            return 400, {"errors": [{"code": "InvalidInput", "title": "Invalid input",
                                     "detail": "A webhook's connection method cannot be changed"}]}
        hook.update({k: v for k, v in body["webhook"].items() if k != "signing_secret"}, updated_at=_now())
        return 204, ""

    def _webhook_signing_secret(self, request: Request, body: Any, webhook_id: str) -> tuple[int, Any]:
        if str(webhook_id) not in self._webhooks:
            return 404, WEBHOOK_NOT_FOUND
        return 200, {"signing_secret": {"algorithm": "sha256", "secret": self._webhook_secrets[str(webhook_id)]}}

    def _test_webhook(self, request: Request, body: Any) -> tuple[int, Any]:
        """Send the test request (signed with the webhook's secret when webhook_id is given).

        Runs under the fake's lock: the transport must not call back into the fake.
        """
        webhook_id, spec = request.args.get("webhook_id"), body["request"]
        hook = self._webhooks.get(webhook_id) if webhook_id else {}
        if hook is None:
            return 404, WEBHOOK_NOT_FOUND
        payload = spec.get("payload", "").encode()
        timestamp = _now()
        headers = {"Content-Type": "application/json", "x-zendesk-account-id": "123456",
                   "x-zendesk-webhook-id": webhook_id or "test",
                   "x-zendesk-webhook-invocation-id": str(secrets.randbelow(10 ** 10)),
                   "x-zendesk-webhook-signature-timestamp": timestamp}
        if webhook_id:
            # https://developer.zendesk.com/documentation/webhooks/verifying/: base64(HMACSHA256(TIMESTAMP + BODY))
            digest = hmac.new(self._webhook_secrets[webhook_id].encode(), timestamp.encode() + payload, hashlib.sha256)
            headers["x-zendesk-webhook-signature"] = base64.b64encode(digest.digest()).decode()
        headers.update({h["key"]: h["value"] for h in spec.get("headers") or []})
        method = spec.get("http_method") or hook.get("http_method") or "POST"
        try:
            status, answer_headers, text = self.webhook_transport(method, spec["endpoint"], headers, payload)
        except Exception as exc:  # unreachable endpoint: our guess at Zendesk's answer
            return 400, {"errors": [{"code": "WebhookTestFailed", "title": "Test request failed",
                                     "detail": f"{exc.__class__.__name__}"}]}
        return 200, {"response": {"status": status, "body": text,
                                  "headers": [{"key": k, "value": v} for k, v in answer_headers.items()]}}
