"""What a ticket is about, beyond its category: a meal, a flight and its luggage, a service that went
down, software, fraud in the customer's name, an app rather than a website, an order at all, a
promotion and its code. Pure.

The letters read these to fit the ticket (a late meal has no parcel or carrier; a cancelled flight is
not restocked; a loan has no order number) and the compensation ladders to suggest what fits
(compensation.LADDERS). Each is a plain word list: when the words are absent, the letter is the
category's usual one, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A meal delivered (a takeaway, a food-delivery app): no parcel, carrier or warehouse in its letters.
# The dish or the delivery rider says so; a restaurant or a food app's name only when the complaint is
# not about software (a food app's review of its own app is not about a meal).
FOOD = re.compile(
    r"\b(?:food|meals?|pizzas?|burgers?|biryani|biriyani|curry|sushi|noodles|fries|burritos?|sandwich(?:es)?"
    r"|takeaway|take-away|delivery (?:partner|boy|executive|rider)|spill(?:ed|age|t)?)\b", re.I)
FOOD_PLACE = re.compile(r"\b(?:restaurants?|zomato|swiggy|deliveroo|doordash|grubhub|uber ?eats|just ?eat|postmates)\b",
                        re.I)
# The customer speaks of an order (so a letter may ask for its number when the ticket gives none).
ORDER_WORDS = re.compile(r"\b(?:orders?|ordered|ordering|purchased?|purchases|bought|parcels?|packages?|shipments?"
                         r"|shipped|shipping|deliver(?:y|ed|ies)|items?|checkout|basket|cart"
                         r"|returned (?:the|it|my|them|both|all))\b", re.I)
# Air travel: a cancelled flight is not an order to restock or hold.
TRAVEL = re.compile(r"\b(?:flights?|flightled|airlines?|airport|boarding pass|plane|aircraft|layover|cabin crew)\b",
                    re.I)
# A service that went down or keeps dropping: broadband, a mobile network, TV.
OUTAGE = re.compile(r"\b(?:outages?|internet|broadband|wi-?fi|network|signal|no service|cable|connection"
                    r"|(?:is|was|been|keeps?|kept|going|went|goes) (?:down|offline)|cutting out|cuts? out|dropping)\b",
                    re.I)
# Luggage on a flight: traced or claimed for by the airline, not re-sent from a warehouse.
LUGGAGE = re.compile(r"\b(?:luggage|baggage|bags?|suitcases?|checked (?:in )?(?:case|item)s?|carousel)\b", re.I)
# Fraud in the customer's name rather than a login taken over: identity theft, accounts or charges the
# customer never made, a stolen phone number. No password reset puts that right.
IDENTITY = re.compile(
    r"\b(?:identity theft|stolen identity|stole my identity|in my name|(?:does|do|did) not belong to me"
    r"|not mine|credit (?:report|file)|fraud alert|fraudulent(?:ly)?|unauthori[sz]ed (?:charges?|inquir\w+"
    r"|purchases?|transactions?|accounts?|payments?)|never (?:placed|made|opened|authori[sz]ed)"
    r"|(?:stole|steal|stolen|gave away|gave) my (?:phone )?number|sim swap\w*)", re.I)
# A fault in software (a game, an update, firmware): no unit to send back or replace.
SOFTWARE = re.compile(
    r"\b(?:software|firmware|glitch\w*|bugs?|buggy|patch(?:ed)?|games?|in-game|ios|android|windows|apps?"
    r"|(?:new|latest|last|recent|next|software|system|firmware|os|this|that) update|updating"
    r"|updated (?:my|to|the|it)|upgraded (?:my|to|the|it)|(?:after|since) (?:the|an?|my) (?:update|upgrade)"
    r"|made me update)\b", re.I)
# The customer wrote about an app rather than a website ("the app crashes", "your iOS app").
APP = re.compile(r"\b(?:apps?|application on my phone)\b", re.I)
WEBSITE = re.compile(r"\b(?:web ?site|site|web page|webpage|browser|online store|portal)\b", re.I)
# A promotion the customer tried to use: a discount, promo, coupon or voucher code, or the coupon itself.
DISCOUNT = re.compile(r"\b(?:(?:promo(?:tion(?:al)?)?|discount|voucher|coupon|offer|gift)\s+codes?|coupons?|vouchers?"
                      r"|promo(?:tion)?s?|discounts?|offers?|deals?)\b", re.I)
# The code as written: capitals and digits right after "code" ("code WELCOME15", "code: 'SAVE20'"), a few
# words after it when it has a digit ("the code from your email WELCOME15"), or just before it ("the
# SPRING24 code"). Four or more characters with a letter: only digits would be a number.
_CODE = r"(?=[A-Z0-9-]*[A-Z])[A-Z0-9][A-Z0-9-]{2,22}[A-Z0-9]"
DISCOUNT_CODE = re.compile(
    rf"\b(?<!error )(?<!Error )[Cc]odes?\s*(?:is\s+|was\s+)?[:=]?\s*[\"'“‘(]?(?P<after>{_CODE})\b(?![a-z])"
    rf"|\b(?<!error )(?<!Error )[Cc]odes?\b(?:\s+[a-z]+){{1,4}}\s+[\"'“‘(]?(?P<near>(?=[A-Z0-9-]*\d){_CODE})\b(?![a-z])"
    rf"|\b(?P<before>{_CODE})[\"'”’)]?\s+(?:(?:promo|discount|voucher|coupon)\s+)?code\b")
# Codes that are not promotions: "confirmation code", "tracking code", "error code", "2FA code", ...
OTHER_CODE = re.compile(r"\b(?:confirmation|booking|tracking|verification|security|access|activation|auth\w*|zip"
                        r"|postal|post|area|error|reference|ref|login|sign-in|one-time|2fa|otp|sms|pin|qr|bar)\s*$",
                        re.I)


@dataclass(frozen=True)
class Topics:
    food: bool = False  # the order is a meal (a takeaway, a food-delivery app)
    software: bool = False  # the fault is in software: a game, an update, firmware
    travel: bool = False  # air travel: a flight, an airline
    outage: bool = False  # a service that went down: broadband, a mobile network
    luggage: bool = False  # luggage on a flight (travel and a bag, a suitcase, baggage; not a meal)
    identity: bool = False  # fraud in the customer's name: identity theft, charges or accounts never made
    app: bool = False  # the customer wrote about an app, not a website
    mentions_order: bool = False  # the customer speaks of an order, a purchase or a delivery
    discount: str = ""  # what the customer called the promotion they tried to use: "coupon", "promo code", ...
    discount_code: str = ""  # the code as the customer wrote it: "WELCOME15"


def topics_of(text: str) -> Topics:
    code = discount_code_in(text)
    travel, food = bool(TRAVEL.search(text)), is_meal(text)
    return Topics(
        food=food, software=bool(SOFTWARE.search(text)), travel=travel,
        outage=bool(OUTAGE.search(text)), luggage=travel and not food and bool(LUGGAGE.search(text)),
        identity=bool(IDENTITY.search(text)),
        app=bool(APP.search(text)) and not WEBSITE.search(text), mentions_order=bool(ORDER_WORDS.search(text)),
        discount=discount_in(text) or ("code" if code else ""), discount_code=code,
    )


def is_meal(text: str) -> bool:
    """A dish or a delivery rider named; or a restaurant or food app, in a complaint not about software."""
    return bool(FOOD.search(text) or FOOD_PLACE.search(text) and not SOFTWARE.search(text))


def discount_in(text: str) -> str:
    """What the customer called the promotion, in the singular ("coupon", "promo code",
    "voucher"), or "" when the ticket names none."""
    found = DISCOUNT.search(text)
    if not found:
        return ""
    words = " ".join(found.group(0).lower().split())
    return words[:-1] if words.endswith("s") and not words.endswith("ss") else words


def discount_code_in(text: str) -> str:
    """The promotion code the customer quoted, or "". Codes are written in capitals; a message
    written all in capitals ("THIS CODE DOES NOT WORK") quotes none that can be told apart."""
    for match in DISCOUNT_CODE.finditer(text):
        code = match.group("after") or match.group("near") or match.group("before")
        if match.group(0).isupper():
            continue  # shouting: the capitals around "CODE" are words, not a code
        before = text[max(0, match.start() - 20):match.start()]
        if match.group("before") is None and OTHER_CODE.search(before):
            continue
        return code  # capitals, digits and hyphens only: nothing that reads as a [placeholder]
    return ""
