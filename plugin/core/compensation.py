"""Compensation in kind, per category, with a step up for repeat complaints. Pure.

The kinds follow service-recovery research: money back for billing and pricing errors, a
replacement or exchange for wrong, damaged or faulty goods, faster shipping for delays, redoing
the work for service failures, priority handling for slow support and for a fault in software.
What the ticket is about (plugin/core/topics.py) changes the ladder: money back for a meal that was
late, damaged, wrong or not fit to eat; a credit for a cancelled or delayed flight; essentials for
luggage that did not arrive; a service credit for an outage. Amounts and caps come only from the
admin's rules; without them the suggestion carries an [amount] placeholder, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugin.core.rules import Compensation

# Two levels per category: the usual remedy, and the step up for a repeat complaint.
LADDER: dict[str, tuple[str, str]] = {
    "delivery_delay": ("expedited_shipping", "shipping_refund"),
    "wrong_item": ("exchange", "exchange_and_credit"),
    "out_of_stock": ("priority_restock", "discount"),
    "damaged_item": ("replacement", "replacement_and_credit"),
    "product_defect": ("replacement", "refund"),
    "website_issue": ("discount", "credit"),
    "pricing_error": ("refund_difference", "refund_difference_and_credit"),
    "billing_error": ("refund_overcharge", "refund_overcharge_and_credit"),
    "refund_delay": ("expedite_refund", "expedite_refund_and_credit"),
    "order_cancelled": ("discount", "credit"),
    "slow_response": ("priority_handling", "credit"),
    "poor_support": ("priority_handling", "credit"),
    "missed_deadline": ("redo_with_priority", "fee_reduction"),
    "miscommunication": ("redo", "fee_reduction"),
    "service_quality": ("redo", "fee_reduction"),
    "contract_issue": ("correct_agreement", "service_credit"),
    "security_incident": ("security_support", "service_credit"),
}

# A meal (topics.food) is not re-shipped or exchanged: money back for the affected part of the order.
FOOD_LADDER: dict[str, tuple[str, str]] = {
    "delivery_delay": ("delivery_fee_refund", "credit"),
    "damaged_item": ("refund_items", "refund_items_and_credit"),
    "wrong_item": ("refund_items", "refund_items_and_credit"),
    "product_defect": ("refund_items", "refund_items_and_credit"),
    "out_of_stock": ("refund_items", "credit"),
}
# A fault in software (topics.software) has no unit to replace: someone who sees it through.
SOFTWARE_LADDER: dict[str, tuple[str, str]] = {"product_defect": ("priority_handling", "credit")}
# A cancelled or delayed flight is not made up with a discount on a next order or redone work.
TRAVEL_LADDER: dict[str, tuple[str, str]] = {"order_cancelled": ("credit", "credit"),
                                             "service_quality": ("credit", "credit")}
# Luggage that did not arrive leaves the traveller buying what they need meanwhile.
LUGGAGE_LADDER: dict[str, tuple[str, str]] = {"delivery_delay": ("essentials_refund", "essentials_refund_and_credit"),
                                              "damaged_item": ("credit", "credit")}
# A service that went down (broadband, a mobile network) is made up with credit for the time lost.
OUTAGE_LADDER: dict[str, tuple[str, str]] = {"service_quality": ("service_credit", "service_credit")}
# In the order they are tried (compose.kinds_of_order): the first whose ladder has the category wins.
LADDERS = {"food": FOOD_LADDER, "luggage": LUGGAGE_LADDER, "travel": TRAVEL_LADDER, "outage": OUTAGE_LADDER,
           "software": SOFTWARE_LADDER}

# How each kind reads; {money} is the amount or the [amount] placeholder.
WORDING: dict[str, tuple[str, bool]] = {
    "expedited_shipping": ("express shipping on the replacement or remaining items, at no charge", False),
    "shipping_refund": ("a refund of the shipping cost ({money})", True),
    "exchange": ("an exchange for the correct item, with return postage paid", False),
    "exchange_and_credit": ("an exchange for the correct item plus a store credit of {money}", True),
    "priority_restock": ("first allocation when the item is back in stock", False),
    "discount": ("a discount of {money} on the next order", True),
    "replacement": ("a replacement sent at no charge, with return postage paid", False),
    "replacement_and_credit": ("a replacement at no charge plus a store credit of {money}", True),
    "refund": ("a full refund of {money}", True),
    "delivery_fee_refund": ("a refund of the delivery fee ({money})", True),
    "refund_items": ("a refund for the affected items ({money})", True),
    "essentials_refund": ("a refund of the essentials bought while waiting for the luggage ({money})", True),
    "essentials_refund_and_credit": (
        "a refund of the essentials bought while waiting plus a goodwill credit of {money}", True),
    "refund_items_and_credit": ("a refund for the affected items plus a goodwill credit of {money}", True),
    "credit": ("a goodwill credit of {money}", True),
    "refund_difference": ("a refund of the price difference ({money})", True),
    "refund_difference_and_credit": ("a refund of the difference plus a goodwill credit of {money}", True),
    "refund_overcharge": ("a refund of the amount overcharged ({money})", True),
    "refund_overcharge_and_credit": ("a refund of the overcharge plus a goodwill credit of {money}", True),
    "expedite_refund": ("the refund pushed through as a priority", False),
    "expedite_refund_and_credit": ("the refund pushed through as a priority plus a goodwill credit of {money}", True),
    "priority_handling": ("priority handling by a named agent until this is resolved", False),
    "redo": ("redoing the affected work at no charge", False),
    "redo_with_priority": ("redoing the work at no charge, scheduled first", False),
    "fee_reduction": ("a reduction of {money} on the affected invoice", True),
    "correct_agreement": ("a corrected agreement, reissued for signature", False),
    "service_credit": ("a service credit of {money}", True),
    "security_support": ("direct help securing the account and a named contact for follow-up", False),
}


@dataclass(frozen=True)
class Offer:
    kind: str
    text: str
    level: int  # 1 = usual, 2 = stepped up for a repeat complaint
    in_letter: bool


def suggest(category: str, settings: Compensation, repeat: bool = False, kinds: tuple[str, ...] = ()) -> Offer | None:
    """The offer for this category under the rule's settings. `kinds` ("food", "luggage", "travel",
    "outage", "software": what the ticket is about, compose.kinds_of_order) take the first of their ladders
    that has the category, unless the rule names its own kind."""
    if category not in LADDER and not settings.kind:
        return None  # a custom category offers compensation only when its rule names a kind
    level = 2 if repeat else 1
    ladder = next((LADDERS[k] for k in kinds if category in LADDERS.get(k, {})), LADDER)
    kind = settings.kind or ladder[category][level - 1]
    if repeat and settings.kind:
        # The admin picked one kind: stepping up means the repeat amount, if set.
        kind = settings.kind
    text, has_money = WORDING.get(kind, (kind.replace("_", " ") + " ({money})", True))
    amount = settings.repeat_amount if repeat and settings.repeat_amount is not None else settings.amount
    if amount is not None and settings.cap is not None:
        amount = min(amount, settings.cap)
    money = _money(amount, settings.currency) if amount is not None else "[amount]"
    return Offer(kind=kind, text=text.format(money=money) if has_money else text, level=level,
                 in_letter=settings.in_letter)


def _money(amount: float, currency: str) -> str:
    value = f"{amount:,.2f}".removesuffix(".00")
    return f"{currency} {value}".strip() if currency else value


def letter_sentence(offer: Offer, formal: bool) -> str:
    """How an offer reads inside the letter, when the rule puts it there."""
    if formal:
        return f"In recognition of the trouble this has caused, we would like to offer {offer.text}."
    return f"To make up for the trouble, we'd like to offer you {offer.text}."
