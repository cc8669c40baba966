"""What Amends accepts from outside, in one place: helpdesk ids, account and helpdesk names,
delivery ids, and JSON request bodies. Pure (no Flask, no database).

Each check refuses with a ValueError whose message is safe to send back; the webhook view, the
feedback API and the sidebar answer 4xx with it and store nothing. The limits are those of the
narrowest database we run on (PostgreSQL refuses what does not fit a column, SQLite stores it),
so a request is refused the same way on both.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Zendesk ids are 64-bit integers (at most 19 digits); every id column holds 64 characters.
MAX_ID_DIGITS = 20
# Zendesk's bodies nest 4 or 5 levels. Python's json recurses per level, and so does str() of
# what it returns: a body 20k levels deep would end in RecursionError, a 500.
MAX_JSON_DEPTH = 32
MAX_EMAIL = 254  # RFC 5321; the requester's email becomes suggestions.requester_key, String(255)

# [0-9], never \d or str.isdigit(): those also take "²" and Arabic-Indic digits ("١٢٣٤" → 1234).
_ID = re.compile(rf"[0-9]{{1,{MAX_ID_DIGITS}}}")
# A Zendesk subdomain (as AMENDS_ZENDESK_SUBDOMAIN and the sidebar's token issuer): also what
# may appear in a file name, as the account's model file is named after it.
_ACCOUNT = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HELPDESK = re.compile(r"[a-z][a-z0-9_]{0,31}")  # a connector's slug; helpdesk columns are String(32)
_SOURCE = re.compile(r"[a-z][a-z0-9_]{0,31}")  # feedback.source, String(32)
# Webhook invocation and event ids (Zendesk: digits, ULIDs, UUIDs); a delivery key column is
# String(255), the longest prefix 11 characters.
_DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# No database stores U+0000 in text (PostgreSQL refuses it), nor an unpaired surrogate in UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

ACCOUNT_RULE = "lowercase letters, digits and hyphens, 1 to 63 characters"


def helpdesk_id(value: Any, what: str = "ticket id") -> str:
    """A positive id from a JSON number or a string of ASCII digits, as canonical digits
    (no leading zeros). Refuses booleans (JSON true is not a number), fractions, signs, other
    scripts' digits, and anything longer than MAX_ID_DIGITS."""
    if isinstance(value, int) and not isinstance(value, bool):
        # Range first: str() of an int past 4300 digits raises.
        value = str(value) if 0 < value < 10 ** MAX_ID_DIGITS else ""
    text = value.strip() if isinstance(value, str) else ""
    if not _ID.fullmatch(text) or not text.strip("0"):
        shown = repr(value[:40]) if isinstance(value, str) else type(value).__name__
        raise ValueError(f"{what} must be a positive integer of at most {MAX_ID_DIGITS} digits (0-9), got {shown}")
    return text.lstrip("0")


def is_account(value: Any) -> bool:
    return isinstance(value, str) and _ACCOUNT.fullmatch(value) is not None


def is_helpdesk(value: Any) -> bool:
    return isinstance(value, str) and _HELPDESK.fullmatch(value) is not None


def is_source(value: Any) -> bool:
    return isinstance(value, str) and _SOURCE.fullmatch(value) is not None


def delivery_id(value: Any, what: str) -> str:
    """A webhook's invocation or event id, as text: letters, digits and . _ : -, 1 to 128."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value) if 0 <= value < 10 ** MAX_ID_DIGITS else ""
    text = value.strip() if isinstance(value, str) else ""
    if not _DELIVERY_ID.fullmatch(text):
        raise ValueError(f"{what} must be 1 to 128 letters, digits or . _ : - characters")
    return text


def email(value: str, what: str = "email") -> str:
    if len(value) > MAX_EMAIL:
        raise ValueError(f"{what} is longer than {MAX_EMAIL} characters")
    return value


def load_json(raw: bytes | str) -> Any:
    """json.loads for a request body, refusing with a reason: not UTF-8, not JSON, a number past
    Python's 4300-digit limit, nesting past MAX_JSON_DEPTH, or a string no database stores."""
    try:
        data = json.loads(raw)
    except RecursionError:  # nested past the interpreter's limit: far past ours
        raise ValueError(f"body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer's digit limit
        raise ValueError(f"body is not valid JSON: {str(exc)[:200]}") from None
    _check_parsed(data)
    return data


def load_json_object(raw: bytes | str) -> dict[str, Any]:
    data = load_json(raw)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _check_parsed(data: Any) -> None:
    """Depth and storable strings, walked with a stack of our own (no recursion)."""
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_storable(node)
            continue
        if not isinstance(node, (dict, list)):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise ValueError(f"body is nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, dict):
            for key in node:
                _check_storable(key)
            node = node.values()
        stack.extend((child, depth + 1) for child in node if isinstance(child, (str, dict, list)))


def _check_storable(text: str) -> None:
    if _UNSTORABLE.search(text):
        raise ValueError("body has a string with U+0000 or an unpaired surrogate, which no database stores")
