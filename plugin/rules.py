"""Mapping rules: per category, which letter, audience, tone, tags, remedy, compensation,
prevention facts; plus incidents. Defaults ship here; admins override them in a YAML file
(`AMENDS_RULES_FILE`) today and in the admin console later (issue #5).

    categories:
      delivery_delay:
        audience: auto            # auto | customer | client
        tone: warm                # warm | formal
        no_fault: false
        tags: [shipping]
        remedy: "We have re-sent your parcel by express courier at our cost."
        prevention: "We have added a second carrier for your region."
        compensation: {kind: expedited_shipping, amount: 10, currency: EUR, cap: 25,
                       repeat_amount: 20, in_letter: false}
    incidents:
      - category: delivery_delay
        cause: "A storm closed our main warehouse for two days."
        remedy: "Every delayed order now ships by express courier."
        starts: 2026-11-20T00:00:00Z
        ends: 2026-11-25T00:00:00Z
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from plugin.errors import ConfigError

CATEGORIES = (
    "delivery_delay", "wrong_item", "out_of_stock", "damaged_item", "product_defect", "website_issue",
    "pricing_error", "billing_error", "refund_delay", "order_cancelled", "slow_response", "poor_support",
    "missed_deadline", "miscommunication", "service_quality", "contract_issue", "security_incident",
)
AUDIENCES = ("auto", "customer", "client")
TONES = ("warm", "formal")
# FAQ 1 of the guidance: empathy without admitting liability where fault is legally sensitive.
NO_FAULT_BY_DEFAULT = frozenset({"security_incident", "contract_issue"})


@dataclass(frozen=True)
class Compensation:
    kind: str = ""  # empty: the category's default from plugin.compensation
    amount: float | None = None
    currency: str = ""
    cap: float | None = None
    repeat_amount: float | None = None
    in_letter: bool = False


@dataclass(frozen=True)
class CategoryRule:
    enabled: bool = True
    audience: str = "auto"
    tone: str = "warm"
    no_fault: bool = False
    template: str = ""  # empty: the category's own letter
    tags: tuple[str, ...] = ()
    remedy: str = ""
    prevention: str = ""
    compensation: Compensation = field(default_factory=Compensation)
    threshold: float = 0.0


@dataclass(frozen=True)
class Incident:
    category: str
    cause: str
    remedy: str = ""
    starts: datetime | None = None
    ends: datetime | None = None

    def active(self, now: datetime) -> bool:
        return (self.starts is None or self.starts <= now) and (self.ends is None or now <= self.ends)


@dataclass(frozen=True)
class Rules:
    categories: dict[str, CategoryRule]
    incidents: tuple[Incident, ...] = ()

    def rule(self, category: str) -> CategoryRule:
        return self.categories.get(category) or CategoryRule()

    def incident(self, category: str, now: datetime) -> Incident | None:
        return next((i for i in self.incidents if i.category == category and i.active(now)), None)


def default_rules() -> Rules:
    return Rules({c: CategoryRule(no_fault=c in NO_FAULT_BY_DEFAULT) for c in CATEGORIES})


def load_rules(path: str | Path | None) -> Rules:
    """The shipped defaults, overridden by the YAML file when one is configured."""
    rules = default_rules()
    if not path:
        return rules
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"AMENDS_RULES_FILE {path}: {exc}") from None
    return apply(rules, data, source=str(path))


def apply(rules: Rules, data: dict[str, Any], source: str = "rules") -> Rules:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    categories = dict(rules.categories)
    for name, raw in (data.get("categories") or {}).items():
        where = f"{source}: categories.{name}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a mapping")
        categories[name] = _category_rule(categories.get(name, CategoryRule()), raw, where)
    incidents = tuple(_incident(raw, f"{source}: incidents[{i}]")
                      for i, raw in enumerate(data.get("incidents") or []))
    return Rules(categories, incidents or rules.incidents)


def _category_rule(base: CategoryRule, raw: dict[str, Any], where: str) -> CategoryRule:
    known = {f.name for f in fields(CategoryRule)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    values = dict(raw)
    if values.get("audience", base.audience) not in AUDIENCES:
        raise ConfigError(f"{where}.audience must be one of {', '.join(AUDIENCES)}")
    if values.get("tone", base.tone) not in TONES:
        raise ConfigError(f"{where}.tone must be one of {', '.join(TONES)}")
    if "tags" in values:
        values["tags"] = tuple(str(t) for t in values["tags"] or ())
    if "compensation" in values:
        values["compensation"] = _compensation(values["compensation"] or {}, f"{where}.compensation")
    for key in ("remedy", "prevention", "template"):
        if key in values:
            values[key] = str(values[key] or "").strip()
    return replace(base, **values)


def _compensation(raw: dict[str, Any], where: str) -> Compensation:
    known = {f.name for f in fields(Compensation)}
    if not isinstance(raw, dict) or set(raw) - known:
        raise ConfigError(f"{where}: expected a mapping with keys {', '.join(sorted(known))}")
    values = dict(raw)
    for key in ("amount", "cap", "repeat_amount"):
        if values.get(key) is not None:
            try:
                values[key] = float(values[key])
            except (TypeError, ValueError):
                raise ConfigError(f"{where}.{key} must be a number") from None
            if values[key] < 0:
                raise ConfigError(f"{where}.{key} must not be negative")
    return Compensation(**values)


def _incident(raw: dict[str, Any], where: str) -> Incident:
    if not isinstance(raw, dict) or not raw.get("category") or not raw.get("cause"):
        raise ConfigError(f"{where} needs at least a category and a cause")
    return Incident(category=str(raw["category"]), cause=str(raw["cause"]).strip(),
                    remedy=str(raw.get("remedy") or "").strip(),
                    starts=_when(raw.get("starts"), f"{where}.starts"), ends=_when(raw.get("ends"), f"{where}.ends"))


def _when(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{where} must be an ISO 8601 date and time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
