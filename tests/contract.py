"""Check HTTP requests sent to Zendesk against Zendesk's own OpenAPI description.

The contract is ``tests/fixtures/zendesk/openapi-subset.json``: an unmodified extract of
Zendesk's published Support API document (see ``tests/fixtures/zendesk/README.md`` and
``../shared/contracts/README.md``).

``validate_request(method, path, body)`` returns human-readable violations (empty list = OK):

* the path (a trailing ``.json`` is ignored, so is a ``?query``) must match an operation of
  the contract, and path parameters typed ``integer`` must be digits;
* a JSON body is validated against the operation's ``requestBody`` schema with
  ``openapi_schema_validator.OAS30WriteValidator`` (honours ``nullable``, rejects
  ``readOnly`` properties, checks formats such as ``date-time``);
* our own strictness rule: an object key that the schema does not declare in its
  ``properties`` is a violation (Zendesk's schemas never set ``additionalProperties: false``,
  so a misspelt ``bdy`` would otherwise pass);
* operations that declare no body but take one (``PUT .../tags``, ``POST /oauth/tokens``)
  are checked against the field lists in their descriptions.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterator

from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker
from referencing import Registry
from referencing.jsonschema import DRAFT4

SPEC_PATH = Path(__file__).resolve().parent / "fixtures" / "zendesk" / "openapi-subset.json"
SPEC_URI = "urn:amends:zendesk-support-oas-subset"
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


@functools.cache
def load_spec() -> dict:
    """The contract document (loaded once per process)."""
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


# --- path matching -----------------------------------------------------------------------


@functools.cache
def _routes() -> list[tuple[re.Pattern[str], str, dict]]:
    """(regex, template, path item) for every path, literal-heavy templates first."""
    routes = []
    for template, item in load_spec()["paths"].items():
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        routes.append((re.compile(f"^{pattern}$"), template, item))
    routes.sort(key=lambda route: (route[1].count("{"), route[1]))
    return routes


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"non-local $ref {ref!r}")
        node = load_spec()
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def _path_param_errors(template: str, item: dict, operation: dict, values: dict[str, str]) -> list[str]:
    declared = {}
    for param in [*item.get("parameters", []), *operation.get("parameters", [])]:
        param = _resolve(param)
        if param.get("in") == "path":
            declared[param["name"]] = param.get("schema", {})
    errors = []
    for name, value in values.items():
        if declared.get(name, {}).get("type") == "integer" and not (value.isascii() and value.isdigit()):
            errors.append(f"path parameter {name}={value!r} must be an integer ({template})")
    return errors


def _match(method: str, path: str) -> tuple[dict | None, list[str]]:
    """(operation, violations) for ``method path``; ``operation`` is None when nothing matched."""
    candidates = [(rx.match(path), template, item) for rx, template, item in _routes()]
    candidates = [(m, t, i) for m, t, i in candidates if m]
    if not candidates:
        return None, ["no such path in Zendesk's Support API contract"]
    problems: list[list[str]] = []
    for found, template, item in candidates:
        operation = item.get(method)
        if operation is None:
            allowed = ", ".join(m.upper() for m in HTTP_METHODS if m in item)
            problems.append([f"method not in the contract for {template} (allowed: {allowed})"])
            continue
        errors = _path_param_errors(template, item, operation, found.groupdict())
        if not errors:
            return operation, []
        problems.append(errors)
    return None, problems[0]  # what is wrong with the most specific matching template


# --- request bodies ------------------------------------------------------------------------


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, DRAFT4.create_resource(load_spec()))


def _absolute_refs(node: Any) -> Any:
    """A copy of ``node`` whose local ``#/...`` references point into the registered document."""
    if isinstance(node, dict):
        return {k: SPEC_URI + v if k == "$ref" and str(v).startswith("#") else _absolute_refs(v)
                for k, v in node.items()}
    return [_absolute_refs(v) for v in node] if isinstance(node, list) else node


@functools.cache
def _validator(schema_json: str) -> OAS30WriteValidator:
    schema = _absolute_refs(json.loads(schema_json))
    return OAS30WriteValidator(schema, registry=_registry(), format_checker=oas30_format_checker)


def _where(parts) -> str:
    text = "body"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _schema_errors(schema: dict, value: Any, parts: tuple = ()) -> list[str]:
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{_where(parts + tuple(e.absolute_path))}: {e.message}" for e in errors]


def _flatten(schema: Any) -> Iterator[dict]:
    """The schema and its allOf/anyOf/oneOf members (resolved, recursively)."""
    schema = _resolve(schema)
    if not isinstance(schema, dict):
        return
    yield schema
    for keyword in ("allOf", "anyOf", "oneOf"):
        for member in schema.get(keyword, []):
            yield from _flatten(member)


def _unknown_key_errors(schema: Any, value: Any, parts: tuple = ()) -> list[str]:
    """Keys absent from the declared ``properties`` (our strictness rule), recursively."""
    parts_schemas = list(_flatten(schema))
    errors: list[str] = []
    if isinstance(value, dict):
        declared: dict[str, list] = {}
        for part in parts_schemas:
            for name, sub in part.get("properties", {}).items():
                declared.setdefault(name, []).append(sub)
        open_ended = any(part.get("additionalProperties") not in (None, False) for part in parts_schemas)
        for key, item in value.items():
            if key in declared:
                for sub in declared[key]:
                    errors += _unknown_key_errors(sub, item, parts + (key,))
            elif declared and not open_ended:
                hint = difflib.get_close_matches(key, declared, n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                errors.append(f"{_where(parts + (key,))}: unknown key {key!r}, not declared in the schema{suggestion}")
    elif isinstance(value, list):
        for part in parts_schemas:
            if "items" in part:
                for index, item in enumerate(value):
                    errors += _unknown_key_errors(part["items"], item, parts + (index,))
    return errors


# Operations whose body is only described in prose. Field lists: ../shared/contracts/README.md.
TAGS_FIELDS = ("tags", "updated_stamp", "safe_update")
OAUTH_STRING_FIELDS = ("grant_type", "code", "client_id", "client_secret", "redirect_uri", "scope",
                       "refresh_token", "code_verifier")
OAUTH_INTEGER_FIELDS = {"expires_in": (300, 172_800), "refresh_token_expires_in": (604_800, 7_776_000)}


def _is_timestamp(value: Any) -> bool:
    return isinstance(value, str) and oas30_format_checker.conforms(value, "date-time")


def _check_tags_body(body: Any) -> list[str]:
    """PUT /api/v2/tickets/{ticket_id}/tags: {"tags": [str], "updated_stamp"?, "safe_update"?}."""
    if not isinstance(body, dict):
        return [f"body: must be a JSON object like {{\"tags\": [...]}}, got {type(body).__name__}"]
    errors = [f"body.{key}: unknown key {key!r} (allowed: {', '.join(TAGS_FIELDS)})" for key in body if key not in TAGS_FIELDS]
    tags = body.get("tags")
    if not isinstance(tags, list) or not all(isinstance(tag, str) and tag for tag in tags):
        errors.append(f"body.tags: must be a list of non-empty strings, got {tags!r}")
    if "updated_stamp" in body and not _is_timestamp(body["updated_stamp"]):
        errors.append(f"body.updated_stamp: must be an ISO 8601 date-time string, got {body['updated_stamp']!r}")
    safe = body.get("safe_update", False)
    if safe not in (True, False, "true", "false"):
        errors.append(f"body.safe_update: must be true/false (or \"true\"/\"false\" as in Zendesk's example), got {safe!r}")
    if safe in (True, "true") and "updated_stamp" not in body:
        errors.append("body.updated_stamp: required when safe_update is true")
    return errors


def _check_oauth_body(body: Any) -> list[str]:
    """POST /oauth/tokens: the parameters listed in CreateTokenForGrantType's description."""
    if not isinstance(body, dict):
        return [f"body: must be a JSON object, got {type(body).__name__}"]
    allowed = (*OAUTH_STRING_FIELDS, *OAUTH_INTEGER_FIELDS)
    errors = [f"body.{key}: unknown key {key!r} (allowed: {', '.join(allowed)})" for key in body if key not in allowed]
    errors += [f"body.{key}: must be a string" for key in OAUTH_STRING_FIELDS if key in body and not isinstance(body[key], str)]
    for key, (low, high) in OAUTH_INTEGER_FIELDS.items():
        value = body.get(key)
        if key in body and (type(value) is not int or not low <= value <= high):
            errors.append(f"body.{key}: must be an integer between {low} and {high}, got {value!r}")
    grant = body.get("grant_type")
    required = {"authorization_code": ("code", "client_id"), "refresh_token": ("refresh_token", "client_id")}
    if grant not in required:
        errors.append(f"body.grant_type: must be 'authorization_code' or 'refresh_token', got {grant!r}")
    else:
        errors += [f"body.{key}: required for grant_type {grant!r}" for key in required[grant] if key not in body]
    return errors


PROSE_BODY_CHECKS: dict[str, Callable[[Any], list[str]]] = {
    "PutTagsTicket": _check_tags_body,
    "CreateTokenForGrantType": _check_oauth_body,
}


# Known mistakes in Zendesk's document, each checked with the right schema from the same document.
ERRATA: dict[tuple[str, tuple[str, ...]], dict] = {
    # TicketUpdateInput.custom_fields items are CustomFieldObject, the ticket-field *definition*
    # (key/type/title required, id read-only, no "value"), so Zendesk's documented
    # [{"id": 27642, "value": "745"}] would fail. TicketObject.custom_fields has the documented shape.
    ("UpdateTicket", ("ticket", "custom_fields")): {"$ref": "#/components/schemas/TicketObject/properties/custom_fields"},
}


def _split_errata(operation_id: str, body: Any) -> tuple[Any, list[tuple[tuple, Any, dict]]]:
    """Body without the parts covered by ERRATA, and those parts with their corrected schemas."""
    fixed = []
    for (op_id, parts), schema in ERRATA.items():
        parent = body
        for part in parts[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if op_id == operation_id and isinstance(parent, dict) and parts[-1] in parent:
            body = copy.deepcopy(body)
            parent = functools.reduce(lambda node, part: node[part], parts[:-1], body)
            fixed.append((parts, parent.pop(parts[-1]), schema))
    return body, fixed


def _body_errors(operation: dict, body: Any) -> list[str]:
    operation_id = operation.get("operationId", "")
    check = PROSE_BODY_CHECKS.get(operation_id)
    if check is not None:
        return check(body)
    request_body = _resolve(operation.get("requestBody"))
    if request_body is None:
        return [] if body is None else ["this operation takes no request body"]
    if body is None:
        return ["request body is required"] if request_body.get("required") else []
    schema = request_body.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return ["the contract declares no application/json body for this operation"]
    body, fixed = _split_errata(operation_id, body)
    errors = _schema_errors(schema, body) + _unknown_key_errors(schema, body)
    for parts, value, fixed_schema in fixed:
        errors += _schema_errors(fixed_schema, value, parts) + _unknown_key_errors(fixed_schema, value, parts)
    return errors


def validate_request(method: str, path: str, body: dict | None) -> list[str]:
    """Contract violations of one request to Zendesk; each message starts with ``METHOD path``."""
    label = f"{method.upper()} {path}"
    bare = path.split("?", 1)[0]
    bare = bare[: -len(".json")] if bare.endswith(".json") else bare
    operation, errors = _match(method.lower(), bare)
    if operation is not None:
        errors = _body_errors(operation, body)
    return [f"{label}: {error}" for error in errors]
