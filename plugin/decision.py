"""What to post for a classifier's reading under an account's rules: the category's letter, the
general letter, or nothing, and why not. Pure: the pipeline, `amends draft`, the console's
"Try a ticket" and the sidebar all ask here, so they cannot disagree."""

from __future__ import annotations

from dataclasses import replace

from plugin.classify.calibration import SPECIFIC_COMPLAINT
from plugin.models import GENERAL, NONE, SPECIFIC, Classification
from plugin.rules import Rules

NOT_A_COMPLAINT = "not a complaint that calls for an apology"


def with_rules(classification: Classification, rules: Rules) -> Classification:
    """The classifier's reading with the account's thresholds applied: a complaint whose category
    confidence is below the rule's threshold gets the general letter, at or above it the
    category's (unless it is as likely not a complaint at all: then the general letter). The one place that decides; the pipeline, `amends draft`, the console's
    "Try a ticket" and the sidebar all ask it (then `skip_reason`)."""
    if classification.decision == NONE or classification.category == "other":
        return classification
    rule = rules.rule(classification.category)
    sure = classification.confidence >= rule.threshold
    maybe_not_a_complaint = classification.complaint is not None and classification.complaint < SPECIFIC_COMPLAINT
    decision = SPECIFIC if sure and not maybe_not_a_complaint else GENERAL
    return classification if decision == classification.decision else replace(classification, decision=decision)


def skip_reason(classification: Classification, rules: Rules) -> str | None:
    """Why no note is posted for this reading (the text recorded on the event), or None.
    Takes the reading `with_rules` returned."""
    if classification.decision == NONE or classification.category == "other":
        return NOT_A_COMPLAINT
    if classification.decision == SPECIFIC and not rules.rule(classification.category).enabled:
        return f"the rule for {classification.category} is disabled"
    return None
