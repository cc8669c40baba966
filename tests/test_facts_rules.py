"""Facts from ticket text, rules files with clear errors, compensation ladder and caps."""

import pytest

from plugin.core.compensation import suggest
from plugin.core.facts import extract, numbers_in
from plugin.core.rules import Compensation, default_rules
from plugin.core.rules_layer import apply, load_rules
from plugin.errors import ConfigError
from plugin.models import Person, Ticket


def facts(subject="", description="", fields=(), field_id=""):
    return extract(Ticket(id="1", subject=subject, description=description, requester=Person(),
                          custom_fields=fields), field_id)


@pytest.mark.parametrize("text, order", [
    ("Where is order #A1234?", "A1234"), ("my order 55821 is late", "55821"), ("PO-2291 not received", "PO-2291"),
    ("Order number: 77812", "77812"), ("purchase order PO 3310", "PO-3310"), ("ticket about #12", ""),
    ("nothing here", ""),
])
def test_order_numbers(text, order):
    assert facts(description=text).order == order


def test_configured_field_wins_and_brackets_are_neutralised():
    assert facts(description="order 55821", fields=(("99", "[X-1]"),), field_id="99").order == "(X-1)"


def test_amounts_dates_and_product():
    f = facts(description="I ordered a blue kettle on March 3rd, paid $45.50 and then €12 on 2026-11-02.")
    assert f.amounts == ("$45.50", "€12")
    assert f.dates == ("March 3rd", "2026-11-02")
    assert f.product == "blue kettle"


def test_numbers_in_collects_runs_of_digits():
    assert {"45.50", "45", "50", "2026-11-02", "2026"} <= numbers_in("paid 45.50 on 2026-11-02")


def test_rules_file_overrides_defaults(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("categories:\n  billing_error:\n    tone: formal\n    tags: [billing]\n"
                    "    compensation: {amount: 20, currency: USD}\n")
    rules = load_rules(path)
    assert rules.rule("billing_error").tone == "formal"
    assert rules.rule("billing_error").compensation.amount == 20.0
    assert rules.rule("delivery_delay").tone == "warm"


@pytest.mark.parametrize("data, named", [
    ({"categories": {"billing_error": {"tone": "cheerful"}}}, "categories.billing_error.tone"),
    ({"categories": {"billing_error": {"colour": "red"}}}, "unknown key(s) colour"),
    ({"categories": {"billing_error": {"compensation": {"amount": "lots"}}}}, "compensation.amount"),
    ({"incidents": [{"category": "delivery_delay"}]}, "incidents[0]"),
    ({"incidents": [{"category": "x", "cause": "y", "starts": "soon"}]}, "incidents[0].starts"),
])
def test_bad_rules_are_named(data, named):
    with pytest.raises(ConfigError) as err:
        apply(default_rules(), data)
    assert named in str(err.value)


def test_compensation_kinds_caps_and_repeat_step_up():
    assert suggest("billing_error", Compensation()).text == "a refund of the amount overcharged ([amount])"
    assert suggest("wrong_item", Compensation()).text.startswith("an exchange")
    assert suggest("slow_response", Compensation()).kind == "priority_handling"
    assert suggest("service_quality", Compensation()).kind == "redo"
    capped = suggest("billing_error", Compensation(amount=80, cap=50, currency="USD"))
    assert capped.text == "a refund of the amount overcharged (USD 50)"
    repeat = suggest("billing_error", Compensation(amount=10, repeat_amount=25, currency="USD"), repeat=True)
    assert repeat.level == 2 and "goodwill credit of USD 25" in repeat.text
    assert suggest("other", Compensation()) is None
