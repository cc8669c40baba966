"""Mapping rules: per category, which letter, audience, tone, tags, remedy, compensation,
prevention facts, confidence threshold and extra classifier phrases; custom categories;
incidents; the commitments agents may make when a customer asks for something. Pure: no database, no Flask.

Rules come in three layers, each written in the same YAML format, each key present in
a layer replacing that key of the layer below (a whole field at a time: `compensation`,
`phrases`, `template`, `incidents` and `commitments` are replaced, not merged):

    shipped defaults (here)  <-  AMENDS_RULES_FILE (`load_rules`)  <-  the console's
    document for the account (stored in the database, see plugin/services/rulebook.py)

so the file stays the base that the console's changes apply over. plugin/core/rules_document.py
reads the YAML with line numbers and writes the complete, deterministic export that
`amends rules export` and the console download; plugin/core/rules_layer.py validates a layer
(every error names the line and the key path).

    format: 1
    categories:
      delivery_delay:
        enabled: true
        audience: auto            # auto | customer | client
        tone: warm                # warm | formal
        no_fault: false
        threshold: 0.55           # below this category confidence (0 to 1) the general letter is
                                  # posted instead of this one; default: calibrated per category
        tags: [shipping]
        remedy: "We have re-sent your parcel by express courier at our cost."
        prevention: "We have added a second carrier for your region."
        compensation: {kind: expedited_shipping, amount: 10, currency: EUR, cap: 25,
                       repeat_amount: 20, in_letter: false}
        phrases: {"parcel is missing": 2.0, "tracking number": -1.0}  # < 0 counts against
        template:                 # only when changed; absent: the shipped letter
          customer: |
            {% extends "_base.txt.j2" %} ...
      loyalty_points:             # a custom category: a label and at least one phrase
        label: Loyalty points missing
        phrases: {"loyalty points": 2.0, "points missing": 2.0}
    commitments:                  # per ask kind (plugin/models.py ASK_KINDS), what agents may promise
      refund: "I will refund the difference to your original payment method within 5 working days."
    incidents:
      - category: delivery_delay
        cause: "A storm closed our main warehouse for two days."
        remedy: "Every delayed order now ships by express courier."
        starts: 2026-11-20T00:00:00Z
        ends: 2026-11-25T00:00:00Z
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from plugin.core.classify.calibration import load as load_calibration
from plugin.errors import ConfigError
from plugin.models import AUDIENCES as LETTER_AUDIENCES  # a letter is written for one of these
from plugin.models import TONES as TONES  # re-exported: the rules document names them

CATEGORIES = (
    "delivery_delay", "wrong_item", "out_of_stock", "damaged_item", "product_defect", "website_issue",
    "pricing_error", "billing_error", "refund_delay", "order_cancelled", "slow_response", "poor_support",
    "missed_deadline", "miscommunication", "service_quality", "contract_issue", "security_incident",
)
# The letter for a complaint whose category is unclear (decision `general`): its own template
# pair, apologising in neutral words with no category-specific remedy or compensation. Like
# `other`, it is not a category an admin can define.
GENERAL_LETTER = "general"
AUDIENCES = ("auto",) + LETTER_AUDIENCES  # a rule may also let the ticket decide
# FAQ 1 of the guidance: empathy without admitting liability where fault is legally sensitive.
NO_FAULT_BY_DEFAULT = frozenset({"security_incident", "contract_issue"})
FORMAT = 1
CUSTOM_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
TAG = re.compile(r"^[A-Za-z0-9_\-:./]{1,80}$")
KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
DEFAULT_PHRASE_WEIGHT = 2.0  # "a strong nudge" in the phrase layer's units (plugin/core/classify/phrases.py)
MAX_PHRASE_WEIGHT = 5.0
MAX_TEMPLATE_CHARS = 20_000


class RulesError(ConfigError):
    """A rules document that cannot be used; names the source, the line and the key path."""

    def __init__(self, message: str, *, source: str = "rules", path: tuple = (), line: int | None = None):
        self.reason, self.source, self.line, self.path = message, source, line, path_text(path)
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {self.path + ': ' if self.path else ''}{message}")


def path_text(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class Compensation:
    kind: str = ""  # empty: the category's default from plugin.core.compensation
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
    template: tuple[tuple[str, str], ...] = ()  # (audience, source) the admin changed; absent: shipped
    tags: tuple[str, ...] = ()
    remedy: str = ""
    prevention: str = ""
    compensation: Compensation = field(default_factory=Compensation)
    threshold: float = 0.0  # below it: the general letter (see plugin/core/classify/calibration.py)
    phrases: tuple[tuple[str, float], ...] = ()  # extra classifier phrases, sorted
    label: str = ""  # custom categories only

    def source(self, audience: str) -> str | None:
        return dict(self.template).get(audience)


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
    # (ask kind, the one sentence agents may promise for it), sorted by kind; account-wide, since a
    # refund policy does not change with the complaint's category. Absent: a placeholder instead.
    commitments: tuple[tuple[str, str], ...] = ()

    def rule(self, category: str) -> CategoryRule:
        return self.categories.get(category) or CategoryRule()

    def commitment(self, kind: str) -> str:
        """What an agent may promise when the customer asks for this kind of thing ("" when nothing)."""
        return dict(self.commitments).get(kind, "")

    def incident(self, category: str, now: datetime) -> Incident | None:
        return next((i for i in self.incidents if i.category == category and i.active(now)), None)

    def ids(self) -> list[str]:
        """Built-in categories in their usual order, then custom ones by id."""
        return [c for c in CATEGORIES if c in self.categories] + sorted(set(self.categories) - set(CATEGORIES))

    def label(self, category: str) -> str:
        return self.rule(category).label or category.replace("_", " ").capitalize()

    def classifier_phrases(self) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
        """The rules' extra phrases per category, hashable (a cache key for the classifier)."""
        return tuple((c, r.phrases) for c, r in sorted(self.categories.items()) if r.phrases)


def is_custom(category: str) -> bool:
    return category not in CATEGORIES


def default_rules() -> Rules:
    """The shipped rules: every category on, its specific-letter threshold the calibrated default."""
    calibration = load_calibration()
    return Rules({c: CategoryRule(no_fault=c in NO_FAULT_BY_DEFAULT, threshold=calibration.threshold(c))
                  for c in CATEGORIES})
