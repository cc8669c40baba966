"""The linter fails on each bad pattern, with positions, and passes a good letter."""

import pytest

from plugin.core.lint import lint

GOOD = """Hi Maria,

I'm sorry that order A1234 hasn't arrived when we said it would.

What happened: the parcel was held up at the depot because of a missed scan.

I will ask the carrier to deliver it by [new delivery date], and I'll confirm once it is on its way.

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
    letter = GOOD.replace("I will ask", "We will refund 10% and I will ask")
    [finding] = [f for f in lint(letter, allowed_numbers={"1234", "A1234"}) if f.code == "invented-number"]
    assert letter[finding.start:finding.end] == "10%"
    assert not [f for f in lint(letter, allowed_numbers={"1234", "10"}) if f.code == "invented-number"]


def test_length_bounds():
    assert "length" in codes(lint("Hi.\n\nSorry.\n\nKind regards,\nTom"))
    assert "length" in codes(lint(GOOD + " word" * 300))


def test_vague_subject_fails():
    assert "subject" in codes(lint(GOOD, subject="Sorry"))


# --- Honest tense, absolute promises, compensation nobody gave us (issue 13).

def honesty(letter, **kwargs):
    return [(f.code, letter[f.start:f.end]) for f in lint(letter, **kwargs)
            if f.code in ("completed-claim", "absolute-promise", "unlisted-compensation")]


@pytest.mark.parametrize("sentence, claim", [
    ("I have cancelled the duplicate payment.", "I have cancelled"),
    ("We have arranged a replacement for you.", "We have arranged"),
    ("I've issued a corrected invoice.", "I've issued"),
    ("I have pushed the refund through as a priority.", "I have pushed"),
    ("We have signed your account out on every device.", "We have signed"),
    ("I have stopped the order.", "I have stopped"),
    ("I have read through your messages.", "I have read"),
    ("I have asked our payments team to refund the charge.", "I have asked"),
    ("Your refund has been processed.", "has been processed"),
    ("The order has now been cancelled.", "has now been cancelled"),
    ("We refunded the delivery fee.", "We refunded"),
    ("I can see the double charge, and I have refunded it.", "I have refunded"),
])
def test_completed_actions_are_claims(sentence, claim):
    letter = GOOD.replace("I will ask the carrier", sentence + " I will ask the carrier")
    assert honesty(letter) == [("completed-claim", claim)]


@pytest.mark.parametrize("sentence", [
    "I will cancel the duplicate payment.", "I'll arrange a replacement for you.",
    "Once the refund has been processed, I will confirm it to you.",
    "If the parcel has not arrived by Friday, I will send another.",
    "As soon as the funds have been released, I will let you know.",
    "You have waited far too long for this.", "Your parcel has not arrived.",
    "I'm sorry we have kept you waiting.", "I can see that we have charged you twice.",
    "You should have been told before you paid.", "I have not yet heard back from the carrier.",
    "I know this is not the first order of yours that we have cancelled.",
    "Tell me if there is something we've missed.", "I am sorry for the mistake we have made.",
])
def test_honest_future_and_conditional_forms_are_not_claims(sentence):
    letter = GOOD.replace("I will ask the carrier", sentence + " I will ask the carrier")
    assert honesty(letter) == []


def test_a_claim_in_the_rules_remedy_is_the_admins_to_make():
    remedy = "We have re-sent your parcel by express courier at our cost."
    letter = GOOD.replace("I will ask the carrier", remedy + " I will ask the carrier")
    assert honesty(letter) == [("completed-claim", "We have re-sent")]
    assert honesty(letter, given=(remedy,)) == []


@pytest.mark.parametrize("sentence, promise", [
    ("This will never happen again.", "will never happen again"),
    ("I promise it won't happen again.", "won't happen again"),
    ("We guarantee your next order arrives on time.", "We guarantee"),
    ("It is guaranteed to arrive tomorrow.", "is guaranteed"),
    ("This will always be right from now on.", "This will always"),
    ("We are 100% committed to fixing it.", "100%"),
])
def test_absolute_promises(sentence, promise):
    letter = GOOD.replace("I will ask the carrier", sentence + " I will ask the carrier")
    assert honesty(letter) == [("absolute-promise", promise)]


def test_never_as_a_fact_or_a_policy_is_no_promise():
    letter = GOOD.replace("I will ask the carrier", "This should never have happened. We will never ask for "
                          "your password. I will ask the carrier")
    assert honesty(letter) == []


def test_the_issues_examples_are_caught():
    letter = GOOD.replace("I will ask the carrier", "This will never happen again, we guarantee it. We will refund "
                          "you 100% today. I will ask the carrier")
    assert honesty(letter) == [("absolute-promise", "will never happen again"), ("absolute-promise", "we guarantee"),
                               ("unlisted-compensation", "100%")]


@pytest.mark.parametrize("sentence, offer", [
    ("Here is a £20 voucher for your trouble.", "£20 voucher"),
    ("We'd like to offer you 10% off your next order.", "10% off"),
    ("I will add a goodwill credit to your account.", "goodwill"),
    ("You will get free delivery on your next three orders.", "free delivery"),
])
def test_compensation_not_in_the_rules(sentence, offer):
    letter = GOOD.replace("I will ask the carrier", sentence + " I will ask the carrier")
    assert honesty(letter) == [("unlisted-compensation", offer)]


def test_compensation_from_the_rules_or_the_ticket_passes():
    offer = "a goodwill credit of USD 25"
    letter = GOOD.replace("I will ask the carrier", f"We'd like to offer you {offer}. I will refund the $84.50 "
                          "you paid twice. I'm sorry your voucher was refused. I will ask the carrier")
    assert honesty(letter, given=(offer,), ticket_text="charged twice, $84.50; my voucher was refused",
                   allowed_numbers={"84.50", "84", "50", "1234", "A1234", "25"}) == []
    invented = letter.replace("$84.50", "$95")
    assert ("unlisted-compensation", "$95") in honesty(invented, given=(offer,), allowed_numbers={"84.50", "25"})
