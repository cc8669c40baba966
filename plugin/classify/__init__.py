"""The classifier: ticket text -> category, confidence, runner-up, evidence. Pure.

Interim version: weighted phrase rules, enough for the webhook-to-note spine.
Issue #4 replaces it with the two-layer classifier; the call signature stays.
"""

from __future__ import annotations

import re

from plugin.models import Classification

# Phrases per category (taxonomy ids). Written from the category descriptions.
PHRASES: dict[str, tuple[str, ...]] = {
    "delivery_delay": ("not arrived", "hasn't arrived", "has not arrived", "still waiting for my order",
                       "late delivery", "delayed", "tracking", "where is my order", "in transit", "not delivered"),
    "wrong_item": ("wrong item", "wrong size", "wrong colour", "wrong color", "different product",
                   "not what i ordered", "sent me the wrong"),
    "out_of_stock": ("out of stock", "back-ordered", "backordered", "sold out", "no longer available"),
    "damaged_item": ("damaged", "broken", "smashed", "dented", "leaking", "cracked"),
    "product_defect": ("defective", "faulty", "stopped working", "doesn't work", "does not work",
                       "not as described"),
    "website_issue": ("website", "checkout", "error message", "page won't load", "app crashes", "site is down"),
    "pricing_error": ("discount code", "promo code", "coupon", "price was different", "wrong price"),
    "billing_error": ("charged twice", "double charged", "overcharged", "invoice", "unexpected fee",
                      "billing", "charged me"),
    "refund_delay": ("refund", "money back", "still not refunded", "credit hasn't"),
    "order_cancelled": ("cancelled my order", "canceled my order", "order was cancelled", "order was canceled"),
    "slow_response": ("no reply", "no response", "nobody answered", "waiting for a reply", "days without"),
    "poor_support": ("rude", "unhelpful", "wrong information", "customer service was"),
    "missed_deadline": ("missed the deadline", "deadline", "milestone", "past due"),
    "miscommunication": ("misunderstood", "miscommunication", "not what we agreed", "scope"),
    "service_quality": ("substandard", "poor quality", "below standard", "does not meet the specification"),
    "contract_issue": ("contract", "renewal", "terms of the agreement", "auto-renewed"),
    "security_incident": ("data breach", "hacked", "compromised", "leaked", "unauthorized access",
                          "unauthorised access"),
}

_PATTERNS = {
    category: [(phrase, re.compile(r"\b" + re.escape(phrase) + r"\b")) for phrase in phrases]
    for category, phrases in PHRASES.items()
}


def classify(subject: str, description: str) -> Classification:
    text = f"{subject}\n{description}".lower()
    scores: dict[str, list[str]] = {}
    for category, patterns in _PATTERNS.items():
        hits = [phrase for phrase, pattern in patterns if pattern.search(text)]
        if hits:
            scores[category] = hits
    if not scores:
        return Classification(category="other", confidence=0.0)
    ranked = sorted(scores.items(), key=lambda item: (-len(item[1]), item[0]))
    best, evidence = ranked[0]
    runner_up = ranked[1][0] if len(ranked) > 1 else ""
    total = sum(len(hits) for hits in scores.values())
    confidence = round(len(evidence) / total * min(1.0, 0.5 + 0.25 * len(evidence)), 2)
    return Classification(category=best, confidence=confidence, runner_up=runner_up, evidence=tuple(evidence))
