"""Every shipped letter: exact output for a realistic ticket, and clean lint in every variant.

Fixtures: tests/fixtures/tickets/<category>.<audience>.json is a Zendesk "show ticket"
response (include=users,organizations); <category>.<audience>.letter.txt is the expected
"Subject: ..." line and letter. `python tests/fixtures/tickets/regen.py` rewrites the
expected files after a deliberate wording change (read the diff before committing).
"""

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from plugin.connectors.zendesk import ticket_from_show_response
from plugin.core.compose import Options, compose, environment
from plugin.core.lint import APOLOGY_WORDS
from plugin.core.rules import CATEGORIES, default_rules
from plugin.core.rules_layer import apply
from plugin.models import Classification, Person, Ticket
from tests.fixtures.tickets.regen import CASES, FIXTURES, draft_letter

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "apologies" / "en"
PAIRS = [(c, a) for c in CATEGORIES for a in ("customer", "client")]
# "I have arranged", "we've cancelled", "has already": an action claimed as done. The letter is written
# before anyone acts, so only the rule's own remedy text may say so (checked here without one).
DONE = re.compile(r"\b(?:I|we)(?: have|['’]ve)(?! (?:no|not|to|a|any)\b)\s+\w+|\b(?:has|have) already\b",
                  re.IGNORECASE)


def test_a_letter_exists_for_every_category_and_audience():
    missing = [f"{c}.{a}" for c, a in PAIRS if not (TEMPLATES / f"{c}.{a}.txt.j2").is_file()]
    assert missing == []


def test_every_pair_has_an_exact_output_fixture():
    assert sorted(CASES) == sorted(PAIRS)


@pytest.mark.parametrize("category, audience", sorted(CASES))
def test_exact_letter(category, audience):
    expected = (FIXTURES / f"{category}.{audience}.letter.txt").read_text()
    assert draft_letter(category, audience) == expected


@pytest.mark.parametrize("category, audience", PAIRS)
@pytest.mark.parametrize("tone", ["warm", "formal"])
@pytest.mark.parametrize("no_fault", [False, True])
@pytest.mark.parametrize("repeat", [False, True])
def test_every_variant_lints_clean(category, audience, tone, no_fault, repeat):
    from plugin.models import Previous

    ticket = ticket_from_show_response(CASES.get((category, audience)) or CASES[("delivery_delay", audience)])
    previous = Previous("1", datetime(2026, 11, 1, tzinfo=timezone.utc), category) if repeat else None
    s = compose(ticket, Classification(category, 0.9), "m", audience=audience, tone=tone, no_fault=no_fault,
                previous=previous, options=Options(company_name="Northwind Goods"))
    assert s.lint == (), [f.message for f in s.lint]
    words = len(s.letter.split())
    assert 60 <= words <= 250
    # one or two apology words: no-fault letters keep their sympathy, none piles them up
    assert 1 <= len(APOLOGY_WORDS.findall(s.letter)) <= 2, APOLOGY_WORDS.findall(s.letter)
    assert DONE.findall(s.letter) == []  # honest tense: what will happen, never what nobody did
    if not repeat:  # no prevention fact and no incident: the letter promises no change
        assert "[what we are changing]" not in s.letter and "Optional: say what you are changing" in s.note
    if repeat:
        assert "won't happen again" not in s.letter.lower() and "will not happen again" not in s.letter.lower()


def test_templates_compile_in_the_sandbox():
    env = environment()
    for path in TEMPLATES.glob("*.txt.j2"):
        env.get_template(f"apologies/en/{path.name}")


def test_no_sentence_copied_from_the_seeds():
    seeds = Path(__file__).resolve().parents[2] / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip(f"guidance not found at {seeds}")
    import re

    seed_text = " ".join(p.read_text() for p in seeds.glob("*.txt")).lower()
    seed_text = re.sub(r"[’']", "'", seed_text)
    copied = []
    for path in TEMPLATES.glob("*.txt.j2"):
        text = re.sub(r"\{[{%#].*?[}%#]\}", " ", path.read_text())
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            words = re.findall(r"[a-z']+", sentence.lower().replace("’", "'"))
            # any run of eight words in a row found in the seeds counts as copying
            for i in range(len(words) - 7):
                if " ".join(words[i:i + 8]) in " ".join(re.findall(r"[a-z']+", seed_text)):
                    copied.append(f"{path.name}: {' '.join(words[i:i + 8])}")
                    break
    assert copied == []


def test_lint_is_clean_for_shipped_templates_via_cli():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "plugin.cli", "lint"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _warm(category, audience="customer", **kwargs):
    ticket = ticket_from_show_response(CASES[(category, audience)])
    return compose(ticket, Classification(category, 0.9), "m", audience=audience, no_fault=False,
                   options=Options(company_name="Northwind Goods"), **kwargs)


def test_only_the_rules_remedy_may_say_an_action_is_done():
    default = _warm("refund_delay")
    assert "I will take the refund to our payments team" in default.letter and not DONE.search(default.letter)
    rules = apply(default_rules(), {"categories": {"refund_delay": {
        "remedy": "Refunds under the limit are issued at once: I have released yours today."}}})
    done = _warm("refund_delay", rules=rules)
    assert "I have released yours today." in done.letter and done.lint == ()


def test_prevention_only_from_a_rule_fact_or_an_incident():
    plain = _warm("delivery_delay")
    assert "[what we are changing]" not in plain.letter and "we now" not in plain.letter
    assert "Optional: say what you are changing so it does not happen again" in plain.note
    rules = apply(default_rules(), {"categories": {"delivery_delay": {"prevention": "we now ship from two sites."}}})
    fact = _warm("delivery_delay", rules=rules)
    assert "What we are changing: we now ship from two sites." in fact.letter and "Optional:" not in fact.note
    rules = apply(default_rules(), {"incidents": [{"category": "delivery_delay", "cause": "A storm shut the depot.",
                                                   "starts": "2026-11-20T00:00:00Z", "ends": "2026-11-25T00:00:00Z"}]})
    incident = _warm("delivery_delay", rules=rules, now=datetime(2026, 11, 22, tzinfo=timezone.utc))
    assert "[what we are changing]" in incident.letter and "Optional:" not in incident.note


@pytest.mark.parametrize("audience", ["customer", "client"])
def test_closings_and_explanations_vary_with_the_category(audience):
    closings, explanations = set(), set()
    for category in CATEGORIES:
        paragraphs = _warm(category, audience).letter.split("\n\n")
        closings.add(paragraphs[-2])  # the last paragraph before the sign-off
        explanations.add(re.sub(r"\[[^]]*\]", "[]", paragraphs[2]))
    assert len(closings) == len(CATEGORIES) and len(explanations) == len(CATEGORIES)
    assert not any(e.startswith("What happened:") for e in explanations)  # no form field without an incident


def test_known_facts_replace_placeholders():
    ticket = Ticket(id="1", subject="Charged twice for invoice INV-2291",
                    description="You charged me twice, $84.50 each time.", requester=Person(id="5", name="Ann Lee"))
    s = compose(ticket, Classification("billing_error", 0.9), "m")
    assert "invoice INV-2291" in s.subject and "return $84.50 to the card" in s.letter
    assert "[refund amount]" not in s.letter and "[order number]" not in s.subject + s.letter
    assert s.lint == ()


def test_a_second_complaint_is_acknowledged_in_every_letter():
    for category in CATEGORIES:
        other = "slow_response" if category != "slow_response" else "product_defect"
        ticket = ticket_from_show_response(CASES[(category, "customer")])
        s = compose(ticket, Classification(category, 0.9, secondary=other), "m", audience="customer",
                    options=Options(company_name="Northwind Goods"))
        assert "You also mentioned" in s.letter and s.lint == (), category


def customer_letter(category, description, tone, no_fault=None, subject="Help", previous=None):
    """One customer's letter for a ticket with these words, as the pipeline composes it."""
    ticket = Ticket(id="1", subject=subject, description=description, requester=Person(id="7", name="Jo Tester"))
    return compose(ticket, Classification(category, 0.9), "m", audience="customer", tone=tone, no_fault=no_fault,
                   previous=previous, options=Options(company_name="Northwind Goods"))


@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_a_service_letter_names_no_order_the_ticket_never_had(tone):
    """A cleaning visit or a delayed flight comes with no order number: the service_quality letter names
    no reference then, rather than asking the agent for an "[order number]"; with one, it quotes it."""
    s = customer_letter("service_quality", "The cleaners missed half the rooms and left two hours early.",
                        tone, subject="Cleaning visit")
    assert "order" not in (s.subject + s.letter).lower() and "[order number]" not in s.to_fill
    assert s.subject == "Our service was not up to the standard you paid for"
    assert s.lint == (), [f.message for f in s.lint]
    text = "Booking reference QX4471: the flight left five hours late and nobody told us why."
    s = customer_letter("service_quality", text, tone, subject="Delayed again")
    assert "QX4471" in s.subject and "QX4471" in s.letter


@pytest.mark.parametrize("no_fault", [False, True])
@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_a_refused_discount_code_gets_a_letter_about_the_code(tone, no_fault):
    """A promotion not honoured is a pricing error (taxonomy.md), often before any order or payment:
    the letter names the code as written and promises no refund of a charge nobody mentioned; with
    an order and a charge, it refunds what the code should have taken off."""
    text = ("The discount code from your newsletter WELCOME15 says invalid at checkout "
            "even though it does not expire until next month.")
    s = customer_letter("pricing_error", text, tone, no_fault, subject="code not accepted")
    assert s.subject == "Your code WELCOME15: putting it right"
    assert "the code WELCOME15" in s.letter
    assert "order" not in (s.subject + s.letter).lower() and "charged more" not in s.letter
    assert "refund" not in s.letter
    assert "[how the saving will be honoured]" in s.to_fill and "[why it did not work]" in s.to_fill
    assert s.lint == (), [f.message for f in s.lint]
    s = customer_letter("pricing_error", "I used promo code SPRING24 on order 58812 but was charged the full $80.",
                        tone, no_fault, subject="Promo not applied")
    assert "SPRING24" in s.subject and "58812" in s.subject
    assert "refund what the code should have taken off" in s.letter and "[refund amount]" in s.to_fill
    assert s.lint == (), [f.message for f in s.lint]
    s = customer_letter("pricing_error", "My coupon was refused at the till even though it was in date.",
                        tone, no_fault, subject="Refused")
    assert s.subject == "Your coupon: putting it right" and "the coupon" in s.letter and "code" not in s.letter
    assert s.lint == (), [f.message for f in s.lint]
    # a price above the one shown keeps its own letter
    s = customer_letter("pricing_error", "Order 77120 was listed at $40 on your site but I was charged $55.",
                        tone, no_fault, subject="Wrong price")
    assert "code" not in s.letter and "77120" in s.subject


@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_a_billing_letter_names_no_order_the_ticket_never_had(tone):
    """A subscription charged twice has no order number: the billing_error letter then names no
    reference (it gives the amount when the ticket does); with an invoice, it quotes it."""
    s = customer_letter("billing_error", "You charged me $12.99 twice for my March subscription.",
                        tone, subject="Charged twice")
    assert "order" not in (s.subject + s.letter).lower() and "[order number]" not in s.to_fill
    assert s.subject == "The incorrect charge of $12.99: how I will put it right"
    assert s.lint == (), [f.message for f in s.lint]
    s = customer_letter("billing_error", "Invoice INV-22910 has a charge I do not recognise.",
                        tone, subject="Wrong bill")
    assert "invoice INV-22910" in s.subject and "invoice INV-22910" in s.letter


@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_a_website_letter_says_app_to_a_customer_who_wrote_about_the_app(tone):
    s = customer_letter("website_issue", "The app crashes every time I open the basket since the last update.",
                        tone, subject="Crashing")
    assert s.subject.startswith("The error you ran into in our app")
    assert "website" not in (s.subject + s.letter) and " site" not in s.letter and "app" in s.letter
    assert s.lint == (), [f.message for f in s.lint]
    s = customer_letter("website_issue", "Checkout fails on your website and in the app.", tone, subject="Checkout")
    assert "website" in s.subject


@pytest.mark.parametrize("no_fault", [False, True])
@pytest.mark.parametrize("tone", ["warm", "formal"])
@pytest.mark.parametrize("category, text", [
    ("delivery_delay", "Ordered a pizza at 7pm, promised in 30 minutes, the delivery partner came at 9pm."),
    ("product_defect", "There was a hair in my burrito and the rice was stale."),
    ("damaged_item", "My biryani arrived spilled all over the bag, the box was crushed."),
    ("wrong_item", "I ordered a salad and the restaurant sent a burrito, and the fries were missing."),
])
def test_a_meal_gets_no_parcel_carrier_or_warehouse(category, text, tone, no_fault):
    """A food order (topics.food) is not chased with a carrier, re-sent from a warehouse or returned
    with a label: the letter speaks of the meal and leaves what to do about the order to the agent."""
    s = customer_letter(category, text, tone, no_fault)
    words = (s.subject + s.letter).lower()
    for parcel_word in ("parcel", "carrier", "warehouse", "returns label", "replacement", "tracking"):
        assert parcel_word not in words, parcel_word
    assert any(p.startswith("[what you will do about the") for p in s.to_fill), s.to_fill
    assert s.lint == (), [f.message for f in s.lint]
    assert 60 <= len(s.letter.split()) <= 250
    # the compensation to consider is money back, not express shipping or an exchange
    assert "refund" in s.note.split("Compensation to consider: ")[1].split("\n")[0]


def test_compensation_for_a_meal_or_software_unless_the_admin_named_a_kind():
    from plugin.core.compensation import suggest
    from plugin.core.rules import Compensation

    assert suggest("delivery_delay", Compensation(), kinds=("food",)).kind == "delivery_fee_refund"
    assert suggest("delivery_delay", Compensation()).kind == "expedited_shipping"
    assert suggest("wrong_item", Compensation(), repeat=True, kinds=("food",)).kind == "refund_items_and_credit"
    assert suggest("product_defect", Compensation(), kinds=("software",)).kind == "priority_handling"
    assert suggest("delivery_delay", Compensation(kind="credit", amount=5, currency="EUR"),
                   kinds=("food",)).text == "a goodwill credit of EUR 5"
    assert suggest("billing_error", Compensation(), kinds=("food",)).kind == "refund_overcharge"  # no food ladder


@pytest.mark.parametrize("no_fault", [False, True])
@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_a_software_fault_gets_no_replacement_or_returns_label(tone, no_fault):
    """A fault in software (topics.software: an update, a game, firmware) has no unit to send back:
    the letter passes the report on and leaves the fix and any workaround to the agent."""
    s = customer_letter("product_defect", "Since the latest update my phone keyboard is glitchy and drops letters.",
                        tone, no_fault)
    words = (s.subject + s.letter).lower()
    assert "returns label" not in words and "replacement" not in words and "order" not in words
    assert "[what they will do about the fault]" in s.to_fill and "[product]" in s.to_fill
    assert "priority handling" in s.note
    assert s.lint == (), [f.message for f in s.lint]
    s = customer_letter("product_defect", "I bought a kettle and it stopped heating after two days.", tone, no_fault)
    assert "returns label" in s.letter  # goods keep the replacement or refund


@pytest.mark.parametrize("no_fault", [False, True])
@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_a_cancelled_flight_is_not_an_order_to_restock(tone, no_fault):
    """A flight the airline cancelled (topics.travel) gets another flight or the fare back, and names
    the booking only when the ticket gives one; no order number, restocked item or hold date."""
    s = customer_letter("order_cancelled", "My flight from MAN to LHR on Nov 3 was cancelled and I had to rebook.",
                        tone, no_fault)
    assert s.subject == "Your cancelled flight: why it happened and what comes next"
    assert "order" not in (s.subject + s.letter).lower() and "[hold date]" not in s.to_fill
    assert "[alternative flight]" in s.to_fill and "goodwill credit" in s.note
    assert s.lint == (), [f.message for f in s.lint]
    s = customer_letter("order_cancelled", "Booking reference QX4471: the airline cancelled my flight.", tone, no_fault)
    assert "flight (booking QX4471)" in s.subject and "flight (booking QX4471)" in s.letter


@pytest.mark.parametrize("tone", ["warm", "formal"])
@pytest.mark.parametrize("category, text", [
    ("miscommunication", "The loan officer told me the rate was fixed for 15 years, and now it has gone up."),
    ("missed_deadline", "The mortgage closing date passed and the lender still has not signed off."),
    ("refund_delay", "The bank said the disputed fee would be returned within 10 days. It has been a month."),
])
def test_a_letter_asks_for_no_order_number_where_there_was_no_order(category, text, tone):
    """A loan, a mortgage or a bank fee has no order: with no reference and no word of an order, the
    letter names none (`about` in _base.txt.j2); a ticket that speaks of an order still gets its
    "[order number]" placeholder."""
    s = customer_letter(category, text, tone)
    assert "order" not in (s.subject + s.letter).lower() and "[order number]" not in s.to_fill
    assert s.lint == (), [f.message for f in s.lint]
    s = customer_letter(category, text + " It was about my order.", tone)
    assert "[order number]" in s.to_fill


@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_a_dish_the_restaurant_ran_out_of_is_not_restocked(tone):
    s = customer_letter("out_of_stock", "The restaurant accepted my order and an hour later said the biryani was "
                        "out of stock.", tone)
    assert "restock" not in s.letter and "new stock" not in s.letter and "[restock date]" not in s.to_fill
    assert "[offer a swap for another dish]" in s.to_fill and "refund for the affected items" in s.note
    assert s.lint == (), [f.message for f in s.lint]


@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_an_app_with_nothing_to_order_is_not_offered_an_order_by_email(tone):
    s = customer_letter("website_issue", "Your streaming app will not even open on my TV since yesterday.", tone)
    assert "order" not in s.letter
    assert s.lint == (), [f.message for f in s.lint]
    s = customer_letter("website_issue", "Checkout keeps failing when I try to order the lamp.", tone)
    assert "place your order for you by email" in s.letter


def test_a_delayed_flight_is_offered_a_credit_not_redone_work():
    s = customer_letter("service_quality", "My flight was delayed five hours and nobody told us why.", "warm")
    assert "goodwill credit" in s.note and "redoing" not in s.note


@pytest.mark.parametrize("category", ["missed_deadline", "service_quality", "product_defect", "order_cancelled",
                                      "out_of_stock"])
def test_an_amount_the_ticket_does_not_call_a_payment_is_not_called_one(category):
    """'$20,000' in a mortgage complaint may be a loan, a rate or a fee: only an amount the words
    around it call a payment ("paid", "charged", "it cost") is quoted as what the customer paid."""
    s = customer_letter(category, "The closing slipped past the agreed date and the rate went up on the $20000.00.",
                        "warm")
    assert "$20000.00" not in s.letter
    s = customer_letter(category, "I paid $45.00 for it and the agreed date passed with nothing.", "warm")
    assert s.lint == (), [f.message for f in s.lint]


@pytest.mark.parametrize("no_fault", [False, True])
@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_a_cancelled_meal_is_refunded_and_nothing_is_held(tone, no_fault):
    s = customer_letter("order_cancelled", "The restaurant cancelled my order after I waited an hour for my food.",
                        tone, no_fault)
    assert "[hold date]" not in s.to_fill and "meal" in s.letter and "refunded in full" in s.letter
    assert s.lint == (), [f.message for f in s.lint]


@pytest.mark.parametrize("no_fault", [False, True])
@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_a_service_that_went_down_is_restored_and_credited(tone, no_fault):
    """Broadband or a mobile network that keeps going down (topics.outage) is restored, not redone:
    no "if you would rather we did not try again", and a service credit to consider."""
    s = customer_letter("service_quality", "My broadband has dropped every evening this week and I work from home.",
                        tone, no_fault)
    assert s.subject == "Your service going down, and what we are doing about it"
    assert "try again" not in s.letter and "[what is being done to restore the service]" in s.to_fill
    assert "service credit" in s.note and "redoing" not in s.note
    assert s.lint == (), [f.message for f in s.lint]


@pytest.mark.parametrize("no_fault", [False, True])
@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_luggage_is_traced_or_claimed_for_not_reshipped(tone, no_fault):
    """Luggage on a flight (topics.luggage) that did not arrive is traced by the baggage team, and one
    that arrived damaged gets a damage claim; no carrier, parcel, warehouse or returns label."""
    late = customer_letter("delivery_delay", "Our flight landed an hour ago and still no luggage on the carousel.",
                           tone, no_fault)
    damaged = customer_letter("damaged_item", "My suitcase came off the flight with a broken handle.", tone, no_fault)
    for s in (late, damaged):
        words = (s.subject + s.letter).lower()
        for parcel_word in ("parcel", "carrier", "warehouse", "returns label", "order"):
            assert parcel_word not in words, parcel_word
        assert s.lint == (), [f.message for f in s.lint]
    assert "baggage team" in late.letter and "essentials" in late.note
    assert "damage claim" in damaged.letter
    # a late flight filed as a delivery delay is not told about luggage
    flight = customer_letter("delivery_delay", "My flight to Denver is three hours late again.", tone, no_fault)
    assert "luggage" not in flight.letter.lower() and "essentials" not in flight.note


TOPIC_TICKETS = {  # one ticket per topic (plugin/core/topics.py) that switches a letter's wording
    "food": "The restaurant sent my pizza an hour late, cold, with the fries missing.",
    "luggage": "My suitcase did not come off the flight and the bag I did get was broken.",
    "travel": "The airline cancelled my flight BA0229 and I had to rebook.",
    "outage": "My broadband keeps going down every evening.",
    "software": "Since the latest update the game crashes on start.",
    "discount": "The promo code SAVE20 was refused at checkout.",
    "no order": "The loan officer told me the rate was fixed and it has gone up.",
    "identity": "There are accounts on my credit report that are not mine: this is identity theft.",
}


@pytest.mark.parametrize("topic", sorted(TOPIC_TICKETS))
@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_every_topic_branch_lints_clean_in_every_variant(category, topic):
    """Each category's customer letter for each topic, in every tone, fault wording and repeat state:
    `amends lint` renders only its two sample tickets, so the topics' branches are checked here."""
    from plugin.models import Previous

    previous = Previous("1", datetime(2026, 11, 1, tzinfo=timezone.utc), category)
    for tone in ("warm", "formal"):
        for no_fault in (False, True):
            for repeat in (None, previous):
                s = customer_letter(category, TOPIC_TICKETS[topic], tone, no_fault, previous=repeat)
                assert s.lint == (), (tone, no_fault, bool(repeat), [f.message for f in s.lint])
                assert 60 <= len(s.letter.split()) <= 250
                assert not DONE.search(s.letter), DONE.search(s.letter).group(0)


@pytest.mark.parametrize("no_fault", [False, True])
@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_fraud_in_the_customers_name_is_not_answered_with_a_password_reset(tone, no_fault):
    """Identity theft or charges the customer never made (topics.identity) go to the fraud team; a
    login taken over keeps the sign-out-everywhere letter."""
    s = customer_letter("security_incident", "Two accounts on my credit file do not belong to me: identity theft.",
                        tone, no_fault)
    assert s.subject.startswith("Your report of fraud")
    assert "password" not in s.letter and "sign your account out" not in s.letter
    assert "[what the fraud team will do about it]" in s.to_fill
    assert s.lint == (), [f.message for f in s.lint]
    s = customer_letter("security_incident", "Someone hacked my account and changed my password.", tone, no_fault)
    assert "sign your account out on every device" in s.letter
