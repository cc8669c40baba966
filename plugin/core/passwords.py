"""Admin passwords, hashed with scrypt (memory-hard, in the standard library).

A hash is stored as one self-describing string, `scrypt$N$r$p$salt$key` (salt and key in
base64), so the cost can be raised later without breaking the hashes already stored: each is
checked with the parameters it was made with.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
# 2**14 blocks of 128 * r bytes: 16 MiB of memory per hash, about 50 ms on one core.
COST_N, BLOCK_R, PARALLEL_P = 2**14, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
# Enough for the cost above with room to raise it; a stored hash asking for more is refused,
# so a tampered row cannot make a sign-in eat the machine's memory.
MAX_MEMORY = 128 * 1024 * 1024
MIN_LENGTH = 12
MAX_LENGTH = 1024


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None when it will do."""
    if not password:
        return "the password is empty"
    if len(password) < MIN_LENGTH:
        return f"the password is shorter than {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password is longer than {MAX_LENGTH} characters"
    return None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY, dklen=KEY_BYTES)


def hash_password(password: str, *, n: int = COST_N, r: int = BLOCK_R, p: int = PARALLEL_P) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    return "$".join((SCHEME, str(n), str(r), str(p), _b64(salt), _b64(_derive(password, salt, n, r, p))))


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt, key = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    power_of_two = n > 1 and n & (n - 1) == 0
    if not power_of_two or not 1 <= r <= 64 or not 1 <= p <= 16 or 128 * r * (n + p + 2) > MAX_MEMORY:
        return None
    if not salt or not key:
        return None
    return n, r, p, salt, key


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from; compared in constant time."""
    parsed = _parse(stored)
    if parsed is None or len(password) > MAX_LENGTH:
        _derive(password[:MAX_LENGTH], b"\0" * SALT_BYTES, COST_N, BLOCK_R, PARALLEL_P)  # the same work
        return False
    n, r, p, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, n, r, p), key)


@functools.cache
def _dummy_hash() -> str:
    # Random salt and key: shaped like a real hash, matched by no password, made without any work
    # (so the first unknown name costs no more than the next).
    salt, key = secrets.token_bytes(SALT_BYTES), secrets.token_bytes(KEY_BYTES)
    return "$".join((SCHEME, str(COST_N), str(BLOCK_R), str(PARALLEL_P), _b64(salt), _b64(key)))


def dummy_verify(password: str) -> bool:
    """Do the work of one verification and fail: for a name that does not exist, so the time a
    sign-in takes does not tell which names do."""
    verify_password(password, _dummy_hash())
    return False
