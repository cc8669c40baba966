"""The interim letter and note: first name, placeholders, marker, hostile text stays data."""

from hypothesis import given, settings as hsettings
from hypothesis import strategies as st

from plugin.classify import classify
from plugin.compose import compose
from plugin.models import Classification, Person, Ticket


def ticket(name="Maria Gonzalez", description="My parcel has not arrived.", assignee=""):
    return Ticket(id="1", subject="Late", description=description, requester=Person(name=name),
                  assignee=Person(name=assignee))


def test_note_greets_by_first_name_and_carries_marker():
    s = compose(ticket(), Classification("delivery_delay", 0.8, "refund_delay", ("not arrived",)), "abc123")
    assert s.letter.startswith("Hi Maria,")
    assert s.note.endswith("amends-ref: abc123")
    assert 'Decided by: "not arrived"' in s.note
    assert s.tags == ("amends_suggested", "amends_delivery_delay")


def test_unknown_facts_stay_visible_placeholders_and_are_listed():
    s = compose(ticket(name=""), Classification("billing_error", 0.5), "m")
    assert "[customer name]" in s.letter and "[your name]" in s.letter
    assert set(s.to_fill) == {"[customer name]", "[remedy]", "[your name]", "[company name]"}
    assert "To fill before sending: [customer name]" in s.note


def test_assignee_signs_the_letter():
    s = compose(ticket(assignee="Tom Baker"), Classification("billing_error", 0.5), "m")
    assert "Tom Baker" in s.letter and "[your name]" not in s.to_fill


@hsettings(max_examples=200, deadline=None)
@given(name=st.text(max_size=60))
def test_hostile_names_are_data_not_template(name):
    s = compose(ticket(name=name), Classification("delivery_delay", 0.5), "m")
    first = name.split()[0] if name.split() else "[customer name]"
    assert s.letter.startswith(f"Hi {first},")


def test_template_syntax_in_a_name_comes_back_verbatim():
    s = compose(ticket(name="{{config}} {%print(1)%}"), Classification("delivery_delay", 0.5), "m")
    assert s.letter.startswith("Hi {{config}},")


def test_interim_classifier_finds_a_category_with_evidence_or_abstains():
    c = classify("Where is my order?", "It has not arrived and tracking shows nothing")
    assert c.category == "delivery_delay" and "not arrived" in c.evidence and 0 < c.confidence <= 1
    assert classify("Opening hours", "When are you open on Sundays?").category == "other"
