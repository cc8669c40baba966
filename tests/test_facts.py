"""What the ticket says, used in the letter: references quoted as written, amounts by their role,
the date the customer gave (issue 13)."""

import pytest

from plugin.core.compose import compose
from plugin.core.facts import Reference, amounts_in, customer_date_in, discount_code_in, extract, references_in
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


@pytest.mark.parametrize("text, code", [
    ("code WELCOME15 says invalid", "WELCOME15"),
    ("promo code: 'SAVE20' failed at checkout", "SAVE20"),
    ("The discount code from your newsletter WELCOME15 says invalid", "WELCOME15"),
    ("the SPRING24 code did not work", "SPRING24"),
    ("the code BOGO-2 is invalid", "BOGO-2"),
    ("THIS CODE DOES NOT WORK", ""),  # shouting, not a code
    ("my code 123456 failed", ""),  # a number, not a promotion code
    ("error code E404 on the payment page", ""),
    ("my confirmation code XK12B9 is not accepted", ""),
    ("the 2FA code never arrives", ""),
])
def test_the_promotion_code_is_quoted_as_written_or_not_at_all(text, code):
    assert discount_code_in(text) == code


def test_a_ticket_about_a_promotion_says_so():
    assert extract(ticket("My coupons were refused at the till")).discount == "coupon"  # as the customer named it
    assert extract(ticket("the promo code failed")).discount == "promo code"
    assert extract(ticket("support says the offer ended but the advert runs to Friday")).discount == "offer"
    found = extract(ticket("code SAVE20 did nothing"))
    assert (found.discount, found.discount_code) == ("code", "SAVE20")
    assert not extract(ticket("You charged me twice for order 55821")).discount


def test_an_app_is_an_app_unless_the_website_is_named_too():
    assert extract(ticket("Your iOS app crashes when I open the basket")).app
    assert not extract(ticket("The app and the website both fail at checkout")).app
    assert not extract(ticket("I applied the code twice")).app


@pytest.mark.parametrize("text, food", [
    ("Ordered pizza at 7, the delivery partner turned up at 9", True),
    ("My biryani arrived spilled all over the bag", True),
    ("The restaurant sent the wrong dish and the fries were missing", True),
    ("My parcel is a week late and the courier will not answer", False),
    ("I needed the mixer for my daughter's birthday cake", False),  # a parcel, whatever it is for
    ("The set of dishes arrived with two plates broken", False),
    ("The restaurant took an hour and a half to deliver", True),
    ("You have removed the restaurant reviews from the app", False),  # a food app's own software
])
def test_a_meal_is_told_apart_from_a_parcel(text, food):
    assert extract(ticket(text)).food is food


@pytest.mark.parametrize("text, software", [
    ("Just updated to iOS 11.2 and my keyboard is glitchy", True),
    ("The game freezes every time I load a save", True),
    ("Since the update the printer will not connect", True),
    ("My kettle stopped heating after two days", False),
    ("Any update on my broken blender? It still leaks", False),  # asking for news, not a software update
])
def test_a_software_fault_is_told_apart_from_a_broken_thing(text, software):
    assert extract(ticket(text)).software is software


def test_air_travel_is_told_apart():
    assert extract(ticket("Cancelled Flightled: my 6am to Denver never left")).travel
    assert extract(ticket("the airline lost my bag at the airport")).travel
    assert not extract(ticket("my order was cancelled the day before delivery")).travel


@pytest.mark.parametrize("text, outage", [
    ("internet has been down for almost 30 mins now", True),
    ("My broadband keeps dropping every evening", True),
    ("No service on my phone since this morning", True),
    ("The cleaner left two hours early", False),
])
def test_a_service_that_went_down_is_told_apart(text, outage):
    assert extract(ticket(text)).outage is outage
