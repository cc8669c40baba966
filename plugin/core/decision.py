"""What to post for a classifier's reading under an account's rules: the category's letter, the
general letter, or nothing, and why not (a code, stored as such; the sentence is rendered from
it). Pure; `plugin.core.suggest` is the one caller that turns a ticket into a suggestion."""

from __future__ import annotations

from dataclasses import replace
from enum import Enum

from plugin.core.classify.calibration import specific_or_general
from plugin.core.rules import Rules
from plugin.models import NONE, SPECIFIC, Classification


class SkipReason(str, Enum):
    """Why no note was posted. Stored in `events.skip_reason`; the console buckets by it."""

    NOT_A_COMPLAINT = "not_a_complaint"
    RULE_DISABLED = "rule_disabled"
    BELOW_THRESHOLD = "below_threshold"  # recorded by versions before the general letter
    OTHER = "other"  # a reason an older version recorded only as text

    def sentence(self, category: str = "") -> str:
        if self is SkipReason.NOT_A_COMPLAINT:
            return "not a complaint that calls for an apology"
        if self is SkipReason.RULE_DISABLED:
            return f"the rule for {category or 'its category'} is disabled"
        if self is SkipReason.BELOW_THRESHOLD:
            return f"confidence below the rule's threshold{' for ' + category if category else ''}"
        return "no note for another reason"


def with_rules(classification: Classification, rules: Rules) -> Classification:
    """The classifier's reading with the account's thresholds applied: the rule's threshold
    replaces the calibrated default in choosing between the category's letter and the general
    one (calibration.specific_or_general)."""
    if classification.decision == NONE or classification.category == "other":
        return classification
    threshold = rules.rule(classification.category).threshold
    decision = specific_or_general(classification.complaint, classification.confidence, threshold)
    return classification if decision == classification.decision else replace(classification, decision=decision)


def skip_reason(classification: Classification, rules: Rules) -> SkipReason | None:
    """Why no note is posted for this reading, or None. Takes the reading `with_rules` returned."""
    if classification.decision == NONE or classification.category == "other":
        return SkipReason.NOT_A_COMPLAINT
    if classification.decision == SPECIFIC and not rules.rule(classification.category).enabled:
        return SkipReason.RULE_DISABLED
    return None
