"""Who may use the agents' sidebar: Zendesk's signed-URL token, checked once, then our own
short-lived sidebar token for the page's later requests. Pure: no Flask, no database.

**Zendesk's token.** An app whose manifest has `signedUrls: true` gets, on its first load, a
POST with a form field `token`: a JWT signed RS256 with a private key Zendesk keeps for the
app. The app's public key is served at `GET /api/v2/apps/{app_id}/public_key.pem` (we take it
from AMENDS_ZENDESK_APP_PUBLIC_KEY). See
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

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from plugin.errors import AmendsError

HEADER = "X-Amends-Sidebar"
SESSION_SECONDS = 3600
LEEWAY_SECONDS = 30
_SALT = "amends.sidebar.v1"
_ISSUER = re.compile(r"^(?:https://)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.zendesk\.com/?$")
_AUDIENCE = re.compile(r"^https://([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.zendesk\.com"
                       r"/api/v2/apps/installations/(\d{1,20})\.json$")


class SidebarRefused(AmendsError):
    """No valid token: the reason is safe to show (it never repeats a secret)."""

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
    """The session a Zendesk signed-URL token opens; SidebarRefused says why not."""
    import jwt

    if not token:
        raise SidebarRefused("no token: Zendesk sends one when it loads the Amends app in a ticket")
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        raise SidebarRefused("the token is not a JSON Web Token") from None
    if algorithm != "RS256":
        raise SidebarRefused(f"the token is signed with {_short(algorithm)}; only RS256 is accepted")
    try:
        # iss and aud are checked below, as patterns on the account; sub and jti say nothing we
        # use, and PyJWT's type checks on them must not refuse a token Zendesk shapes differently.
        claims = jwt.decode(token, public_key, algorithms=["RS256"], leeway=LEEWAY_SECONDS,
                            options={"require": ["exp", "iss", "aud"], "verify_aud": False, "verify_iss": False,
                                     "verify_sub": False, "verify_jti": False})
    except jwt.ExpiredSignatureError:
        raise SidebarRefused("the token has expired: reload the app in Zendesk") from None
    except jwt.InvalidSignatureError:
        raise SidebarRefused("the token's signature does not match the app's public key") from None
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
