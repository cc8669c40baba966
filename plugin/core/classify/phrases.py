"""The phrase layer: weighted phrases per category, and cues that a message is a question
or a request rather than a complaint. Shipped defaults; admins add their own per rule
(`PhraseLayer.extended`, fed from the rules' `phrases`).

A phrase adds its weight to its category's score; a negation cue adds to `other`.
Weights are in the model's logit units, so a weight of 2 is a strong nudge, not a veto.
An admin's phrase with a negative weight counts against its category and is never shown
as evidence for it. Phrases of a category the model does not know (a custom category)
are scored by the classifier as described in plugin/core/classify/__init__.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_PHRASES: dict[str, tuple[tuple[str, float], ...]] = {
    "delivery_delay": (("not arrived", 1.5), ("hasn't arrived", 1.5), ("still hasn't come", 1.5),
                       ("still waiting for my", 1.2), ("not received", 1.5), ("not recieved", 1.5),
                       ("haven't received", 1.2), ("never arrived", 1.5), ("tracking hasn't", 1.2),
                       ("stuck in transit", 1.5), ("late delivery", 1.5), ("marked as delivered", 1.2),
                       ("marked delivered", 1.2), ("lost my bag", 1.5), ("lost luggage", 1.5),
                       ("haven't gotten my", 1.5), ("haven't got my", 1.2), ("still haven't got", 1.5)),
    "wrong_item": (("wrong item", 2.0), ("wrong size", 2.0), ("wrong colour", 2.0), ("wrong color", 2.0),
                   ("not what i ordered", 2.0), ("sent me the wrong", 2.0), ("instead of", 0.6),
                   ("items missing", 1.5), ("missing items", 1.5), ("missing from my order", 1.5)),
    "out_of_stock": (("out of stock", 2.0), ("back order", 1.5), ("backordered", 1.5), ("sold out", 1.5),
                     ("no longer available", 1.5)),
    "damaged_item": (("arrived damaged", 2.0), ("arrived broken", 2.0), ("smashed", 1.5), ("dented", 1.5),
                     ("leaking", 1.2), ("cracked", 1.2), ("crushed", 1.2)),
    "product_defect": (("stopped working", 1.5), ("doesn't work", 1.0), ("not working", 1.0), ("faulty", 1.5),
                       ("defective", 1.5), ("keeps getting declined", 1.2), ("contactless", 0.8)),
    "website_issue": (("checkout", 1.0), ("error message", 1.2), ("website is down", 2.0), ("app keeps crashing", 2.0),
                      ("page won't load", 2.0), ("can't log in", 0.8)),
    "pricing_error": (("discount code", 1.5), ("promo code", 1.5), ("coupon", 1.2), ("price was different", 2.0),
                      ("charged full price", 2.0), ("sale price", 1.0)),
    "billing_error": (("charged twice", 2.0), ("double charged", 2.0), ("overcharged", 2.0), ("extra charge", 1.5),
                      ("charged a fee", 1.5), ("unexpected fee", 1.5), ("wrong invoice", 1.5)),
    # "refund" alone is not evidence: customers ask for one after every kind of failure.
    "refund_delay": (("still not refunded", 2.0), ("refund hasn't", 2.0), ("refund isn't showing", 2.0),
                     ("where is my refund", 2.0), ("still no refund", 1.5), ("still waiting for my refund", 2.0),
                     ("refund is still", 1.2), ("haven't received my refund", 2.0), ("refund was promised", 1.5)),
    "order_cancelled": (("cancelled flight", 2.0), ("canceled flight", 2.0), ("flight cancelled", 2.0),
                        ("flight canceled", 2.0), ("cancelled my order", 2.0), ("canceled my order", 2.0),
                        ("you cancelled", 1.5), ("you canceled", 1.5), ("you cancel", 1.5),
                        ("flight was cancelled", 2.0), ("flight was canceled", 2.0), ("cancelled my flight", 2.0),
                        ("canceled my flight", 2.0), ("canx", 1.5), ("cxld", 1.5)),
    "slow_response": (("no reply", 1.5), ("no response", 1.5), ("still waiting for a reply", 2.0),
                      ("nobody has answered", 2.0), ("no one has answered", 2.0), ("haven't heard back", 1.5),
                      ("still waiting to hear", 1.5), ("left on read", 1.5)),
    # Taxonomy boundary: a long hold is slow_response; rudeness by any staff is poor_support.
    "poor_support": (("rude", 1.5), ("unhelpful", 1.5), ("hung up", 1.5), ("runaround", 1.5),
                     ("run around", 1.2), ("poor customer service", 1.2), ("bad customer service", 1.2),
                     ("terrible customer service", 1.2), ("customer service sucks", 1.2)),
    "missed_deadline": (("missed the deadline", 2.0), ("deadline", 1.0), ("milestone", 1.0), ("overdue", 0.8)),
    "miscommunication": (("misunderstood", 1.5), ("miscommunication", 2.0), ("not what we agreed", 1.5),
                         ("scope", 0.8), ("we were told", 0.8)),
    # Taxonomy boundary: the service itself (network, flights, rides, couriers' conduct).
    "service_quality": (("slow internet", 1.5), ("no signal", 1.2), ("flight delayed", 1.5),
                        ("delayed flight", 1.5), ("flight was delayed", 1.5), ("poor quality", 1.5), ("substandard", 2.0), ("below the standard", 1.5),
                        ("not to spec", 1.5), ("sloppy", 1.5), ("half job", 2.0), ("half-done", 1.5),
                        ("poor job", 1.5), ("shoddy", 2.0), ("worse state", 1.5), ("not up to standard", 2.0),
                        ("doesn't meet", 1.2), ("does not meet", 1.2), ("full of mistakes", 1.5),
                        ("several mistakes", 1.5), ("unreliable", 1.2), ("low quality", 1.5),
                        ("unprofessional", 1.2), ("had to redo", 1.5), ("not fit for purpose", 2.0),
                        ("amateur", 1.2), ("missed bugs", 1.5), ("quality of", 0.8)),
    "contract_issue": (("contract", 1.2), ("renewal", 1.0), ("auto-renewed", 1.5), ("auto renewed", 1.5),
                       ("terms of the agreement", 1.5), ("notice period", 1.0)),
    "security_incident": (("data breach", 2.0), ("hacked", 2.0), ("compromised", 1.5), ("someone used my card", 2.0),
                          ("didn't make", 1.0), ("unauthorised", 1.5), ("unauthorized", 1.5), ("phishing", 1.5)),
}

# Questions and requests about the customer's own actions: not a company failure.
NEGATIONS: tuple[tuple[str, float], ...] = (
    # Only specific cues: general question words are left to the model, because real
    # complaints are often phrased as questions ("why did you take my payment two times?").
    (r"\bwhat happens if\b", 2.0), (r"\bis there a (fee|charge)\b", 2.0),
    (r"\bi (want|would like|need) to cancel\b", 1.5), (r"\bcancel my (order|transfer|subscription)\b", 1.0),
    (r"\bi (lost|forgot|misplaced)\b", 2.0), (r"\bdo you (refund|offer|accept|ship|deliver|charge)\b", 1.5),
    (r"^\W*(talk|speak|chat) (to|with) (an? )?(agent|human|person|someone)\W*$", 3.0),
)


WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class PhraseLayer:
    patterns: dict[str, tuple[tuple[str, re.Pattern, float], ...]]
    negations: tuple[tuple[re.Pattern, float], ...]
    # first word of a phrase -> (order, category, phrase, pattern, weight): only phrases whose
    # first word occurs in the ticket are tried, so the cost follows the ticket, not the list
    by_first_word: dict[str, tuple[tuple[int, str, str, re.Pattern, float], ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, phrases: dict[str, tuple[tuple[str, float], ...]] | None = None,
              negations: tuple[tuple[str, float], ...] = NEGATIONS) -> "PhraseLayer":
        phrases = phrases or DEFAULT_PHRASES
        compiled = {
            category: tuple((p, re.compile(r"\b" + re.escape(p.lower()) + r"\b"), w) for p, w in items)
            for category, items in phrases.items()
        }
        index: dict[str, list[tuple[int, str, str, re.Pattern, float]]] = {}
        entries = [(c, p, pattern, w) for c, items in compiled.items() for p, pattern, w in items]
        for order, (category, phrase, pattern, weight) in enumerate(entries):
            first = WORD.match(phrase.lower())
            index.setdefault(first.group(0) if first else "", []).append((order, category, phrase, pattern, weight))
        return cls(compiled, tuple((re.compile(p), w) for p, w in negations),
                   {word: tuple(entries) for word, entries in index.items()})

    def extended(self, extra) -> "PhraseLayer":
        """This layer plus `extra` ((category, ((phrase, weight), ...)), ...); an extra phrase
        already present in its category takes the extra's weight."""
        merged = {c: {p.lower(): w for p, _, w in items} for c, items in self.patterns.items()}
        for category, items in extra:
            merged.setdefault(category, {}).update((p.lower(), float(w)) for p, w in items)
        negations = tuple((pattern.pattern, weight) for pattern, weight in self.negations)
        return PhraseLayer.build({c: tuple(items.items()) for c, items in merged.items()}, negations)

    def score(self, text: str) -> tuple[dict[str, float], dict[str, list[str]], float]:
        """(category -> boost, category -> phrases found, boost for `other`)."""
        lowered = text.lower().replace("’", "'")
        boosts: dict[str, float] = {}
        found: dict[str, list[str]] = {}
        index = self.by_first_word
        candidates = [entry for word in set(WORD.findall(lowered)).intersection(index) for entry in index[word]]
        candidates += index.get("", ())  # phrases that start with punctuation
        for _, category, phrase, pattern, weight in sorted(candidates, key=lambda entry: entry[0]):
            if pattern.search(lowered):
                boosts[category] = boosts.get(category, 0.0) + weight
                if weight > 0:
                    found.setdefault(category, []).append(phrase)
        other = sum(w for pattern, w in self.negations if pattern.search(lowered))
        return boosts, found, other
