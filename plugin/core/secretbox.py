"""Encryption at rest for connection secrets (OAuth tokens, client secret, webhook signing secret).

The key is derived from AMENDS_SECRET_KEY, so nothing else has to be kept safe:
HKDF-SHA256 (RFC 5869) over the UTF-8 bytes of the secret key, with the fixed
`SALT` and `INFO` below, gives 32 bytes that become a Fernet key (AES-128-CBC +
HMAC-SHA256, with a timestamp and a random IV per value:
https://github.com/fernet/spec/blob/master/Spec.md). The salt and info are
constants on purpose: every process must derive the same key from the same
secret, and a different `INFO` keeps this key apart from any other use of the
secret key (Flask signs cookies with it directly).

Encrypted values are text, `fernet1:<token>`, so they sit in the JSON of the
`connections` table. Changing AMENDS_SECRET_KEY makes them undecryptable:
`decrypt` then raises `SecretKeyChanged`, whose message says to connect Zendesk
again from the console.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from plugin.errors import AmendsError

# Fixed derivation parameters: changing either makes every stored secret unreadable.
SALT = b"amends.secretbox.salt.v1"
INFO = b"amends connection secrets at rest (fernet key) v1"
PREFIX = "fernet1:"


class SecretBoxError(AmendsError):
    """A stored secret cannot be used; the message says what to do."""


class NoSecretKey(SecretBoxError):
    """AMENDS_SECRET_KEY is empty, so nothing can be encrypted or decrypted."""


class SecretKeyChanged(SecretBoxError):
    """The value was encrypted under another AMENDS_SECRET_KEY (or was tampered with)."""


def derive_key(secret_key: str) -> bytes:
    """The Fernet key (urlsafe base64 of 32 bytes) for this secret key."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=INFO).derive(secret_key.encode("utf-8"))
    return base64.urlsafe_b64encode(raw)


class SecretBox:
    """Encrypt and decrypt short strings with the key derived from one secret key."""

    def __init__(self, secret_key: str):
        if not secret_key:
            raise NoSecretKey("AMENDS_SECRET_KEY is not set: stored Zendesk credentials cannot be read or written")
        self._fernet = Fernet(derive_key(secret_key))

    def encrypt(self, plaintext: str) -> str:
        return PREFIX + self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, value: str) -> str:
        if not is_encrypted(value):
            raise SecretBoxError("the stored value is not an encrypted secret (expected the fernet1: prefix)")
        try:
            return self._fernet.decrypt(value[len(PREFIX):].encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            raise SecretKeyChanged(
                "a stored Zendesk credential was encrypted with a different AMENDS_SECRET_KEY and cannot be "
                "read: connect Zendesk again on /admin/connect (and press \"Set up Zendesk for me\" again)"
            ) from None


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)
