"""The decision (specific | general | none): the classifier's contract, the rules' thresholds,
the general letter in every variant, and the pipeline posting it."""

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from plugin import db
from plugin.connectors.zendesk import ZendeskConnector, ticket_from_show_response
from plugin.core.classify import default_classifier
from plugin.core.classify.calibration import Calibration, Platt
from plugin.core.compose import Options, compose
from plugin.core.decision import SkipReason, skip_reason, with_rules
from plugin.core.rules import GENERAL_LETTER, CategoryRule, Rules, default_rules
from plugin.core.rules_layer import RulesError, loads
from plugin.models import DECISIONS, GENERAL, NONE, SPECIFIC, Classification, Person, Previous, Ticket, TicketEvent
from plugin.services import pipeline
from tests.fixtures.tickets.regen import CASES

READINGS = [
    ("", "My parcel was supposed to arrive last Monday and it still has not come. Tracking is stuck."),
    ("Double charge", "You charged my card twice for the same order, $84.50 each time."),
    ("", "What time does your store on Main Street open on Sundays?"),
    ("", "Thanks so much, the new headphones sound amazing!"),
    ("", "not happy at all with this, sort it out"),
    ("", "Hola, mi pedido no ha llegado todavía"),
]


@pytest.mark.parametrize("subject, description", READINGS)
def test_every_reading_keeps_the_contract(subject, description):
    c = default_classifier().classify(subject, description)
    assert c.decision in DECISIONS
    assert len(c.candidates) <= 3
    scores = [score for _, score in c.candidates]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    if c.decision == NONE:
        assert c.category == "other"
    else:
        assert c.category == c.candidates[0][0] and c.confidence == c.candidates[0][1]
        assert c.complaint is not None and c.complaint >= default_classifier().calibration.complaint_threshold


def test_clear_complaints_are_specific_and_questions_are_none():
    classify = default_classifier().classify
    assert classify("", READINGS[0][1]).decision == SPECIFIC
    assert classify("", READINGS[0][1]).category == "delivery_delay"
    assert classify(*READINGS[1]).category == "billing_error"
    assert classify("", READINGS[2][1]).decision == NONE
    assert classify("", READINGS[3][1]).decision == NONE
    assert classify("", READINGS[5][1]).decision == NONE  # another language: no English letter


def test_calibration_decides_by_its_thresholds():
    cal = Calibration(complaint_threshold=0.3, specific_threshold=0.6, specific_thresholds=(("wrong_item", 0.8),))
    assert cal.decide(0.29, "billing_error", 0.99) == NONE
    assert cal.decide(0.51, "billing_error", 0.61) == SPECIFIC
    assert cal.decide(0.51, "billing_error", 0.59) == GENERAL
    assert cal.decide(0.49, "billing_error", 0.99) == GENERAL  # maybe not a complaint: no category's letter
    assert cal.decide(0.9, "wrong_item", 0.79) == GENERAL and cal.decide(0.9, "wrong_item", 0.8) == SPECIFIC
    assert cal.decide(0.9, "wrong_item", 0.5, threshold=0.4) == SPECIFIC  # an account's own threshold wins
    platt = Platt(a=2.0, b=-1.0)
    assert platt(0.5) == pytest.approx(1 / (1 + 2.718281828 ** 1.0), rel=1e-6)
    assert platt(0.9) > platt(0.6) > platt(0.2)  # monotone: a ranking survives calibration


def test_classification_derives_its_decision_and_refuses_unknown_ones():
    assert Classification("other", 0.9).decision == NONE
    assert Classification("wrong_item", 0.9).decision == SPECIFIC
    with pytest.raises(ValueError):
        Classification("wrong_item", 0.9, decision="maybe")


def reading(category="wrong_item", confidence=0.7, decision=SPECIFIC):
    return Classification(category, confidence, decision=decision, complaint=0.9,
                          candidates=((category, confidence), ("damaged_item", 0.2), ("delivery_delay", 0.05)))


def test_rules_threshold_moves_a_reading_between_specific_and_general():
    rules = Rules({"wrong_item": CategoryRule(threshold=0.8)})
    assert with_rules(reading(confidence=0.7), rules).decision == GENERAL
    assert with_rules(reading(confidence=0.85, decision=GENERAL), rules).decision == SPECIFIC
    unsure = replace(reading(confidence=0.95, decision=GENERAL), complaint=0.4)
    assert with_rules(unsure, rules).decision == GENERAL  # no rule makes a maybe-complaint specific
    assert with_rules(Classification("other", 0.8), rules).decision == NONE


def test_shipped_rules_carry_the_calibrated_thresholds_and_accept_an_admins():
    calibration = default_classifier().calibration
    assert default_rules().rule("service_quality").threshold == calibration.threshold("service_quality")
    rules = loads("format: 1\ncategories:\n  wrong_item:\n    threshold: 0.95\n", default_rules())
    assert with_rules(reading(confidence=0.9), rules).decision == GENERAL


def test_skip_reasons():
    off = Rules({"wrong_item": CategoryRule(enabled=False, threshold=0.5)})
    assert skip_reason(Classification("other", 0.9), off) is SkipReason.NOT_A_COMPLAINT
    assert skip_reason(with_rules(reading(confidence=0.9), off), off) is SkipReason.RULE_DISABLED
    assert SkipReason.RULE_DISABLED.sentence("wrong_item") == "the rule for wrong_item is disabled"
    assert SkipReason("not_a_complaint").sentence() == "not a complaint that calls for an apology"
    assert skip_reason(reading(confidence=0.3, decision=GENERAL), off) is None  # the general letter is still posted


def test_general_is_not_a_category_an_admin_can_define():
    with pytest.raises(RulesError, match="general"):
        loads("format: 1\ncategories:\n  general:\n    label: General\n    phrases: {x: 1}\n", default_rules())


def test_general_note_lists_the_candidates_and_promises_nothing_specific():
    ticket = Ticket(id="7", subject="Order #A1234", description="This is not good enough, I paid $45.50.",
                    requester=Person(id="1", name="Ann Lee"))
    rules = Rules({**default_rules().categories,
                   "wrong_item": CategoryRule(remedy="We will send the right size by courier.")})
    s = compose(ticket, reading(confidence=0.41, decision=GENERAL), "m", rules=rules,
                options=Options(company_name="Northwind Goods"))
    first, second = s.note.splitlines()[:2]
    assert first.startswith("Amends suggestion: general letter") and "complaint confidence 0.90" in first
    assert second.startswith("Likely categories: wrong_item 0.41, damaged_item 0.20, delivery_delay 0.05")
    assert s.tags == ("amends_suggested", "amends_general")
    assert "right size" not in s.letter and s.compensation == ""  # no category's remedy or offer
    assert "[what you will do next]" in s.to_fill and "A1234" in s.subject
    assert s.lint == ()


@pytest.mark.parametrize("audience", ["customer", "client"])
@pytest.mark.parametrize("tone", ["warm", "formal"])
@pytest.mark.parametrize("no_fault", [False, True])
@pytest.mark.parametrize("repeat", [False, True])
def test_general_letter_lints_clean_in_every_variant(audience, tone, no_fault, repeat):
    ticket = ticket_from_show_response(CASES[("delivery_delay", audience)])
    previous = Previous("1", datetime(2026, 11, 1, tzinfo=timezone.utc), GENERAL_LETTER) if repeat else None
    s = compose(ticket, reading(decision=GENERAL), "m", audience=audience, tone=tone, no_fault=no_fault,
                previous=previous, options=Options(company_name="Northwind Goods"))
    assert s.lint == (), [f.message for f in s.lint]
    assert 60 <= len(s.letter.split()) <= 250
    assert ("sorry" in s.letter.lower() or "apology" in s.letter.lower())  # no-fault keeps sorrow, not blame
    if repeat:
        assert "happen again" not in s.letter.lower()
    if formal := tone == "formal":
        assert "I'm" not in s.letter and "I'll" not in s.letter
    assert formal or "Hi " in s.letter or "Dear " in s.letter


@pytest.fixture
def stack(make_settings, fake_zendesk):
    settings = make_settings(zendesk_api_url=fake_zendesk.url, http_timeout_seconds=0.5, lease_seconds=5.0)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    fake_zendesk.add_ticket(4242, subject="Order #A1234", description="My parcel has not arrived yet.",
                            requester={"id": 9, "name": "Maria Gonzalez", "email": "m@example.com"},
                            organization=None, tags=[])
    yield settings, engine, ZendeskConnector(settings), fake_zendesk
    engine.dispose()


def test_pipeline_posts_the_general_letter_when_the_rule_asks_for_more_confidence(stack):
    settings, engine, connector, fake = stack
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id="4242", kind="ticket.created",
                        delivery_keys=("event:g1",), subject="Order #A1234",
                        description="My parcel has not arrived yet.", requester=Person(id="9", name="Maria Gonzalez"))
    event_id = db.accept_event(engine, event).event_id
    strict = Rules({**default_rules().categories,
                    "delivery_delay": replace(default_rules().rule("delivery_delay"), threshold=1.01)})
    assert pipeline.process_event(engine, connector, settings, event_id, "w1", rules=strict).outcome == "posted"
    [note] = [c for c in fake.comments(4242) if c.get("public") is False]
    assert note["body"].startswith("Amends suggestion: general letter")
    assert "Likely categories: delivery_delay" in note["body"]
    assert set(fake.ticket_tags(4242)) == {"amends_suggested", "amends_general"}
    assert fake.contract_errors == []
