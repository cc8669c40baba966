"""Zendesk OAuth: the authorization code grant with PKCE, and the refresh token grant.

Zendesk retires API tokens (no new ones since 2026-10-27, all switched off on
2027-04-30), so the console connects with OAuth instead.

Authorization page: https://support.zendesk.com/hc/en-us/articles/4408845965210
  GET https://{subdomain}.zendesk.com/oauth/authorizations/new
      ?response_type=code&client_id=...&redirect_uri=...&scope=read%20write&state=...
PKCE (S256):        https://developer.zendesk.com/documentation/api-basics/authentication/oauth-pkce
  adds code_challenge + code_challenge_method=S256 there, and code_verifier to the token request.
Token endpoint:     https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/
  POST /oauth/tokens, JSON body (grant_type authorization_code | refresh_token, code,
  client_id = the client's *unique identifier*, client_secret, redirect_uri, scope,
  code_verifier, expires_in, refresh_token_expires_in, refresh_token); 201 answer
  {access_token, token_type, scope, expires_in, refresh_token, refresh_token_expires_in}.
  Authorization codes are valid for 120 seconds. Errors are OAuth-style
  {"error": "invalid_grant", "error_description": "..."}.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from plugin.config import Settings
from plugin.connectors.base import fetch, raise_for_response
from plugin.errors import AuthError

AUTHORIZE_PATH = "/oauth/authorizations/new"
TOKEN_PATH = "/oauth/tokens"
SCOPE = "read write"
CALLBACK_PATH = "/admin/connect/callback"
WEBHOOK_PATH = "/webhooks/zendesk"
# What we ask for: access tokens live 2 hours (Zendesk allows 300 s to 2 days) and refresh
# tokens 30 days (7 to 90 days; each refresh hands out a new one).
ACCESS_TOKEN_SECONDS = 2 * 3600
REFRESH_TOKEN_SECONDS = 30 * 86400
# Errors that no retry can fix: the admin has to authorise again.
REAUTHORISE_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


class OAuthError(AuthError):
    """Zendesk refused a grant; `error` is the OAuth error code (e.g. invalid_grant)."""

    def __init__(self, reason: str, error: str, status: int | None = None):
        super().__init__(reason, status)
        self.error = error

    @property
    def needs_reauthorisation(self) -> bool:
        return self.error in REAUTHORISE_ERRORS


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str
    expires_in: int | None
    refresh_token_expires_in: int | None
    scope: str


def base_url(settings: Settings, subdomain: str) -> str:
    """AMENDS_ZENDESK_API_URL when set (tests, proxies), else the account's own host."""
    if settings.zendesk_api_url:
        return settings.zendesk_api_url.rstrip("/")
    return f"https://{subdomain}.zendesk.com"


def redirect_uri(public_url: str) -> str:
    return public_url.rstrip("/") + CALLBACK_PATH


def webhook_endpoint(public_url: str) -> str:
    return public_url.rstrip("/") + WEBHOOK_PATH


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_pkce() -> tuple[str, str]:
    """(code_verifier, code_challenge): 43+ unreserved characters, and base64url(SHA-256) without padding."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_url(settings: Settings, subdomain: str, client_id: str, public_url: str, state: str,
                      code_challenge: str) -> str:
    query = urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri(public_url),
        "scope": SCOPE, "state": state, "code_challenge": code_challenge, "code_challenge_method": "S256",
    })
    return f"{base_url(settings, subdomain)}{AUTHORIZE_PATH}?{query}"


def exchange_code(session: requests.Session, settings: Settings, subdomain: str, *, client_id: str,
                  client_secret: str, code: str, public_url: str, code_verifier: str) -> TokenGrant:
    return _token_request(session, settings, subdomain, "exchange authorization code", {
        "grant_type": "authorization_code", "code": code, "client_id": client_id, "client_secret": client_secret,
        "redirect_uri": redirect_uri(public_url), "scope": SCOPE, "code_verifier": code_verifier,
        "expires_in": ACCESS_TOKEN_SECONDS, "refresh_token_expires_in": REFRESH_TOKEN_SECONDS,
    })


def refresh(session: requests.Session, settings: Settings, subdomain: str, *, client_id: str,
            client_secret: str, refresh_token: str) -> TokenGrant:
    return _token_request(session, settings, subdomain, "refresh access token", {
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id,
        "client_secret": client_secret, "expires_in": ACCESS_TOKEN_SECONDS,
        "refresh_token_expires_in": REFRESH_TOKEN_SECONDS,
    })


def _token_request(session: requests.Session, settings: Settings, subdomain: str, what: str,
                   body: dict) -> TokenGrant:
    url = base_url(settings, subdomain) + TOKEN_PATH
    # No Authorization header: the grant itself is the credential.
    response = fetch(session, "POST", url, what, settings.http_timeout_seconds, json=body,
                     headers={"Authorization": None})
    if response.status_code in (400, 401, 403):
        data = _json(response)
        error = str(data.get("error") or "invalid_request")
        description = str(data.get("error_description") or data.get("description") or "")[:200]
        raise OAuthError(f"{what}: Zendesk answered HTTP {response.status_code} {error}"
                         + (f" ({description})" if description else ""), error, response.status_code)
    raise_for_response(response, what)
    data = _json(response)
    access, refresh_token = data.get("access_token"), data.get("refresh_token")
    if not isinstance(access, str) or not access:
        raise OAuthError(f"{what}: Zendesk's answer has no access_token", "invalid_response", response.status_code)
    return TokenGrant(
        access_token=access,
        refresh_token=refresh_token if isinstance(refresh_token, str) else "",
        expires_in=_seconds(data.get("expires_in")),
        refresh_token_expires_in=_seconds(data.get("refresh_token_expires_in")),
        scope=str(data.get("scope") or ""),
    )


def _json(response: requests.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _seconds(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None
