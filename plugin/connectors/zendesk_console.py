"""The Zendesk connection made in the admin console: stored, encrypted, and refreshed safely.

One row of `connections` per account holds a JSON object. Secret values in it
(client secret, access and refresh tokens, the PKCE verifier of a pending
authorisation, the webhook signing secret) are encrypted with plugin.core.secretbox;
everything else (client id, public URL, expiry times, status, webhook id) is plain.

Many worker threads and processes share one access token. When it is about to
expire (or Zendesk answers 401), one of them takes a short *lease* on the row
(compare-and-swap on the stored JSON), refreshes, and stores the new pair; the
others wait for the new token instead of spending the same refresh token, which
Zendesk rotates on use. Every write is a compare-and-swap merge over the latest
row, so a good grant is never overwritten by a failure, and the last good grant
wins. A refresh refused with `invalid_grant` marks the connection as needing the
admin to authorise again, unless another worker has already stored a newer token.
"""

from __future__ import annotations

import copy
import os
import socket
import threading
import time
import uuid
from typing import Any, Callable

import requests
from sqlalchemy.engine import Engine

from plugin import db
from plugin.config import Settings
from plugin.connectors import zendesk_oauth
from plugin.connectors.zendesk_oauth import OAuthError, TokenGrant
from plugin.core.secretbox import SecretBox
from plugin.errors import AuthError, TransientError

HELPDESK = "zendesk"
PENDING, CONNECTED, NEEDS_REAUTH = "pending", "connected", "needs_reauthorisation"
REFRESH_MARGIN_SECONDS = 300.0  # refresh when less than this is left (at most a fifth of the lifetime)
CAS_ATTEMPTS = 20


class ConsoleConnection:
    """The stored connection of one account (by default the one Amends works on)."""

    def __init__(self, engine: Engine, settings: Settings, account: str | None = None,
                 session: requests.Session | None = None):
        self.engine, self.settings = engine, settings
        self._account = account
        self._box: SecretBox | None = None
        self.session = session or requests.Session()
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @property
    def owner(self) -> str:
        """Who holds a refresh lease: this object in this thread."""
        return f"{self._owner}:{threading.get_ident()}"

    @property
    def account(self) -> str:
        """The configured subdomain, else the account connected most recently in the console."""
        if self._account:
            return self._account
        if self.settings.zendesk_subdomain:
            return self.settings.zendesk_subdomain
        accounts = db.connected_accounts(self.engine, HELPDESK)
        return accounts[0] if accounts else ""

    @property
    def base_url(self) -> str:
        return zendesk_oauth.base_url(self.settings, self.account)

    def box(self) -> SecretBox:
        # One per connection object: deriving the key again for every secret read is waste
        # (the webhook path reads the signing secret on each delivery).
        if self._box is None:
            self._box = SecretBox(self.settings.secret_key)
        return self._box

    def load(self) -> dict[str, Any] | None:
        account = self.account
        return db.get_connection(self.engine, HELPDESK, account) if account else None

    def reveal(self, data: dict[str, Any] | None, field: str) -> str:
        """The decrypted value of a secret field ('' when absent); SecretKeyChanged if unreadable."""
        value = (data or {}).get(field)
        return self.box().decrypt(value) if value else ""

    def update(self, mutate: Callable[[dict[str, Any]], dict[str, Any] | None],
               audit: tuple[str, str, str, str | None, str | None] | None = None) -> dict[str, Any] | None:
        """Read, change, compare-and-swap; again when another writer got there first.

        `mutate` gets a copy of the stored data ({} when there is none) and returns the new
        data, or None to leave the row as it is (then the stored data is returned).
        """
        account = self.account
        for _ in range(CAS_ATTEMPTS):
            current = db.get_connection(self.engine, HELPDESK, account)
            new = mutate(copy.deepcopy(current) if current else {})
            if new is None:
                return current
            if db.save_connection(self.engine, HELPDESK, account, new, expect=current, audit=audit):
                return new
        raise TransientError("the stored Zendesk connection kept changing under us; try again")

    # --- tokens -----------------------------------------------------------------------------

    def access_token(self) -> str:
        """A token to call Zendesk with, refreshed first when it is about to expire."""
        data = self._usable()
        if _expires_soon(data):
            return self._refresh(stale=None)
        return self.reveal(data, "access_token")

    def refresh_after_401(self, used_token: str) -> str:
        """Zendesk refused `used_token`: a newer one (someone else's refresh, or ours)."""
        return self._refresh(stale=used_token)

    def _usable(self) -> dict[str, Any]:
        data = self.load()
        if not data or not data.get("access_token"):
            raise AuthError("Zendesk is not connected: no credentials in the environment and no connection "
                            "made on /admin/connect")
        if data.get("status") == NEEDS_REAUTH:
            raise AuthError("the Zendesk connection must be authorised again on /admin/connect "
                            f"({data.get('status_reason') or 'the refresh token was refused'})")
        return data

    def _lease_seconds(self) -> float:
        return 2 * self.settings.http_timeout_seconds + 5.0

    def _refresh(self, stale: str | None) -> str:
        deadline = time.monotonic() + self._lease_seconds()
        while True:
            data = self._usable()
            token = self.reveal(data, "access_token")
            if not _expires_soon(data) and token != stale:
                return token  # already fresh: another thread or process refreshed it
            leased = self._take_lease(data)
            if leased is not None:
                return self._refresh_holding(leased)
            if time.monotonic() > deadline:
                raise TransientError("another worker has been refreshing the Zendesk token for too long; "
                                     "will try again")
            time.sleep(0.05)

    def _take_lease(self, data: dict[str, Any]) -> dict[str, Any] | None:
        now = time.time()
        lease = data.get("refresh_lease") or {}
        if lease.get("owner") not in (None, self.owner) and float(lease.get("until") or 0) > now:
            return None
        leased = {**data, "refresh_lease": {"owner": self.owner, "until": now + self._lease_seconds()}}
        if db.save_connection(self.engine, HELPDESK, self.account, leased, expect=data):
            return leased
        return None

    def _refresh_holding(self, leased: dict[str, Any]) -> str:
        serial = leased.get("token_serial", 0)
        try:
            grant = zendesk_oauth.refresh(
                self.session, self.settings, self.account, client_id=leased.get("client_id", ""),
                client_secret=self.reveal(leased, "client_secret"),
                refresh_token=self.reveal(leased, "refresh_token"))
        except OAuthError as exc:
            if not exc.needs_reauthorisation:
                self._drop_lease()
                raise
            reason = exc.reason  # bound here: the lambda must not reach for the except variable
            latest = self.update(lambda d: _mark_reauth(d, serial, self.owner, reason))
            if latest and latest.get("token_serial", 0) != serial and latest.get("status") == CONNECTED:
                return self.reveal(latest, "access_token")  # someone else's refresh won meanwhile
            raise AuthError(f"Zendesk refused the refresh token ({exc.error}); authorise again on "
                            "/admin/connect", exc.status) from None
        except Exception:
            self._drop_lease()
            raise
        box = self.box()
        self.update(lambda d: store_grant(d, grant, box))
        return grant.access_token

    def _drop_lease(self) -> None:
        def drop(d: dict[str, Any]) -> dict[str, Any] | None:
            if (d.get("refresh_lease") or {}).get("owner") != self.owner:
                return None
            d.pop("refresh_lease")
            return d
        self.update(drop)

    # --- webhook ----------------------------------------------------------------------------

    def webhook_secret(self) -> str:
        """The signing secret stored by "Set up Zendesk for me" ('' when there is none)."""
        return self.reveal(self.load(), "webhook_secret")


def store_grant(data: dict[str, Any], grant: TokenGrant, box: SecretBox, now: float | None = None) -> dict[str, Any]:
    """Merge a good grant into the connection data: encrypted tokens, expiries, status connected."""
    now = now or time.time()
    data["access_token"] = box.encrypt(grant.access_token)
    if grant.refresh_token:
        data["refresh_token"] = box.encrypt(grant.refresh_token)
    data["access_expires_at"] = now + grant.expires_in if grant.expires_in else None
    data["access_lifetime"] = grant.expires_in
    if grant.refresh_token_expires_in:
        data["refresh_expires_at"] = now + grant.refresh_token_expires_in
    data["scope"] = grant.scope or data.get("scope") or zendesk_oauth.SCOPE
    data["token_serial"] = data.get("token_serial", 0) + 1
    data["refreshed_at"] = now
    data["status"] = CONNECTED
    data.pop("status_reason", None)
    data.pop("refresh_lease", None)
    return data


def _mark_reauth(data: dict[str, Any], serial: int, owner: str, reason: str) -> dict[str, Any] | None:
    if data.get("token_serial", 0) != serial:
        if (data.get("refresh_lease") or {}).get("owner") == owner:
            data.pop("refresh_lease")
            return data
        return None  # a newer token is stored: nothing to mark
    data["status"] = NEEDS_REAUTH
    data["status_reason"] = reason[:300]
    data.pop("refresh_lease", None)
    return data


def _expires_soon(data: dict[str, Any], now: float | None = None) -> bool:
    expires_at = data.get("access_expires_at")
    if not expires_at:
        return False
    lifetime = data.get("access_lifetime") or REFRESH_MARGIN_SECONDS * 5
    margin = min(REFRESH_MARGIN_SECONDS, lifetime / 5)
    return float(expires_at) - (now or time.time()) < margin
