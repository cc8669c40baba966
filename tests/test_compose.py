"""Composing a suggestion: facts, placeholders, audience, tone, rules, incidents, repeats, hostile text."""

import time
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from plugin.core.compose import Options, audience_for, compose
from plugin.core.lint import TEMPLATE_SYNTAX
from plugin.core.rules import default_rules
from plugin.core.rules_layer import apply
from plugin.models import Classification, Person, Previous, Ticket

NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
LATE = Classification("delivery_delay", 0.8, "refund_delay", ("not arrived",))


def ticket(name="Maria Gonzalez", subject="Order #A1234 is late", description="My parcel has not arrived.",
           assignee="", organization=""):
    return Ticket(id="1", subject=subject, description=description, requester=Person(id="5", name=name),
                  assignee=Person(name=assignee), organization=organization)


def test_note_has_header_divider_subject_letter_and_marker():
    s = compose(ticket(), LATE, "abc123", now=NOW)
    header, letter_part, footer = s.note.split("-" * 40)
    assert header.startswith("Amends suggestion: delivery_delay (confidence 0.80)")
    assert "Runner-up: refund_delay" in header and 'Decided by: "not arrived"' in header
    assert "Compensation to consider: express shipping" in header
    assert "To fill before sending: " in header and "Lint: ok" in header
    assert letter_part.strip().startswith("Subject: Your order #A1234 is late")  # quoted as the customer wrote it
    assert "Hi Maria," in letter_part
    assert footer.strip() == "amends-ref: abc123"
    assert s.tags == ("amends_suggested", "amends_delivery_delay")


def test_unknown_facts_stay_visible_placeholders_and_are_listed():
    s = compose(ticket(name="", subject="Late parcel"), LATE, "m", now=NOW)
    for placeholder in ("[customer name]", "[order number]", "[your name]", "[company name]",
                        "[new delivery date]"):
        assert placeholder in s.subject + s.letter
        assert placeholder in s.to_fill
    assert s.lint == ()


def test_settings_and_assignee_sign_the_letter():
    s = compose(ticket(assignee="Tom Baker"), LATE, "m", options=Options(company_name="Northwind", sign_off="Cheers"),
                now=NOW)
    assert s.letter.endswith("Cheers,\nTom Baker\nNorthwind")
    assert "[your name]" not in s.to_fill and "[company name]" not in s.to_fill


def test_order_from_the_configured_custom_field_wins():
    t = Ticket(id="1", subject="Late", description="order 55821 please", requester=Person(name="A B"),
               custom_fields=(("360014159265", "ZD-777"),))
    assert "ZD-777" in compose(t, LATE, "m", options=Options(order_field_id="360014159265")).subject
    assert "55821" in compose(t, LATE, "m").subject


def test_audience_defaults_to_client_for_an_organization():
    assert audience_for(ticket(organization="Acme Ltd"), "auto") == "client"
    assert audience_for(ticket(), "auto") == "customer"
    assert audience_for(ticket(organization="Acme Ltd"), "customer") == "customer"
    assert compose(ticket(organization="Acme Ltd"), LATE, "m").audience == "client"


def test_formal_tone_changes_greeting_and_sign_off():
    s = compose(ticket(), LATE, "m", tone="formal")
    assert s.letter.startswith("Dear Maria Gonzalez,") and "Yours sincerely," in s.letter
    assert "I'm" not in s.letter.split("\n\n")[1]


def test_no_fault_variant_admits_nothing():
    owned = compose(ticket(), LATE, "m", no_fault=False).letter
    empathic = compose(ticket(), LATE, "m", no_fault=True).letter
    assert "let you down" in owned
    # sympathy without blame: one "sorry" for what happened, no admission that we caused it
    assert "let you down" not in empathic and empathic.lower().count("sorry") == 1
    assert "we did not keep our word" not in empathic and "when we said" not in empathic


def test_no_fault_is_on_by_default_for_security_and_contract():
    rules = default_rules()
    assert rules.rule("security_incident").no_fault and rules.rule("contract_issue").no_fault
    assert not rules.rule("billing_error").no_fault


def test_rule_facts_fill_remedy_prevention_and_compensation_in_the_letter():
    rules = apply(default_rules(), {"categories": {"delivery_delay": {
        "remedy": "We have re-sent your parcel by express courier at our cost.",
        "prevention": "we now ship from two warehouses.",
        "tags": ["late_parcel"],
        "compensation": {"kind": "credit", "amount": 15, "currency": "EUR", "cap": 10, "in_letter": True}}}})
    s = compose(ticket(), LATE, "m", rules=rules, now=NOW)
    assert "We have re-sent your parcel by express courier at our cost." in s.letter
    assert "What we are changing: we now ship from two warehouses." in s.letter
    assert "a goodwill credit of EUR 10" in s.letter  # capped
    assert s.compensation == "a goodwill credit of EUR 10"
    assert "late_parcel" in s.tags
    assert s.lint == ()


def test_active_incident_gives_cause_and_remedy_only_inside_its_window():
    rules = apply(default_rules(), {"incidents": [{
        "category": "delivery_delay", "cause": "A storm closed our main warehouse.",
        "remedy": "Every delayed order now ships by express courier.",
        "starts": "2026-11-20T00:00:00Z", "ends": "2026-11-25T00:00:00Z"}]})
    inside = compose(ticket(), LATE, "m", rules=rules, now=NOW)
    assert "What happened: A storm closed our main warehouse." in inside.letter
    assert "Every delayed order now ships by express courier." in inside.letter
    assert "incident in effect" in inside.note
    outside = compose(ticket(), LATE, "m", rules=rules, now=datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert "storm" not in outside.letter and "[reason for the delay]" in outside.letter


def test_repeat_requester_is_flagged_remedy_steps_up_and_no_promise():
    previous = Previous("812", datetime(2026, 11, 2, tzinfo=timezone.utc), "delivery_delay")
    first = compose(ticket(), LATE, "m", now=NOW)
    again = compose(ticket(), LATE, "m", now=NOW, previous=previous)
    assert "Repeat: this requester got an apology suggestion on 2026-11-02 (ticket #812" in again.note
    assert "is not the first time" in again.letter
    assert first.compensation.startswith("express shipping")
    assert again.compensation.startswith("a refund of the shipping cost")  # one level up
    assert "Repeat:" not in first.note


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(max_size=60), subject=st.text(max_size=80), description=st.text(max_size=400))
def test_hostile_ticket_text_never_breaks_rendering_or_leaks_template_syntax(name, subject, description):
    t = ticket(name=name, subject=subject, description=description)
    s = compose(t, LATE, "m", now=NOW)  # must not raise, whatever the text
    assert s.letter.startswith("Hi ") and s.subject
    if not TEMPLATE_SYNTAX.search(name + subject + description):
        assert not TEMPLATE_SYNTAX.search(s.note)  # nothing of ours leaks


@pytest.mark.parametrize("payload", ["{{ config }}", "{% for x in range(9999999) %}x{% endfor %}",
                                     "{{ ''.__class__.__mro__ }}", "[order number] {#"])
def test_template_syntax_from_the_customer_comes_back_verbatim(payload):
    s = compose(ticket(name=f"{payload} Smith", description=payload), LATE, "m", tone="formal")
    assert s.letter.startswith(f"Dear {payload.replace('[', '(').replace(']', ')')} Smith,")


def test_a_second_complaint_is_acknowledged_in_the_letter():
    both = Classification("delivery_delay", 0.8, "poor_support", ("not arrived",), secondary="poor_support")
    s = compose(ticket(), both, "m", now=NOW)
    assert "You also mentioned how our support team treated you." in s.letter
    assert "Also complains about: poor_support" in s.note
    assert s.lint == ()
    formal = compose(ticket(), both, "m", now=NOW, tone="formal")
    assert "You also raised how our support team treated you." in formal.letter
    assert "You also" not in compose(ticket(), LATE, "m", now=NOW).letter


def test_a_letter_over_its_budget_raises_a_permanent_error_naming_it():
    from dataclasses import replace

    from plugin.core.rules import Rules
    from plugin.errors import LetterOverBudget, PermanentError

    # Straight into the rules, past the checks a save makes: only the render's budget stops it.
    looping = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}Subject: late"
    base = default_rules()
    edited = replace(base.rule("delivery_delay"), template=(("customer", looping),))
    rules = Rules({**base.categories, "delivery_delay": edited}, base.incidents)
    started = time.monotonic()
    with pytest.raises(LetterOverBudget) as err:
        compose(ticket(), LATE, "m", rules=rules, now=NOW, audience="customer")
    assert time.monotonic() - started < 2
    assert isinstance(err.value, PermanentError)
    assert err.value.reason == ("the letter delivery_delay.customer takes too long to render (more than 100,000 "
                                "loop turns, calls and filters)")
