"""What the ticket says, used in the letter: references quoted as written, amounts by their role,
the date the customer gave (issue 13)."""

import pytest

from plugin.core.compose import compose
from plugin.core.facts import Reference, amounts_in, customer_date_in, extract, references_in
from plugin.models import Classification, Person, Ticket


def ticket(description, subject="Help", fields=()):
    return Ticket(id="1", subject=subject, description=description, requester=Person(name="Marta Ruiz"),
                  custom_fields=fields)


@pytest.mark.parametrize("text, kind, value", [
    ("Where is order #B20931?", "order", "#B20931"),
    ("my order number is 55821", "order", "55821"),
    ("The invoice INV-2291 is wrong", "invoice", "INV-2291"),
    ("invoice 88130 charges me twice", "invoice", "88130"),
    ("Invoice no. 88130", "invoice", "88130"),
    ("the invoice for order INV-2291", "invoice", "INV-2291"),
    ("PO-7714 was never delivered", "po", "PO-7714"),
    ("purchase order PO 3310", "po", "PO 3310"),
    ("booking LMX204 was moved", "booking", "LMX204"),
    ("reservation reference: HX4471B", "booking", "HX4471B"),
    ("see ticket #4471 from last week", "ticket", "#4471"),
    ("case number 00123456", "case", "00123456"),
    ("account no. AC-22310", "account", "AC-22310"),
    ("tracking number 1Z999AA10123456784", "tracking", "1Z999AA10123456784"),
])
def test_reference_shapes_are_quoted_as_written(text, kind, value):
    assert references_in(text) == (Reference(kind, value),)


@pytest.mark.parametrize("text", ["ticket about #12", "I ordered 3 items", "my case is urgent", "order 45.50"])
def test_no_reference_without_an_identifier(text):
    assert references_in(text) == ()


def test_every_reference_is_kept_and_the_order_is_the_main_one():
    f = extract(ticket("Invoice 88130 and booking LMX204 are both wrong for order #B20931 (see INV-2291)."))
    assert [(r.kind, r.value) for r in f.references] == [
        ("invoice", "88130"), ("booking", "LMX204"), ("order", "#B20931"), ("invoice", "INV-2291")]
    assert f.reference == "#B20931" and f.order == "B20931"
    assert extract(ticket("The invoice INV-2291 is wrong")).reference == "INV-2291"
    assert extract(ticket("INV-2291 is wrong")).order == ""


def test_brackets_in_a_reference_are_neutralised():
    f = extract(ticket("order 55821", fields=(("99", "[X-1]"),)), "99")
    assert f.references[0] == Reference("order", "(X-1)") and f.order == "(X-1)"


@pytest.mark.parametrize("text, value, role", [
    ("I was charged twice, $84.50", "$84.50", "charged"),
    ("You charged me £30 twice.", "£30", "charged"),
    ("I paid $45.50 for it.", "$45.50", "charged"),
    ("Please process the refund of £7.95.", "£7.95", "refund"),
    ("I am still waiting for my £12 refund.", "£12", "refund"),
    ("I want my $12 back.", "$12", "refund"),
    ("Please take off the £7.95 express fee.", "£7.95", "fee"),
    ("The delivery fee of $5 was never explained.", "$5", "fee"),
    ("I paid the $5 delivery fee.", "$5", "fee"),
    ("The site showed $19.99.", "$19.99", "shown"),
    ("It was advertised at €19.99.", "€19.99", "shown"),
    ("I sent you €10.", "€10", ""),
])
def test_amounts_get_the_role_the_words_around_them_give(text, value, role):
    assert [(a.value, a.role) for a in amounts_in(text)] == [(value, role)]


def test_several_amounts_each_get_their_own_role():
    f = extract(ticket("The site showed $19.99 but I was charged $24.99 instead, plus a $5 delivery fee."))
    assert (f.amount("shown"), f.amount("charged"), f.amount("fee"), f.amount("refund")) == ("$19.99", "$24.99",
                                                                                             "$5", "")
    assert f.amounts == ("$19.99", "$24.99", "$5")  # the plain list stays as it was


@pytest.mark.parametrize("text, date, deadline", [
    ("I need it before the 21st.", "the 21st", True),
    ("Can it arrive by Friday?", "Friday", True),
    ("I ordered on March 3rd and need it by next Tuesday.", "next Tuesday", True),
    ("I ordered on March 3rd.", "March 3rd", False),
    ("It was due on the 3rd of March.", "the 3rd of March", False),
    ("a problem since the 21st century", "", False),
    ("no date here", "", False),
])
def test_the_date_the_customer_gave(text, date, deadline):
    assert customer_date_in(text) == (date, deadline)


def test_the_letter_gets_the_ticket_facts_and_may_quote_the_references():
    t = ticket("I was charged twice, $84.50, on invoice 88130 for booking LMX204. I need it back by the 21st.")
    template = ("Subject: About {{ reference }} and {{ references|map(attribute='value')|join(', ') }}\n\n"
                "Hi,\n\nCharged {{ amount_charged }}; refund {{ amount_refund or 'none' }}; "
                "date {{ customer_date }}.")
    s = compose(t, Classification("billing_error", 0.9), "m", template_source=template)
    assert s.subject == "About 88130 and 88130, LMX204"
    assert "Charged $84.50; refund $84.50; date the 21st." in s.letter  # charged twice: that amount is owed back
    assert not [f for f in s.lint if f.code == "invented-number"]


@pytest.mark.parametrize("text, refund", [
    ("My card was charged twice, $84.50 each time, for order 55120.", "$84.50"),
    ("I was double charged $30 for my subscription.", "$30"),
    ("There is a duplicate charge of $12.99 on my statement.", "$12.99"),
    ("We were charged $1,840.00 instead of $1,150.00.", ""),  # the overcharge is not the whole charge
])
def test_a_duplicate_charge_is_the_refund_owed_and_no_other_overcharge_is(text, refund):
    found = extract(Ticket(id="1", subject="", description=text, requester=Person()))
    assert found.amount("refund") == refund
