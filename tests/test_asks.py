"""The customer's explicit requests (issue 13, "Asks"): found with their own words, listed in the
note, answered in every letter (the account's commitment, else a placeholder), never dropped; the
rules' `commitments` field; `amends draft --json`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plugin.core.asks import extract
from plugin.core.compose import PLACEHOLDER_RE, compose
from plugin.core.rules import RulesError, default_rules
from plugin.core.rules_document import dump
from plugin.core.rules_layer import loads
from plugin.core.suggest import Suggested
from plugin.models import ASK_KINDS, Ask, Classification, Person, Ticket
from plugin.services.drafting import as_draft
from tests.service import clean_environment

LATE = Classification("delivery_delay", 0.8)
PROMISE = "I will see to this for you personally within two working days."

# One ticket sentence per kind, and the customer's words the ask must keep.
BY_KIND = {
    "refund": ("Please refund the duplicate charge on my card.", "refund the duplicate charge on my card"),
    "replacement": ("Could you send a replacement kettle?", "send a replacement kettle"),
    "cancel_order": ("Please cancel my order.", "cancel my order"),
    "expedite": ("Can you upgrade it to express delivery?", "upgrade it to express delivery"),
    "lock_account": ("Someone logged in from abroad, so please lock my account.", "lock my account"),
    "callback": ("Could you call me back about invoice INV-2291?", "call me back about invoice INV-2291"),
    "escalate": ("I want to speak to a manager, not the same agent.", "speak to a manager"),
    "deadline": ("I need the parcel before the 21st.", "before the 21st"),
    "compensation": ("I expect compensation for the missed installation.", "compensation for the missed installation"),
    "explanation": ("Please explain what happened to my order.", "explain what happened to my order"),
}


def ticket(description: str, subject: str = "About my order #A1234") -> Ticket:
    return Ticket(id="1", subject=subject, description=description, requester=Person(id="5", name="Maria Gonzalez"))


def with_commitments(**promises: str):
    text = "commitments:\n" + "".join(f"  {kind}: {json.dumps(sentence)}\n" for kind, sentence in promises.items())
    return loads(text, default_rules())


def test_every_kind_has_an_example():
    assert set(BY_KIND) == set(ASK_KINDS)


@pytest.mark.parametrize("kind", ASK_KINDS)
def test_each_kind_is_found_with_the_customers_words(kind):
    sentence, words = BY_KIND[kind]
    assert extract("My order", f"My order #A1234 has been a mess. {sentence}") == (Ask(kind, words),)


@pytest.mark.parametrize("kind", ASK_KINDS)
def test_each_kind_gets_the_commitment_when_the_rules_allow_one(kind):
    s = compose(ticket(BY_KIND[kind][0]), LATE, "m", rules=with_commitments(**{kind: PROMISE}))
    assert s.asks == (Ask(kind, BY_KIND[kind][1]),)
    assert PROMISE in s.letter
    assert not any(p.startswith("[answer about") for p in s.to_fill)


@pytest.mark.parametrize("kind", ASK_KINDS)
def test_each_kind_gets_a_placeholder_otherwise(kind):
    s = compose(ticket(BY_KIND[kind][0]), LATE, "m", rules=default_rules())
    answers = [p for p in s.to_fill if p.startswith("[answer about")]
    assert len(answers) == 1 and answers[0] in s.letter
    assert PLACEHOLDER_RE.fullmatch(answers[0])
    assert PROMISE not in s.letter
    assert not [f for f in s.lint if f.code == "unlisted-placeholder"]


def test_the_letter_names_the_ask_in_its_own_voice():
    s = compose(ticket("My card was stolen. Please cancel the order and lock my account."), LATE, "m")
    assert "You asked us to cancel the order. [answer about cancelling the order]" in s.letter
    assert "You also asked us to lock your account. [answer about locking your account]" in s.letter
    formal = compose(ticket("Please lock my account."), LATE, "m", tone="formal")
    assert "You have asked us to lock your account." in formal.letter


def test_an_ask_under_a_kind_without_its_words_never_gets_that_kinds_commitment():
    rules = with_commitments(replacement="I will send you a replacement by courier at our cost.")
    s = compose(ticket("I expect you to honour the original booking terms."), LATE, "m", rules=rules)
    assert s.asks == (Ask("replacement", "honour the original booking terms"),)
    assert "replacement by courier" not in s.letter
    assert "[answer about honouring the original booking terms]" in s.to_fill


def test_an_escalation_is_answered_not_promised_away():
    s = compose(ticket("I want to speak to a manager, not the same agent."), LATE, "m")
    assert "You asked to speak to a manager. [answer about speaking to a manager]" in s.letter


@pytest.mark.parametrize("text", [
    "I got a refund last year and it took ages.",
    "Your manager told me last week it would be sorted.",
    "My account was locked yesterday and the order was cancelled.",
    "I asked for a refund twice already.",
    "Please don't cancel my order, I still want it.",
    "I was told I would get a replacement by Friday.",
    "Refund still not received for order #R55102",
    "Why was my order cancelled?",
])
def test_mere_mentions_are_no_asks(text):
    assert extract("", text) == ()


def test_several_asks_keep_their_order_and_one_per_kind():
    asks = extract("Express fee", "I paid £7.95 for express delivery. Please refund the £7.95 express fee and make "
                                  "sure it arrives before the 21st. I want a manager, not the same agent. "
                                  "Could you also call me back about invoice INV-2291?")
    assert asks == (Ask("refund", "refund the £7.95 express fee"), Ask("deadline", "before the 21st"),
                    Ask("escalate", "a manager"), Ask("callback", "call me back about invoice INV-2291"))


def test_two_refunds_of_different_amounts_stay_two_asks():
    asks = extract("", "Please refund the duplicate charge of £20 and also refund the £5 fee.")
    assert [a.kind for a in asks] == ["refund", "refund"]


def test_noun_led_asks_and_a_break_in():
    asks = extract("Break-in", "Someone broke into my account. I want the order cancelled and the account locked.")
    assert asks == (Ask("cancel_order", "the order cancelled"), Ask("lock_account", "the account locked"))
    s = compose(ticket("I want the order cancelled and the account locked."), LATE, "m")
    assert "You asked for the order to be cancelled." in s.letter


def test_ask_text_is_quoted_exactly_and_made_safe():
    asks = extract("", "Please refund the [duplicate] {{ config }} charge.")
    assert asks == (Ask("refund", "refund the (duplicate) {{ config }} charge"),)
    assert len(extract("", "Please refund " + "the very long charge " * 20)[0].text) <= 80


def test_the_note_lists_the_asks_near_the_top():
    s = compose(ticket("I paid £7.95 for express. Please refund the £7.95 express fee. I need it before the 21st."),
                LATE, "m")
    header = s.note.split("-" * 40)[0].splitlines()
    line = 'The customer asks: refund ("refund the £7.95 express fee"), deadline ("before the 21st")'
    assert line in header and header.index(line) < 3


def test_no_asks_no_line_and_no_paragraph():
    s = compose(ticket("My parcel has not arrived."), LATE, "m")
    assert s.asks == () and "The customer asks" not in s.note and "You asked" not in s.letter


def test_the_draft_json_carries_asks_even_without_a_letter():
    skipped = Suggested(LATE, LATE, None, None, asks_found=(Ask("cancel_order", "cancel my order"),))
    assert as_draft(skipped)["asks"] == [{"kind": "cancel_order", "text": "cancel my order"}]


def test_amends_draft_json_has_asks(tmp_path):
    data = json.loads((Path(__file__).parent / "fixtures" / "tickets" / "billing_error.customer.json").read_text())
    data["ticket"]["description"] = ("I was charged twice for my trainers. Please refund the duplicate, "
                                     "and I need it before the 21st.")
    path = tmp_path / "ticket.json"
    path.write_text(json.dumps(data))
    result = subprocess.run([sys.executable, "-m", "plugin.cli", "draft", "--ticket", str(path), "--json"],
                            cwd=tmp_path, env=clean_environment({}), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    draft = json.loads(result.stdout)
    assert draft["asks"] == [{"kind": "refund", "text": "refund the duplicate"},
                             {"kind": "deadline", "text": "before the 21st"}]
    assert 'The customer asks: refund ("refund the duplicate"), deadline ("before the 21st")' in draft["note"]
    assert draft["note"].index("The customer asks") < draft["note"].index("-" * 40)


# --- the rules' commitments ----------------------------------------------------------------------

def test_commitments_are_read_and_exported_byte_identically():
    rules = with_commitments(refund="I will refund the fee to your original payment method within 5 working days.",
                             callback="We'll call you back within one working day.")
    assert rules.commitment("refund").startswith("I will refund") and rules.commitment("escalate") == ""
    text = dump(rules)
    assert "commitments:\n  callback: We'll call you back" in text
    assert dump(loads(text, default_rules())) == text
    assert "commitments" not in dump(rules, base=rules, complete=False)
    assert "commitments:" in dump(rules, base=default_rules(), complete=False)


def test_a_layer_without_commitments_keeps_those_below():
    base = with_commitments(refund="I will refund you within 5 working days.")
    assert loads("categories:\n  wrong_item:\n    tone: formal\n", base).commitments == base.commitments
    assert loads("commitments: {}\n", base).commitments == ()


@pytest.mark.parametrize("document, where, why", [
    ("commitments:\n  moon: I will fly you there.\n", "line 2: commitments.moon", "not an ask kind"),
    ("commitments:\n  refund: We refund within 5 days.\n", "line 2: commitments.refund", "future tense"),
    ("commitments:\n  refund: \"I will {{ amount }} refund\"\n", "line 2: commitments.refund", "template syntax"),
    ("commitments:\n  refund: " + "I will refund. " * 30 + "\n", "line 2: commitments.refund", "keep it under 300"),
    ("commitments:\n  refund: [1, 2]\n", "line 2: commitments.refund", "must be text"),
    ("commitments: [refund]\n", "line 1: commitments", "must map an ask kind"),
])
def test_bad_commitments_are_refused_naming_the_line_and_key(document, where, why):
    with pytest.raises(RulesError) as caught:
        loads(document, default_rules())
    assert where in str(caught.value) and why in str(caught.value)


def test_placeholders_fit_the_pattern_whatever_the_words():
    s = compose(ticket("Please refund the £7.95 (express) fee! Call me back at 07700 900123."), LATE, "m")
    for placeholder in s.to_fill:
        assert re.fullmatch(r"\[[a-z][a-z' -]*\]", placeholder), placeholder


@pytest.mark.parametrize("tone", ["warm", "formal"])
def test_a_customer_who_asks_for_a_manager_is_not_told_the_same_agent_stays(tone):
    asked = ticket("The agent on the phone was rude and hung up on me. I want to speak to a manager, "
                   "not the same person again.")
    s = compose(asked, Classification("poor_support", 0.9), "m", rules=default_rules(), tone=tone,
                audience="customer")
    assert any(a.kind == "escalate" for a in s.asks)
    assert "dealing with one person" not in s.letter and "explain it all again" not in s.letter
    assert "explain the matter again" not in s.letter and "[answer about" in s.letter
    plain = compose(ticket("The agent on the phone was rude and hung up on me."),
                    Classification("poor_support", 0.9), "m", rules=default_rules(), tone="warm", audience="customer")
    assert "dealing with one person" in plain.letter  # without the ask, the promise stays
