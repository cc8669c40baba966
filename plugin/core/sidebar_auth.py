"""Who may use the agents' sidebar: Zendesk's signed-URL token, checked once, then our own
short-lived sidebar token for the page's later requests. No Flask, no database: the one
network call, fetching the app's key, goes through the connector the caller hands in.

**Zendesk's token.** An app whose manifest has `signedUrls: true` gets, on its first load, a
POST with a form field `token`: a JWT signed RS256 with a private key Zendesk keeps for the
app. The app's public key is served at `GET /api/v2/apps/{app_id}/public_key.pem`: we take it
from AMENDS_ZENDESK_APP_PUBLIC_KEY, or fetch it from there with AMENDS_ZENDESK_APP_ID (AppKeySource,
below). See
https://developer.zendesk.com/documentation/apps/build-an-app/building-a-server-side-app/part-5-secure-the-app/
What we check, and nothing is trusted before the signature is:

- `alg` RS256 only. `none` and HS256 are refused from the header, before any key is touched
  (HS256 "signed" with the public key as an HMAC secret is the classic key-confusion forgery).
- signature: the app's public key.
- `exp` required and in the future (LEEWAY_SECONDS of clock skew).
- `iss`: the account's host, `acme.zendesk.com` (also accepted as `https://acme.zendesk.com`);
  it names the account, which must be one this deployment serves.
- `aud`: the app installation's API URL,
  `https://acme.zendesk.com/api/v2/apps/installations/<id>.json`, on that same account.

The token does not name a ticket: the page asks the ZAF client for `ticket.id`, and every
lookup for it is made inside the account the token named.

**Our sidebar token** (itsdangerous, signed with AMENDS_SECRET_KEY, one hour). Not a cookie:
the page lives in an iframe on *.zendesk.com, so a cookie of ours is a third-party cookie,
which Safari blocks outright and Chrome and Firefox partition or block depending on the
agent's settings; and a SameSite=None cookie would also ride along on an attacker's cross-site
requests. The token is written into the page and sent back by our own script in the
X-Amends-Sidebar header: it works in every browser, and a page on another site can neither
read it nor make a browser send it, so the sidebar's requests need no CSRF token.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from plugin.errors import AmendsError

log = logging.getLogger(__name__)

HEADER = "X-Amends-Sidebar"
SESSION_SECONDS = 3600
LEEWAY_SECONDS = 30
_SALT = "amends.sidebar.v1"
_ISSUER = re.compile(r"^(?:https://)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.zendesk\.com/?$")
_AUDIENCE = re.compile(r"^https://([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.zendesk\.com"
                       r"/api/v2/apps/installations/(\d{1,20})\.json$")


class SidebarRefused(AmendsError):
    """No valid token: the reason is safe to show (it never repeats a secret). `kind` is
    "signature" when the token's signature does not match the key (maybe a rotated key)."""

    def __init__(self, reason: str, kind: str = ""):
        super().__init__(reason)
        self.reason, self.kind = reason, kind


class KeyUnavailable(AmendsError):
    """The app's public key could not be fetched, so no token can be checked (503, not 401:
    the agent did nothing wrong). The reason is safe to show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SidebarSession:
    helpdesk: str
    account: str
    installation_id: str


# --- the app's public key ----------------------------------------------------------

def load_public_key(value: str) -> Any:
    """PEM text (real newlines, or `\\n` as environment variables often carry them) or the
    path of a PEM file -> an RSA public key. ValueError says what is wrong with it."""
    text = value.strip()
    if not text.startswith("-----BEGIN"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError(f"is neither PEM text (-----BEGIN PUBLIC KEY-----...) nor an existing file: {text[:80]!r}")
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"file {str(path)!r} cannot be read as PEM text ({exc.__class__.__name__})") from None
    return _parse_pem(text.replace("\\n", "\n"))


@lru_cache(maxsize=8)
def _parse_pem(pem: str) -> Any:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeEncodeError):
        raise ValueError("is not a PEM public key (expected -----BEGIN PUBLIC KEY----- ...)") from None
    if not isinstance(key, RSAPublicKey):
        raise ValueError("must be an RSA public key: Zendesk signs app tokens with RS256")
    return key


# --- Zendesk's signed-URL token --------------------------------------------------------

def verify_zendesk_token(token: str | None, public_key: Any, serves: Callable[[str], bool]) -> SidebarSession:
    """The session a Zendesk signed-URL token opens; SidebarRefused says why not. `public_key`
    is the key or a function returning it, called only for a token whose header says RS256,
    so a request without a token never makes us fetch a key."""
    import jwt

    if not token:
        raise SidebarRefused("no token: Zendesk sends one when it loads the Amends app in a ticket")
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        raise SidebarRefused("the token is not a JSON Web Token") from None
    if algorithm != "RS256":
        raise SidebarRefused(f"the token is signed with {_short(algorithm)}; only RS256 is accepted")
    if callable(public_key):
        public_key = public_key()
    try:
        # iss and aud are checked below, as patterns on the account; sub and jti say nothing we
        # use, and PyJWT's type checks on them must not refuse a token Zendesk shapes differently.
        claims = jwt.decode(token, public_key, algorithms=["RS256"], leeway=LEEWAY_SECONDS,
                            options={"require": ["exp", "iss", "aud"], "verify_aud": False, "verify_iss": False,
                                     "verify_sub": False, "verify_jti": False})
    except jwt.ExpiredSignatureError:
        raise SidebarRefused("the token has expired: reload the app in Zendesk") from None
    except jwt.InvalidSignatureError:
        raise SidebarRefused("the token's signature does not match the app's public key", "signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise SidebarRefused(f"the token has no {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:
        raise SidebarRefused(f"the token is not valid ({exc.__class__.__name__})") from None

    issuer = claims["iss"]
    found = _ISSUER.match(issuer) if isinstance(issuer, str) else None
    if not found:
        raise SidebarRefused(f"the token's issuer {_short(issuer)} is not a Zendesk account")
    account = found.group(1)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    installation = next((m.group(2) for m in (_AUDIENCE.match(a) for a in audiences if isinstance(a, str))
                         if m and m.group(1) == account), None)
    if installation is None:
        raise SidebarRefused(f"the token's audience {_short(claims['aud'])} is not an app installation "
                             f"on {account}.zendesk.com")
    if not serves(account):
        raise SidebarRefused(f"this Amends server does not serve the Zendesk account {account!r}")
    return SidebarSession("zendesk", account, installation)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- the app's public key, fetched from Zendesk -----------------------------------------------

class AppKeySource:
    """The app's public key fetched once per process (AMENDS_ZENDESK_APP_ID), shared by threads.

    `fetch()` returns PEM text or raises KeyUnavailable. The first load that needs the key
    fetches it under a lock, so concurrent first loads make one request. After that:
    - a token whose signature does not match may mean Zendesk rotated the app's key:
      `refetch()` asks again, at most once every REFETCH_SECONDS (forged tokens cannot make us
      hammer Zendesk), and keeps the old key if the new fetch fails;
    - while no key was ever fetched, a failure is remembered for RETRY_SECONDS, so an outage
      or a wrong app id does not send one request to Zendesk per page load.
    """

    REFETCH_SECONDS = 300.0
    RETRY_SECONDS = 30.0

    def __init__(self, fetch: Callable[[], str], clock: Callable[[], float] = time.monotonic):
        self._fetch, self._clock = fetch, clock
        self._lock = threading.Lock()
        self._key: Any = None
        self._tried_at: float | None = None  # last fetch attempt, successful or not
        self._failure: KeyUnavailable | None = None
        self.fetches = 0

    def key(self) -> Any:
        """The cached key, fetched on first need; KeyUnavailable when there is none."""
        with self._lock:
            if self._key is None:
                if self._failure is not None and self._clock() - self._tried_at < self.RETRY_SECONDS:
                    raise self._failure
                self._key = self._load()
            return self._key

    def refetch(self) -> bool:
        """After a signature mismatch: fetch again unless fetched recently. True when the key
        changed (the token is worth checking once more)."""
        with self._lock:
            if self._key is None or self._clock() - self._tried_at < self.REFETCH_SECONDS:
                return False
            try:
                fresh = self._load()
            except KeyUnavailable:
                return False  # what we had is still the best guess
            changed, self._key = fresh.public_numbers() != self._key.public_numbers(), fresh
            return changed

    def _load(self) -> Any:
        """Fetch and parse (lock held)."""
        self._tried_at, self.fetches = self._clock(), self.fetches + 1
        try:
            pem = self._fetch()
            try:
                key = _parse_pem(pem.strip())
            except ValueError as exc:
                raise KeyUnavailable(f"Zendesk's answer for the app's public key {exc}") from None
        except KeyUnavailable as exc:
            self._failure = exc
            raise
        self._failure = None
        return key


def fetch_app_key_pem(connector: Any, app_id: str) -> str:
    """The app's PEM from Zendesk through the Zendesk connector (environment credentials or the
    console's OAuth connection, and its error mapping); KeyUnavailable with a reason the page can
    show. The log gets the connector's reason: status and Zendesk's short answer, no credential."""
    from plugin.errors import AuthError, HelpdeskError, NotFound, RetryableError

    if not connector.account:  # AMENDS_ZENDESK_SUBDOMAIN, else the account connected in the console
        raise KeyUnavailable("Amends is not connected to a Zendesk account, so it cannot fetch the app's public "
                             "key: connect Zendesk in the admin console, or set AMENDS_ZENDESK_APP_PUBLIC_KEY.")
    try:
        pem = connector.fetch_app_public_key(app_id)
    except HelpdeskError as exc:
        log.warning("sidebar: fetching the public key of Zendesk app %s failed: %s", app_id, exc.reason)
        if isinstance(exc, NotFound):
            reason = (f"Zendesk has no app {app_id} on this account, so Amends cannot fetch its public key: check "
                      "AMENDS_ZENDESK_APP_ID (Admin Center > Apps and integrations > Zendesk Support apps).")
        elif isinstance(exc, AuthError):
            reason = ("Zendesk refused Amends' credentials when it asked for the app's public key: check the "
                      "Zendesk connection on the Amends server.")
        elif isinstance(exc, RetryableError):
            reason = "Zendesk did not answer when Amends asked for the app's public key: reload the app in a minute."
        else:
            reason = f"Zendesk would not give Amends the app's public key (HTTP {exc.status or 'error'})."
        raise KeyUnavailable(reason) from None
    log.info("sidebar: fetched the public key of Zendesk app %s", app_id)
    return pem


# --- our sidebar token -----------------------------------------------------------------

def _serializer(secret_key: str):
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def issue(secret_key: str, session: SidebarSession) -> str:
    return _serializer(secret_key).dumps({"h": session.helpdesk, "a": session.account, "i": session.installation_id})


def read(secret_key: str, token: str | None, max_age: int = SESSION_SECONDS) -> SidebarSession:
    """The session a sidebar token stands for, if we signed it less than `max_age` seconds ago."""
    from itsdangerous import BadSignature, SignatureExpired

    if not secret_key:
        raise SidebarRefused("the sidebar is off: AMENDS_SECRET_KEY is not set")
    if not token:
        raise SidebarRefused(f"no sidebar token ({HEADER} header)")
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired:
        raise SidebarRefused("the sidebar session has ended (it lasts an hour): reload the app") from None
    except BadSignature:
        raise SidebarRefused("the sidebar token is not valid") from None
    return SidebarSession(str(data["h"]), str(data["a"]), str(data["i"]))
