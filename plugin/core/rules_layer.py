"""Applying one layer of rules (a YAML document's data) over the rules below it, validating
every field on the way: each error names the key path and, when the parser gave them, the
line. The format is described in plugin/core/rules.py; letters are checked by rendering them in
the sandbox (plugin/core/letters.py: check_template)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from plugin.core.budget import DOCUMENT_STEPS, Budget, metered
from plugin.core.letters import check_template, is_letter
from plugin.core.paths import TEMPLATES_DIR
from plugin.core.rules import (
    AUDIENCES,
    CATEGORIES,
    CUSTOM_ID,
    DEFAULT_PHRASE_WEIGHT,
    FORMAT,
    GENERAL_LETTER,
    KIND,
    LETTER_AUDIENCES,
    MAX_PHRASE_WEIGHT,
    MAX_TEMPLATE_CHARS,
    NO_FAULT_BY_DEFAULT,
    TAG,
    TONES,
    CategoryRule,
    Compensation,
    Incident,
    Rules,
    RulesError,
    default_rules,
    is_custom,
)
from plugin.core.rules_document import parse
from plugin.errors import ConfigError
from plugin.models import ASK_KINDS


def load_rules(path: str | Path | None) -> Rules:
    """The shipped defaults, overridden by the YAML file when one is configured."""
    if not path:
        return default_rules()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"AMENDS_RULES_FILE {path}: {exc}") from None
    return loads(text, default_rules(), source=str(path))


def loads(text: str, base: Rules, source: str = "rules") -> Rules:
    """`base` with the YAML document `text` applied over it; RulesError names the line."""
    data, lines = parse(text, source)
    return apply(base, data, source, lines)


def apply(rules: Rules, data: Any, source: str = "rules", lines: dict | None = None) -> Rules:
    """`rules` with one layer (a document's data) applied. `lines` (key path -> line, from
    plugin.core.rules_document.parse) lets errors name the line."""
    ctx = _Ctx(source, lines or {})
    data = {} if data is None else data
    if not isinstance(data, dict):
        ctx.fail((), "the top level must be a mapping with categories and incidents")
    unknown = sorted(str(k) for k in data if k not in ("format", "categories", "commitments", "incidents"))
    if unknown:
        ctx.fail((unknown[0],), f"unknown key(s) {', '.join(unknown)}; expected format, categories, commitments, "
                                "incidents")
    if data.get("format", FORMAT) != FORMAT:
        ctx.fail(("format",), f"unsupported format {data['format']!r}; this version reads format {FORMAT}")
    raw_categories = data.get("categories") or {}
    if not isinstance(raw_categories, dict):
        ctx.fail(("categories",), "must be a mapping of category id to rule")
    categories = dict(rules.categories)
    changed_templates = []
    for name, raw in raw_categories.items():
        path = ("categories", str(name))
        if name == "other":
            ctx.fail(path, "'other' means no apology; it takes no rule")
        if name == GENERAL_LETTER:
            ctx.fail(path, "'general' is the letter for a complaint whose category is unclear; it takes no rule")
        if not isinstance(name, str) or (name not in CATEGORIES and not CUSTOM_ID.match(name)):
            ctx.fail(path, "a category id is 2-40 lowercase letters, digits or _, starting with a letter")
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            ctx.fail(path, "must be a mapping")
        base = categories.get(name) or CategoryRule(no_fault=name in NO_FAULT_BY_DEFAULT)
        rule = _category_rule(base, raw, ctx, path)
        if is_custom(name):
            if not rule.label:
                ctx.fail(path, "a custom category needs a label")
            if not any(weight > 0 for _, weight in rule.phrases):
                ctx.fail(path + ("phrases",), "a custom category needs at least one phrase with a positive "
                                              "weight: the classifier recognises it by its phrases only")
        elif "label" in raw:
            ctx.fail(path + ("label",), "only custom categories take a label")
        categories[name] = rule
        if "template" in raw:
            changed_templates += [(name, audience, source_text) for audience, source_text in rule.template]
    incidents = rules.incidents
    if "incidents" in data:
        raw_incidents = data["incidents"] or []
        if not isinstance(raw_incidents, list):
            ctx.fail(("incidents",), "must be a list")
        incidents = tuple(_incident(raw, ctx, ("incidents", i), categories) for i, raw in enumerate(raw_incidents))
    commitments = _commitments(data["commitments"], ctx) if "commitments" in data else rules.commitments
    result = Rules(categories, incidents, commitments)
    _check_letters(ctx, changed_templates, result)
    return result


# Checking a letter compiles it and renders it 32 times (~20 ms, ~0.2 s at MAX_TEMPLATE_CHARS),
# so the letters one document may change are bounded too: 200 is all 17 categories' pairs and
# 80 custom ones; 500,000 characters are 25 letters at their limit, or 200 of 2,500.
MAX_LETTERS = 200
MAX_LETTERS_CHARS = 500_000


def _check_letters(ctx: _Ctx, letters: list[tuple[str, str, str]], rules: Rules) -> None:
    """Every letter this layer changes, checked within one document budget (DOCUMENT_STEPS)."""
    if len(letters) > MAX_LETTERS:
        ctx.fail(("categories",), f"changes {len(letters)} letters; a document changes at most {MAX_LETTERS}")
    size = sum(len(source_text) for _, _, source_text in letters)
    if size > MAX_LETTERS_CHARS:
        ctx.fail(("categories",), f"its letters have {size:,} characters in all; at most {MAX_LETTERS_CHARS:,}")
    with metered(Budget(steps=DOCUMENT_STEPS, seconds=math.inf, built=math.inf, scope=" for all the letters "
                        "in the document")):
        for name, audience, source_text in letters:
            _check_template(ctx, ("categories", name, "template", audience), source_text, name, audience, rules)


@dataclass
class _Ctx:
    source: str
    lines: dict

    def line(self, path: tuple) -> int | None:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def fail(self, path: tuple, message: str, line: int | None = None):
        raise RulesError(message, source=self.source, path=path, line=line or self.line(path))


def _category_rule(base: CategoryRule, raw: dict, ctx: _Ctx, path: tuple) -> CategoryRule:
    known = [f.name for f in fields(CategoryRule)]
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        ctx.fail(path + (unknown[0],), f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values = {key: _FIELD_PARSERS[key](value, ctx, path + (key,)) for key, value in raw.items()}
    return replace(base, **values)


def _bool(value: Any, ctx: _Ctx, path: tuple) -> bool:
    if not isinstance(value, bool):
        ctx.fail(path, "must be true or false")
    return value


def _choice(options: tuple[str, ...]):
    def parse(value: Any, ctx: _Ctx, path: tuple) -> str:
        if value not in options:
            ctx.fail(path, f"must be one of {', '.join(options)}")
        return value
    return parse


def _number(value: Any, ctx: _Ctx, path: tuple, low: float | None = 0.0, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(str(value))
        except ValueError:
            ctx.fail(path, "must be a number")
    value = float(value)
    if value != value or (low is not None and value < low) or (high is not None and value > high):
        ctx.fail(path, f"must be a number from {low:g} to {high:g}" if high is not None else "must not be negative")
    return value


def _text(value: Any, ctx: _Ctx, path: tuple, limit: int = 2000) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        ctx.fail(path, "must be text")
    text = str(value).replace("\r\n", "\n").strip()
    if len(text) > limit:
        ctx.fail(path, f"is {len(text)} characters; keep it under {limit}")
    return text


def _tags(value: Any, ctx: _Ctx, path: tuple) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        ctx.fail(path, "must be a list of tags, e.g. [shipping, vip]")
    for i, tag in enumerate(value):
        if not isinstance(tag, str) or not TAG.match(tag):
            ctx.fail(path + (i,), f"{tag!r} is not a Zendesk tag (letters, digits, _ - : . /; no spaces)")
    return tuple(dict.fromkeys(value))


def _phrases(value: Any, ctx: _Ctx, path: tuple) -> tuple[tuple[str, float], ...]:
    if value is None:
        return ()
    if isinstance(value, list):  # example phrases without weights
        value = {p: DEFAULT_PHRASE_WEIGHT for p in value} if all(isinstance(p, str) for p in value) else None
    if not isinstance(value, dict):
        ctx.fail(path, "must be a mapping of phrase to weight, e.g. {\"parcel is missing\": 2.0}")
    result: dict[str, float] = {}
    for phrase, weight in value.items():
        where = path + (str(phrase),)
        text = " ".join(str(phrase).lower().replace("’", "'").split())
        if not re.search(r"[a-z0-9]", text) or len(text) > 80:
            ctx.fail(where, "a phrase needs letters or digits, at most 80 characters")
        if text in result:
            ctx.fail(where, f"the phrase {text!r} is listed twice")
        weight = _number(DEFAULT_PHRASE_WEIGHT if weight is None else weight, ctx, where,
                         -MAX_PHRASE_WEIGHT, MAX_PHRASE_WEIGHT)
        if weight == 0:
            ctx.fail(where, "a weight of 0 does nothing: remove the phrase instead")
        result[text] = weight
    return tuple(sorted(result.items()))


def _template(value: Any, ctx: _Ctx, path: tuple) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # a shipped letter's file for both audiences (older rules files)
        if value not in _letter_files():
            ctx.fail(path, f"{value[:80]!r} is not a shipped letter; name one such as "
                           "apologies/en/damaged_item.customer.txt.j2")
        text = (TEMPLATES_DIR / value).read_text(encoding="utf-8")
        return tuple((a, text) for a in LETTER_AUDIENCES)
    if not isinstance(value, dict):
        ctx.fail(path, "must map an audience (customer, client) to the letter's template source")
    result = {}
    for audience, source_text in value.items():
        if audience not in LETTER_AUDIENCES:
            ctx.fail(path + (str(audience),), "the audience must be customer or client")
        if not isinstance(source_text, str) or not source_text.strip():
            ctx.fail(path + (audience,), "must be the letter's template source (text)")
        if len(source_text) > MAX_TEMPLATE_CHARS:
            ctx.fail(path + (audience,), f"is {len(source_text)} characters; a letter's template stays under "
                                         f"{MAX_TEMPLATE_CHARS}")
        result[audience] = source_text.replace("\r\n", "\n")
    return tuple(sorted(result.items()))


@lru_cache(maxsize=1)
def _letter_files() -> frozenset[str]:
    """The files `template:` may name: the letters under templates/apologies/<locale>/, never the
    shared frame (_base) and its partials nor the console's HTML. A name is looked up here, never
    joined to a path."""
    return frozenset(p.relative_to(TEMPLATES_DIR).as_posix() for p in (TEMPLATES_DIR / "apologies").glob("*/*.txt.j2")
                     if is_letter(p))


def _compensation(raw: Any, ctx: _Ctx, path: tuple) -> Compensation:
    if raw is None:
        return Compensation()
    known = [f.name for f in fields(Compensation)]
    if not isinstance(raw, dict):
        ctx.fail(path, f"expected a mapping with keys {', '.join(sorted(known))}")
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        ctx.fail(path + (unknown[0],), f"unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = path + (key,)
        if key in ("amount", "cap", "repeat_amount"):
            values[key] = None if value is None else _number(value, ctx, where)
        elif key == "in_letter":
            values[key] = _bool(value, ctx, where)
        else:
            values[key] = text = _text(value, ctx, where, 40)
            if key == "kind" and text and not KIND.match(text):
                ctx.fail(where, "a kind is lowercase words joined by _, e.g. refund_overcharge")
            if key == "currency" and " " in text:
                ctx.fail(where, "a currency is a code or symbol without spaces, e.g. EUR")
    return Compensation(**values)


_FIELD_PARSERS = {
    "enabled": _bool, "no_fault": _bool, "audience": _choice(AUDIENCES), "tone": _choice(TONES),
    "threshold": lambda v, ctx, path: _number(v, ctx, path, 0.0, 1.0), "tags": _tags,
    "remedy": _text, "prevention": _text, "label": lambda v, ctx, path: _text(v, ctx, path, 80),
    "compensation": _compensation, "phrases": _phrases, "template": _template,
}


MAX_COMMITMENT_CHARS = 300
_FUTURE = re.compile(r"\b(?:will|shall)\b|'ll\b|’ll\b", re.I)
_TEMPLATE_SYNTAX = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")


def _commitments(raw: Any, ctx: _Ctx) -> tuple[tuple[str, str], ...]:
    """Per ask kind, the one sentence agents may promise; it goes into letters word for word."""
    path = ("commitments",)
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        ctx.fail(path, "must map an ask kind to the sentence agents may promise, e.g. "
                       "{refund: I will refund the fee within 5 working days.}")
    result = {}
    for kind, value in raw.items():
        where = path + (str(kind),)
        if kind not in ASK_KINDS:
            ctx.fail(where, f"{str(kind)[:40]!r} is not an ask kind; known: {', '.join(ASK_KINDS)}")
        result[kind] = _commitment_text(value, ctx, where)
    return tuple(sorted(result.items()))


def _commitment_text(value: Any, ctx: _Ctx, path: tuple) -> str:
    text = _text(value, ctx, path, MAX_COMMITMENT_CHARS)
    if not re.search(r"[A-Za-z]", text):
        ctx.fail(path, "must be a sentence the letter can say, e.g. I will call you back within one working day.")
    if "\n" in text:
        ctx.fail(path, "must be one sentence on one line")
    if _TEMPLATE_SYNTAX.search(text):
        ctx.fail(path, "must be plain text: template syntax ({{ }}, {% %}, {# #}) is not filled in here")
    if not _FUTURE.search(text):
        ctx.fail(path, "is a promise, so say it in the future tense (I will ..., We'll ...)")
    return text


def _incident(raw: Any, ctx: _Ctx, path: tuple, categories: dict[str, CategoryRule]) -> Incident:
    if not isinstance(raw, dict) or not raw.get("category") or not raw.get("cause"):
        ctx.fail(path, "needs at least a category and a cause")
    unknown = sorted(str(k) for k in raw if k not in ("category", "cause", "remedy", "starts", "ends"))
    if unknown:
        ctx.fail(path + (unknown[0],), f"unknown key(s) {', '.join(unknown)}")
    incident = Incident(category=str(raw["category"]), cause=_text(raw["cause"], ctx, path + ("cause",)),
                        remedy=_text(raw.get("remedy"), ctx, path + ("remedy",)),
                        starts=_when(raw.get("starts"), ctx, path + ("starts",)),
                        ends=_when(raw.get("ends"), ctx, path + ("ends",)))
    if incident.starts and incident.ends and incident.ends < incident.starts:
        ctx.fail(path + ("ends",), "ends before it starts")
    if incident.category not in categories:
        ctx.fail(path + ("category",), f"no category {incident.category!r}")
    return incident


def _when(value: Any, ctx: _Ctx, path: tuple) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            ctx.fail(path, "must be an ISO 8601 date and time, e.g. 2026-11-20T00:00:00Z")
    parsed = parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return parsed.replace(microsecond=0)  # the export writes whole seconds


def _check_template(ctx: _Ctx, path: tuple, source_text: str, category: str, audience: str, rules: Rules) -> None:
    """Refuse a letter that does not compile or fails to render in the sandbox, naming its line."""
    problem = check_template(source_text, category, audience, rules)
    if problem is None:
        return
    block = ctx.lines.get(("block",) + path)
    if block and problem.line:
        ctx.fail(path, f"template line {problem.line}: {problem.message}", line=block + problem.line - 1)
    ctx.fail(path, f"template line {problem.line}: {problem.message}" if problem.line else problem.message)
