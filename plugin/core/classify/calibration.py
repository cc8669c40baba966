"""Calibration and the decision: raw softmax scores -> probabilities that mean what they say,
then specific | general | none.

Two questions, each with its own Platt scaling (sigmoid(a * logit(raw) + b)) fitted on
predictions for our own examples that the model had not seen (5-fold, tools/calibrate.py):

- *is this a complaint that calls for an apology?* raw = 1 - P(other);
- *which category, given that it is one?* raw = P(best) / (1 - P(other)), with one more term:
  `category_disputed` is added to the logit when the model's second opinion (Naive Bayes,
  model.py) picks another category, as our held-out examples show the category is then right
  far less often. It lowers every candidate's score alike, so their order stays.

Messages of at most `short_words` words ("Contact details", "Reset my account") carry little
evidence, and our held-out examples show the model's complaint score means less on them, so the
complaint question has a second Platt scaling fitted on the held-out short examples alone.

The decision: below `complaint_threshold` no note (none); otherwise the category's letter when
the message is more likely a complaint than not (SPECIFIC_COMPLAINT) and its category's
probability reaches the category's threshold (specific), else the general letter (general): a
message that may not be a complaint at all gets no category's promises.
Per-category thresholds are defaults: an account's rules may set their own (CategoryRule.threshold).
The fitted numbers live in calibration.json beside this file, with the examples' fingerprint
they were fitted for (a test fails when the examples change and the file was not refitted).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from plugin.models import GENERAL, NONE, SPECIFIC

CALIBRATION_FILE = Path(__file__).parent / "calibration.json"
_EPS = 1e-6
SPECIFIC_COMPLAINT = 0.5  # a category's own letter only for what is more likely a complaint than not
SHORT_WORDS = 5  # what tools/calibrate.py fits the short-message scaling for; the file records it


def specific_or_general(complaint: float | None, probability: float, threshold: float) -> str:
    """For a complaint: its category's own letter when the category's probability reaches
    `threshold` and the message is more likely a complaint than not; else the general letter."""
    sure = probability >= threshold
    return SPECIFIC if sure and (complaint is None or complaint >= SPECIFIC_COMPLAINT) else GENERAL


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Platt:
    a: float = 1.0
    b: float = 0.0

    def __call__(self, raw: float, shift: float = 0.0) -> float:
        """`shift` is one more fitted term on the logit (Calibration.category_disputed)."""
        z = self.a * _logit(raw) + self.b + shift
        return 1 / (1 + math.exp(-z)) if z > -700 else 0.0


@dataclass(frozen=True)
class Calibration:
    complaint: Platt = field(default_factory=Platt)
    category: Platt = field(default_factory=Platt)
    complaint_threshold: float = 0.5
    specific_threshold: float = 0.5  # for a category without its own
    specific_thresholds: tuple[tuple[str, float], ...] = ()
    fingerprint: str = ""
    short_complaint: Platt | None = None  # for messages of at most `short_words` words
    short_words: int = SHORT_WORDS
    category_disputed: float = 0.0  # logit shift when the second opinion picks another category

    def complaint_probability(self, raw: float, words: int) -> float:
        """P(complaint) from the raw score, with the short-message scaling where it applies."""
        scaling = self.short_complaint if self.short_complaint is not None and words <= self.short_words else self.complaint
        return scaling(raw)

    def category_probability(self, raw: float, disputed: bool = False) -> float:
        """P(the category is right | a complaint), from its raw share of the complaint score."""
        return self.category(raw, self.category_disputed if disputed else 0.0)

    def threshold(self, category: str) -> float:
        return dict(self.specific_thresholds).get(category, self.specific_threshold)

    def decide(self, complaint: float, category: str, probability: float, threshold: float | None = None) -> str:
        """none below the complaint threshold; specific when the category's probability reaches
        `threshold` (default: this calibration's for the category); otherwise general."""
        if complaint < self.complaint_threshold:
            return NONE
        return specific_or_general(complaint, probability, self.threshold(category) if threshold is None else threshold)

    def to_dict(self) -> dict:
        return {"fingerprint": self.fingerprint,
                "complaint": {"a": self.complaint.a, "b": self.complaint.b},
                "category": {"a": self.category.a, "b": self.category.b},
                "category_disputed": self.category_disputed,
                **({"short_complaint": {"a": self.short_complaint.a, "b": self.short_complaint.b,
                                        "words": self.short_words}} if self.short_complaint else {}),
                "complaint_threshold": self.complaint_threshold,
                "specific_threshold": self.specific_threshold,
                "specific_thresholds": dict(self.specific_thresholds)}

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        short = data.get("short_complaint")
        return cls(complaint=Platt(**data["complaint"]), category=Platt(**data["category"]),
                   short_complaint=Platt(a=short["a"], b=short["b"]) if short else None,
                   short_words=int(short["words"]) if short else SHORT_WORDS,
                   complaint_threshold=float(data["complaint_threshold"]),
                   specific_threshold=float(data["specific_threshold"]),
                   specific_thresholds=tuple(sorted((k, float(v)) for k, v in
                                                    data.get("specific_thresholds", {}).items())),
                   fingerprint=data.get("fingerprint", ""),
                   category_disputed=float(data.get("category_disputed", 0.0)))


@lru_cache(maxsize=4)
def load(path: Path = CALIBRATION_FILE) -> Calibration:
    """The shipped calibration; identity scaling with 0.5 thresholds when the file is absent.
    Read once per process: default_rules() asks for it on every event."""
    if not path.is_file():
        return Calibration()
    data = json.loads(path.read_text(encoding="utf-8"))
    return Calibration.from_dict(data)
