"""The rules document: format, errors that name the line, byte-identical round trips, atomic
import, layering over AMENDS_RULES_FILE, custom categories in the classifier, the worker
picking up a saved change, edited letters in compose, and the sandbox refusing unsafe ones."""

from __future__ import annotations

import random
import re
import time
import tracemalloc
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from plugin import db
from plugin.core.classify import load_examples
from plugin.core.compose import compose, shipped_source
from plugin.core.letters import lint_template, shipped_templates
from plugin.core.rules import CATEGORIES, RulesError, default_rules
from plugin.core.rules_document import dump, parse
from plugin.core.rules_layer import apply, load_rules, loads
from plugin.models import Classification, Person, Ticket, TicketEvent
from plugin.services import rulebook
from plugin.services.drafting import classifier_for_rules

ACCOUNT = ("zendesk", "acme")
NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)
EDITED = """{% extends "_base.txt.j2" %}
{% block subject %}Order {{ order }}: still on its way, and what we are doing{% endblock %}
{% block apology %}I'm sorry order {{ order }} is late. You planned around our date and we missed it.{% endblock %}
{% block explanation %}{{ explanation or "What happened: [reason for the delay]." }}{% endblock %}
{% block remedy %}I have asked our courier to deliver it first thing tomorrow, and I will check it myself.{% endblock %}
{% block prevention %}To stop this happening to other orders we are [what we are changing].{% endblock %}
"""
DOCUMENT = f"""format: 1
categories:
  delivery_delay:
    tone: formal
    tags: [shipping, vip]
    threshold: 0.3
    compensation: {{kind: shipping_refund, amount: 10, currency: EUR, cap: 25}}
    phrases: {{"Parcel is MISSING": 1.5, "tracking number": -1}}
    template:
      customer: |
{''.join('        ' + line + chr(10) for line in EDITED.splitlines())}  loyalty_points:
    label: Loyalty points missing
    phrases: [loyalty points, reward points]
    remedy: We have added the missing points to your account.
  wrong_item:
    enabled: false
incidents:
  - category: delivery_delay
    cause: A storm closed our main warehouse for two days.
    remedy: Every delayed order now ships by express courier.
    starts: 2026-11-20T00:00:00Z
    ends: 2026-11-25T00:00:00Z
"""


def ticket(subject="Order #A1234 is late", description="My parcel has not arrived.", organization=""):
    return Ticket(id="1", subject=subject, description=description, requester=Person(name="Maria Gonzalez"),
                  organization=organization)


# --- format and export ------------------------------------------------------------------------

def test_document_fields_are_read():
    rules = loads(DOCUMENT, default_rules())
    rule = rules.rule("delivery_delay")
    assert (rule.tone, rule.tags, rule.threshold) == ("formal", ("shipping", "vip"), 0.3)
    assert rule.compensation.amount == 10.0 and rule.compensation.cap == 25.0
    assert rule.phrases == (("parcel is missing", 1.5), ("tracking number", -1.0))
    assert rule.source("customer") == EDITED and rule.source("client") is None
    custom = rules.rule("loyalty_points")
    assert custom.label == "Loyalty points missing" and custom.phrases == (("loyalty points", 2.0),
                                                                          ("reward points", 2.0))
    assert rules.rule("wrong_item").enabled is False and rules.rule("billing_error").enabled is True
    assert rules.ids()[:len(CATEGORIES)] == list(CATEGORIES) and rules.ids()[-1] == "loyalty_points"
    [incident] = rules.incidents
    assert incident.starts == datetime(2026, 11, 20, tzinfo=timezone.utc)


def test_export_is_complete_sorted_and_leaves_shipped_letters_out():
    text = dump(loads(DOCUMENT, default_rules()), default_rules())
    data, _ = parse(text)
    assert list(data["categories"]) == sorted(list(CATEGORIES) + ["loyalty_points"])
    assert all(set(fields) >= {"enabled", "audience", "tone", "no_fault", "threshold", "tags", "remedy",
                               "prevention", "compensation", "phrases"} for fields in data["categories"].values())
    assert [c for c, fields in data["categories"].items() if "template" in fields] == ["delivery_delay"]
    assert "Kind regards" not in text  # the shipped frame is never inlined
    assert dump(default_rules()) == dump(default_rules())


def test_export_import_export_is_byte_identical():
    base = default_rules()
    first = dump(loads(DOCUMENT, base), base)
    again = dump(loads(first, base), base)
    assert again == first
    odd = loads("categories:\n  billing_error:\n    remedy: \"  trailing  \\n  lines \\t\"\n", base)
    assert dump(loads(dump(odd, base), base), base) == dump(odd, base)


def test_round_trip_through_the_database(engine):
    base = default_rules()
    rulebook.import_document(engine, base, *ACCOUNT, DOCUMENT, actor="test")
    first = rulebook.export(rulebook.load(engine, base, *ACCOUNT))
    book, changed = rulebook.import_document(engine, base, *ACCOUNT, first, actor="test")
    assert not changed and book.version == 1
    assert rulebook.export(rulebook.load(engine, base, *ACCOUNT)) == first


# --- errors name the line -------------------------------------------------------------------------

@pytest.mark.parametrize("document, line, named", [
    ("categories:\n  delivery_delay:\n    tone: cheerful\n", 3, "categories.delivery_delay.tone: must be one of"),
    ("categories:\n  delivery_delay:\n    tone: warm\n    tone: formal\n", 4, "'tone' appears twice (first on line 3)"),
    ("categories:\n  delivery_delay:\n    colour: red\n", 3, "unknown key(s) colour"),
    ("categories:\n  billing_error: {}\n  wrong_item:\n    compensation:\n      amount: lots\n", 5,
     "categories.wrong_item.compensation.amount: must be a number"),
    ("categories:\n  delivery_delay:\n    tags: [ok, 'not ok']\n", 3, "tags[1]"),
    ("incidents:\n  - category: delivery_delay\n    cause: x\n  - category: nope\n    cause: y\n", 4,
     "incidents[1].category: no category 'nope'"),
    ("incidents:\n  - category: delivery_delay\n    cause: x\n    starts: soon\n", 4, "incidents[0].starts"),
    ("categories:\n  loyalty:\n    label: Loyalty\n", 2, "needs at least one phrase"),
    ("categories:\n  other: {}\n", 2, "'other' means no apology"),
    ("format: 2\n", 1, "unsupported format 2"),
    ("categories: [1, 2\n", 2, "not valid YAML"),
    ("categories:\n  delivery_delay:\n    template:\n      customer: |\n        line one\n        {% if %}\n", 6,
     "template line 2"),
])
def test_errors_name_the_line_and_the_key_path(document, line, named):
    with pytest.raises(RulesError) as err:
        loads(document, default_rules(), source="rules.yaml")
    assert err.value.line == line, str(err.value)
    assert named in str(err.value) and str(err.value).startswith(f"rules.yaml, line {line}")


@pytest.mark.parametrize("expression", [
    "{{ ''.__class__ }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}", "{{ range.__self__ }}", "{{ config }}",
])
def test_the_sandbox_refuses_unsafe_letters(expression):
    document = ("categories:\n  delivery_delay:\n    template:\n      client: |\n"
                "        Subject: a safe subject line\n\n        " + expression + "\n")
    with pytest.raises(RulesError) as err:
        loads(document, default_rules())
    assert err.value.line == 7 and "template line 3" in str(err.value)


def test_import_is_atomic(engine):
    base = default_rules()
    rulebook.import_document(engine, base, *ACCOUNT, "categories:\n  billing_error:\n    tone: formal\n", actor="t")
    before = rulebook.export(rulebook.load(engine, base, *ACCOUNT))
    bad = DOCUMENT + "  - category: delivery_delay\n    cause: fine\n    ends: never\n"
    with pytest.raises(RulesError) as err:
        rulebook.import_document(engine, base, *ACCOUNT, bad, actor="t")
    assert "incidents[1].ends" in str(err.value)
    assert rulebook.export(rulebook.load(engine, base, *ACCOUNT)) == before
    assert db.rule_document_version(engine, *ACCOUNT) == 1 and len(db.list_audit(engine, *ACCOUNT)) == 1


def test_save_and_audit_in_one_transaction_and_versions(engine):
    base = default_rules()
    book, changed = rulebook.import_document(engine, base, *ACCOUNT, DOCUMENT, actor="cli")
    assert changed and book.version == 1
    [entry] = db.list_audit(engine, *ACCOUNT)
    assert (entry["actor"], entry["action"]) == ("cli", "rules.import")
    assert "tone: warm" in entry["before"] and "loyalty_points" in entry["after"]
    assert db.save_rule_document(engine, *ACCOUNT, "x", expect_version=0, actor="a", action="b", target="c",
                                 before=None, after=None) is None  # a stale writer loses, and writes no audit
    assert len(db.list_audit(engine, *ACCOUNT)) == 1


# --- layers ----------------------------------------------------------------------------------------

def test_effective_rules_layer_defaults_file_and_console(engine, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("categories:\n  billing_error:\n    tone: formal\n    tags: [billing]\n"
                    "incidents:\n  - category: billing_error\n    cause: Our payment provider double-charged.\n")
    base = load_rules(path)
    rulebook.import_document(engine, base, *ACCOUNT, "categories:\n  billing_error:\n    tags: [console]\n",
                             actor="t")
    rules = rulebook.effective_rules(engine, base, *ACCOUNT)
    assert rules.rule("billing_error").tone == "formal"  # from the file
    assert rules.rule("billing_error").tags == ("console",)  # the console wins
    assert rules.rule("contract_issue").no_fault is True  # shipped default
    assert rules.incidents == base.incidents
    stored = db.rule_document(engine, *ACCOUNT)["document"]
    assert "tags:" in stored and "tone:" not in stored and "incidents" not in stored  # only the difference
    path.write_text("categories:\n  billing_error:\n    tone: warm\n")
    assert rulebook.effective_rules(engine, load_rules(path), *ACCOUNT).rule("billing_error").tone == "warm"


def test_a_rules_file_still_loads_with_its_older_template_form(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("categories:\n  wrong_item:\n    template: apologies/en/damaged_item.customer.txt.j2\n")
    rule = load_rules(path).rule("wrong_item")
    assert rule.source("customer") == shipped_source("damaged_item", "customer") == rule.source("client")
    path.write_text("categories:\n  wrong_item:\n    template: ../../etc/passwd\n")
    with pytest.raises(RulesError):
        load_rules(path)


# --- the classifier --------------------------------------------------------------------------------

CUSTOM = "categories:\n  loyalty_points:\n    label: Loyalty points\n    phrases: [loyalty points, reward points]\n"


def test_a_custom_category_is_recognised_by_its_phrases():
    rules = loads(CUSTOM, default_rules())
    classifier = classifier_for_rules(rules)
    found = classifier.classify("Loyalty points missing", "My loyalty points from my last three orders never "
                                "showed up in my account and now I can't use them.")
    assert found.category == "loyalty_points" and "loyalty points" in found.evidence
    late = classifier.classify("Order #A1234", "My parcel has not arrived and tracking hasn't moved in a week.")
    assert late.category == "delivery_delay"


def test_a_custom_category_never_wins_without_one_of_its_phrases():
    rules = loads(CUSTOM.replace("[loyalty points, reward points]", "{order: 4.0}"), default_rules())
    classifier = classifier_for_rules(rules)
    texts = [text for text, _ in random.Random(5).sample(load_examples(), 400)]
    for text in texts:
        result = classifier.classify("", text)
        assert result.category != "loyalty_points" or re.search(r"\border\b", text.lower()), text


def test_extra_phrases_reach_the_classifier_and_negative_ones_are_not_evidence():
    text = "The zorblax on my statement is wrong"
    plain = classifier_for_rules(default_rules()).classify("", text)
    rules = loads("categories:\n  billing_error:\n    phrases: {zorblax: 4.0, statement: -0.5}\n", default_rules())
    boosted = classifier_for_rules(rules).classify("", text)
    assert boosted.category == "billing_error" and "zorblax" in boosted.evidence
    assert plain.evidence != boosted.evidence
    boosts, found, _ = classifier_for_rules(rules).phrases.score(text)
    assert boosts["billing_error"] == 3.5 and found["billing_error"] == ["zorblax"]
    assert classifier_for_rules(rules) is classifier_for_rules(rules)  # cached per phrase set


# --- the worker and compose ----------------------------------------------------------------------------

def test_the_rules_reload_when_the_version_changes(settings, engine):
    tasks = rulebook.Rulebooks(engine, load_rules(settings.rules_file))
    assert tasks.rules_for(*ACCOUNT).rule("billing_error").tone == "warm"
    rulebook.import_document(engine, tasks.base, *ACCOUNT, "categories:\n  billing_error:\n    tone: formal\n",
                             actor="t")
    assert tasks.rules_for(*ACCOUNT).rule("billing_error").tone == "formal"
    cached = tasks.rules_for(*ACCOUNT)
    assert tasks.rules_for(*ACCOUNT) is cached  # same version: not parsed again
    assert tasks.rules_for("zendesk", "other-account").rule("billing_error").tone == "warm"
    with engine.begin() as conn:  # a document that no longer validates: the worker keeps going on the base
        conn.execute(db.rule_documents.update().values(version=9, document="categories: {nope!: 1}"))
    assert tasks.rules_for(*ACCOUNT) == tasks.base


def test_pipeline_posts_with_the_saved_rules_without_restart(make_settings, fake_zendesk):
    from plugin.models import TicketEvent
    from plugin.queue import make_huey
    from plugin.tasks import Tasks

    settings = make_settings(zendesk_api_url=fake_zendesk.url)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    tasks = Tasks(settings, make_huey(settings), engine, rulebook.Rulebooks(engine, load_rules(settings.rules_file)))

    def deliver(ticket_id):
        fake_zendesk.add_ticket(ticket_id, subject="Order #A1234 still not here",
                                description="My parcel has not arrived and tracking has not moved in a week.",
                                requester={"id": 501, "name": "Maria Gonzalez", "email": "m@example.com"},
                                organization=None, tags=[])
        event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=str(ticket_id), kind="ticket.created",
                            delivery_keys=(f"k{ticket_id}",), subject="Order #A1234 still not here",
                            description="My parcel has not arrived and tracking has not moved in a week.",
                            requester=Person(id=f"50{ticket_id}", name="Maria Gonzalez"))
        return tasks.process.call_local(db.accept_event(engine, event).event_id)

    assert deliver(1) == "posted"
    base = tasks.rulebooks.base
    rulebook.import_document(engine, base, *ACCOUNT, DOCUMENT.replace("threshold: 0.3", "threshold: 0.0"), actor="t")
    assert deliver(2) == "posted"
    [note] = [c for c in fake_zendesk.comments(2) if c.get("public") is False]
    assert "I have asked our courier to deliver it first thing tomorrow" in note["body"]
    assert {"shipping", "vip"} <= set(fake_zendesk.ticket_tags(2))
    rulebook.import_document(engine, base, *ACCOUNT, "categories:\n  delivery_delay:\n    enabled: false\n", actor="t")
    assert deliver(3) == "skipped"
    engine.dispose()


def test_compose_renders_the_edited_letter_in_the_sandbox():
    rules = loads(DOCUMENT, default_rules())
    s = compose(ticket(), Classification("delivery_delay", 0.9), "m", rules=rules, now=NOW, audience="customer")
    assert s.subject == "Order A1234: still on its way, and what we are doing"
    assert "first thing tomorrow" in s.letter and "Dear Maria Gonzalez," in s.letter  # the rule's formal tone
    assert "What happened: A storm closed our main warehouse" in s.letter  # the incident, inside the window
    client = compose(ticket(organization="Acme"), Classification("delivery_delay", 0.9), "m", rules=rules, now=NOW)
    assert client.audience == "client" and "first thing tomorrow" not in client.letter  # shipped client letter


def test_a_custom_category_gets_the_generic_letter_until_it_has_its_own():
    rules = loads(DOCUMENT, default_rules())
    s = compose(ticket(), Classification("loyalty_points", 0.9), "m", rules=rules, now=NOW)
    assert s.subject.startswith("Loyalty points missing: what went wrong")
    assert "We have added the missing points to your account." in s.letter and s.lint == ()
    assert "amends_loyalty_points" in s.tags


def test_the_generic_letters_lint_clean_in_every_variant():
    generic = [p for p in shipped_templates() if p.name.startswith("_custom")]
    assert len(generic) == 2
    for path in generic:
        assert all(c.findings == () for c in lint_template(path, default_rules())), path


# --- round trips for any text ----------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="{}"), max_size=60)


@hsettings(max_examples=60, deadline=None)
@given(remedy=TEXT, prevention=TEXT, label=TEXT.filter(lambda t: t.strip()), cause=TEXT.filter(lambda t: t.strip()),
       letter=TEXT.filter(lambda t: t.strip()), weight=st.floats(-5, 5).filter(lambda w: w != 0),
       amount=st.none() | st.floats(0, 1e6))
def test_any_text_survives_export_import_export(remedy, prevention, label, cause, letter, weight, amount):
    base = default_rules()
    try:
        rules = apply(base, {"categories": {
            "billing_error": {"remedy": remedy, "prevention": prevention, "compensation": {"amount": amount},
                              "template": {"client": letter}},
            "own_category": {"label": label[:80], "phrases": {"our words": weight, "more words": 1.0}}},
            "incidents": [{"category": "own_category", "cause": cause}]})
    except RulesError:
        return  # e.g. a label of only spaces: refused, nothing to round-trip
    first = dump(rules, base)
    assert loads(first, base) == rules
    assert dump(loads(first, base), base) == first


def test_a_branch_for_facts_not_yet_given_is_checked_too():
    document = ("categories:\n  delivery_delay:\n    template:\n      customer: |\n"
                "        Subject: about your order\n        {% if remedy %}{{ remedy.missing_thing }}{% endif %}\n")
    with pytest.raises(RulesError) as err:
        loads(document, default_rules())  # the rule has no remedy yet, but one day it will
    assert err.value.line == 6 and "missing_thing" in str(err.value)


# --- documents and letters that would exhaust memory or CPU -------------------------------------------

def alias_bomb(levels: int = 8, width: int = 9) -> str:
    """A "billion laughs": each line lists the one before `width` times (9**8 leaves in ~340 bytes)."""
    lines = [f"a0: &a0 [{','.join('x' * width)}]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once_in_little_memory():
    document = alias_bomb()
    assert len(document) < 400
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(RulesError) as err:
            loads(document, default_rules())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1 and peak < 5_000_000
    assert err.value.line == 1 and "anchors and aliases" in str(err.value)
    with pytest.raises(RulesError, match="anchors and aliases"):  # a merge key is an alias as well
        loads("x: &x {tone: formal}\ncategories:\n  billing_error:\n    <<: *x\n", default_rules())


@pytest.mark.parametrize("document", [
    "categories:\n" + "".join(" " * (2 * i + 2) + f"k{i}:\n" for i in range(5000)),  # block style
    "categories: " + "[" * 5000 + "]" * 5000 + "\n",  # flow style
    "categories: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
])
def test_deeply_nested_yaml_is_a_rules_error_not_a_recursion_error(document):
    with pytest.raises(RulesError) as err:
        loads(document, default_rules())
    assert "nest" in str(err.value) and err.value.line is not None


def test_a_document_of_too_many_values_is_refused_quickly():
    started = time.monotonic()
    with pytest.raises(RulesError, match="more than 20000 values"):
        loads("incidents: [" + ",".join(["0"] * 300_000) + "]\n", default_rules())
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("value, line", [
    ("threshold: " + "9" * 5000, 3),  # more digits than Python converts
    ("compensation: {amount: 1}\n    tone: warm\n    remedy: 2026-13-45", 5),  # a timestamp with month 13
])
def test_values_yaml_reads_but_python_cannot_hold_name_their_line(value, line):
    with pytest.raises(RulesError) as err:
        loads(f"categories:\n  delivery_delay:\n    {value}\n", default_rules())
    assert err.value.line == line and "not valid YAML" in str(err.value)


@pytest.mark.parametrize("value", [
    "admin/base.html", "sidebar/sidebar.html", "admin/style.css", "apologies/README.md", "apologies/en/_base.txt.j2",
    "apologies/en", "../../etc/passwd", "/etc/passwd", '"apologies/en/\\0.txt.j2"', "apologies/en/nope.customer.txt.j2",
])
def test_template_may_name_only_a_shipped_letter(value):
    with pytest.raises(RulesError) as err:
        loads(f"categories:\n  wrong_item:\n    template: {value}\n", default_rules())
    assert err.value.line == 3 and "is not a shipped letter" in str(err.value)


NESTED_LOOPS = ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
                "Subject: a late order")


def letter_document(letter: str, category: str = "delivery_delay") -> str:
    return f"categories:\n  {category}:\n    template:\n      customer: |\n        {letter}\n"


def test_a_letter_with_nested_loops_is_refused_at_import_within_a_second(engine):
    started = time.monotonic()
    with pytest.raises(RulesError) as err:
        rulebook.import_document(engine, default_rules(), *ACCOUNT, letter_document(NESTED_LOOPS), actor="t")
    assert time.monotonic() - started < 2
    assert err.value.line == 5 and err.value.path == "categories.delivery_delay.template.customer"
    assert "takes too long to render" in str(err.value)
    assert db.rule_document_version(engine, *ACCOUNT) == 0


@pytest.mark.parametrize("letter, problem", [
    ("Subject: x{{ 'x' * 1000000000 }}", "would build a repeated value"),
    ("Subject: x{% set s = 'xxxxxxxxxx' %}" + "{% set s = s ~ s %}" * 40, "would build a joined text"),
    ("Subject: x{% set s %}x{% endset %}" + "{% set s %}{{ s }}{{ s }}{{ s }}{% endset %}" * 20,
     "builds more than 1,000,000 characters"),
    ("Subject: x{% for i in range(99999) %}" + "y" * 100 + "{% endfor %}", "produces more than 100,000 characters"),
    ("Subject: x{{ '%999999999d' % 1 }}", "would build a formatted text"),
    ("Subject: x{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "calls itself too deeply"),
])
def test_letters_that_build_too_much_are_refused_by_name(letter, problem):
    with pytest.raises(RulesError) as err:
        loads(letter_document(letter), default_rules())
    assert err.value.path == "categories.delivery_delay.template.customer" and problem in str(err.value)


def test_a_document_changes_a_bounded_number_of_letters():
    letters = "".join(f"  own_{i}:\n    label: Own {i}\n    phrases: [own words {i}]\n    template:\n"
                      f"      customer: 'Subject: hello'\n      client: 'Subject: hello'\n" for i in range(101))
    with pytest.raises(RulesError, match="changes 202 letters; a document changes at most 200"):
        loads("categories:\n" + letters, default_rules())


def test_the_letters_of_a_document_share_one_budget():
    looping = "Subject: x{% for i in range(150) %}{{ i|string }}{% endfor %}"  # 9,600 steps: within its own
    document = "categories:\n" + "".join(
        f"  own_{i}:\n    label: Own {i}\n    phrases: [own words {i}]\n    template:\n"
        f"      customer: '{looping}'\n" for i in range(25))
    with pytest.raises(RulesError) as err:  # the 21st crosses 200,000, though only the first was rendered
        loads(document, default_rules())
    assert "for all the letters in the document" in str(err.value)
    assert err.value.path == "categories.own_20.template.customer"


# A letter whose work grows with the requester's name: within its checks on the sample tickets,
# over its budget for a long name, so only the worker's render can stop it.
GROWS_WITH_THE_NAME = ("{% for a in full_name %}{% for b in full_name %}{% endfor %}{% endfor %}"
                       "{% extends \"_base.txt.j2\" %}")


def test_a_letter_over_budget_at_run_time_fails_the_event_with_the_reason(make_settings, fake_zendesk):
    from plugin.connectors.zendesk import ZendeskConnector
    from plugin.services import pipeline

    settings = make_settings(zendesk_api_url=fake_zendesk.url)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    rules = loads(letter_document(GROWS_WITH_THE_NAME), default_rules())  # passes its checks
    fake_zendesk.add_ticket(7, subject="Order #A1234 still not here", description="My parcel has not arrived.",
                            requester={"id": 9, "name": "Maria " + "Gonzalez" * 60, "email": "m@example.com"},
                            organization=None, tags=[])
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id="7", kind="ticket.created",
                        delivery_keys=("k7",), subject="Order #A1234 still not here", description="",
                        requester=Person(id="9"))
    event_id = db.accept_event(engine, event).event_id
    started = time.monotonic()
    result = pipeline.process_event(engine, ZendeskConnector(settings), settings, event_id, "w1", rules=rules)
    assert time.monotonic() - started < 5
    assert result.outcome == "failed"
    assert result.reason.startswith("the letter delivery_delay.customer takes too long to render")
    row = db.get_event(engine, event_id)
    assert row["status"] == "failed" and "delivery_delay.customer" in row["last_error"]
    assert [c for c in fake_zendesk.comments(7) if c.get("public") is False] == []
    engine.dispose()


def test_a_looping_letter_stored_past_the_checks_does_not_hold_the_worker(engine, caplog):
    # As if written before this check existed, or straight into the database.
    assert db.save_rule_document(engine, *ACCOUNT, letter_document(NESTED_LOOPS), expect_version=0, actor="a",
                                 action="b", target="c", before=None, after=None) == 1
    books = rulebook.Rulebooks(engine, default_rules())
    started = time.monotonic()
    assert books.rules_for(*ACCOUNT) == books.base  # unusable: the base rules, and the reason logged
    assert time.monotonic() - started < 2
    assert "takes too long to render" in caplog.text
