"""The linter fails on each bad pattern, with positions, and passes a good letter."""

import pytest

from plugin.core.lint import lint

GOOD = """Hi Maria,

I'm sorry that order A1234 hasn't arrived when we said it would.

What happened: the parcel was held up at the depot because of a missed scan.

I have asked the carrier to deliver it by [new delivery date], and I'll confirm once it is on its way.

To stop this happening to other orders, we are changing how we check parcels that stop moving.

If anything doesn't look right, just reply to this email and I'll pick it up myself.

Kind regards,
Tom
Northwind"""


def codes(findings):
    return [f.code for f in findings]


def test_good_letter_is_clean():
    assert lint(GOOD, subject="Your order A1234 is late", to_fill=("[new delivery date]",),
                allowed_numbers={"1234", "A1234"}) == []


@pytest.mark.parametrize("phrase", ["We apologize for the inconvenience.", "Sorry for any inconvenience.",
                                    "Mistakes were made.", "We are sorry if you felt ignored.",
                                    "Sorry, but the courier is at fault."])
def test_generic_phrases_fail_with_position(phrase):
    letter = GOOD.replace("Hi Maria,", "Hi Maria,\n\n" + phrase)
    findings = [f for f in lint(letter) if f.code == "generic"]
    assert findings
    assert letter[findings[0].start:findings[0].end].lower() in phrase.lower()


def test_more_than_two_apology_words_fail():
    letter = GOOD.replace("What happened", "We apologise again. Our apologies. What happened")
    [finding] = [f for f in lint(letter) if f.code == "apology-count"]
    assert "3 sorry/apologise words" in finding.message
    assert letter[finding.start:finding.end] == "apologies"


@pytest.mark.parametrize("part, remove", [
    ("apology", "I'm sorry that order A1234 hasn't arrived when we said it would."),
    ("explanation", "What happened: the parcel was held up at the depot because of a missed scan."),
    ("prevention", "To stop this happening to other orders, we are changing how we check parcels that stop moving."),
    ("invitation", "If anything doesn't look right, just reply to this email and I'll pick it up myself."),
    ("close", "Kind regards,"),
])
def test_each_missing_part_is_reported(part, remove):
    letter = GOOD.replace(remove, "The rest of this letter says nothing of note at all here.")
    assert f"no {part} part found" in [f.message for f in lint(letter)]


def test_unlisted_placeholder_fails():
    [finding] = [f for f in lint(GOOD, to_fill=()) if f.code == "unlisted-placeholder"]
    assert GOOD[finding.start:finding.end] == "[new delivery date]"


def test_raw_template_syntax_fails():
    letter = GOOD.replace("Tom", "{{ agent }}")
    assert [f.code for f in lint(letter)].count("template-syntax") == 2


def test_invented_numbers_fail():
    letter = GOOD.replace("I have asked", "We refunded 10% and I have asked")
    [finding] = [f for f in lint(letter, allowed_numbers={"1234", "A1234"}) if f.code == "invented-number"]
    assert letter[finding.start:finding.end] == "10%"
    assert not [f for f in lint(letter, allowed_numbers={"1234", "10"}) if f.code == "invented-number"]


def test_length_bounds():
    assert "length" in codes(lint("Hi.\n\nSorry.\n\nKind regards,\nTom"))
    assert "length" in codes(lint(GOOD + " word" * 300))


def test_vague_subject_fails():
    assert "subject" in codes(lint(GOOD, subject="Sorry"))
