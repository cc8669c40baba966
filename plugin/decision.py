"""What to post for a classifier's reading under an account's rules: the category's letter, the
general letter, or nothing, and why not. Pure: the pipeline, `amends draft`, the console's
"Try a ticket" and the sidebar all ask here, so they cannot disagree."""

from __future__ import annotations

from dataclasses import replace

from plugin.classify.calibration import specific_or_general
from plugin.models import NONE, SPECIFIC, Classification
from plugin.rules import Rules

NOT_A_COMPLAINT = "not a complaint that calls for an apology"


def with_rules(classification: Classification, rules: Rules) -> Classification:
    """The classifier's reading with the account's thresholds applied: the rule's threshold
    replaces the calibrated default in choosing between the category's letter and the general
    one (calibration.specific_or_general). The one place that decides; the pipeline, `amends
    draft`, the console's "Try a ticket" and the sidebar all ask it (then `skip_reason`)."""
    if classification.decision == NONE or classification.category == "other":
        return classification
    threshold = rules.rule(classification.category).threshold
    decision = specific_or_general(classification.complaint, classification.confidence, threshold)
    return classification if decision == classification.decision else replace(classification, decision=decision)


def skip_reason(classification: Classification, rules: Rules) -> str | None:
    """Why no note is posted for this reading (the text recorded on the event), or None.
    Takes the reading `with_rules` returned."""
    if classification.decision == NONE or classification.category == "other":
        return NOT_A_COMPLAINT
    if classification.decision == SPECIFIC and not rules.rule(classification.category).enabled:
        return f"the rule for {classification.category} is disabled"
    return None
