"""What a ticket is about beyond its category (plugin/core/topics.py): a meal, a flight and its luggage,
an outage, software, an app, an order at all, a promotion and its code."""

import pytest

from plugin.core.topics import discount_code_in, topics_of


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
    assert topics_of("My coupons were refused at the till").discount == "coupon"  # as the customer named it
    assert topics_of("the promo code failed").discount == "promo code"
    assert topics_of("support says the offer ended but the advert runs to Friday").discount == "offer"
    found = topics_of("code SAVE20 did nothing")
    assert (found.discount, found.discount_code) == ("code", "SAVE20")
    assert not topics_of("You charged me twice for order 55821").discount


def test_an_app_is_an_app_unless_the_website_is_named_too():
    assert topics_of("Your iOS app crashes when I open the basket").app
    assert not topics_of("The app and the website both fail at checkout").app
    assert not topics_of("I applied the code twice").app


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
    assert topics_of(text).food is food


@pytest.mark.parametrize("text, software", [
    ("Just updated to iOS 11.2 and my keyboard is glitchy", True),
    ("The game freezes every time I load a save", True),
    ("Since the update the printer will not connect", True),
    ("My kettle stopped heating after two days", False),
    ("Any update on my broken blender? It still leaks", False),  # asking for news, not a software update
])
def test_a_software_fault_is_told_apart_from_a_broken_thing(text, software):
    assert topics_of(text).software is software


def test_air_travel_is_told_apart():
    assert topics_of("Cancelled Flightled: my 6am to Denver never left").travel
    assert topics_of("the airline lost my bag at the airport").travel
    assert not topics_of("my order was cancelled the day before delivery").travel


@pytest.mark.parametrize("text, outage", [
    ("internet has been down for almost 30 mins now", True),
    ("My broadband keeps dropping every evening", True),
    ("No service on my phone since this morning", True),
    ("The cleaner left two hours early", False),
])
def test_a_service_that_went_down_is_told_apart(text, outage):
    assert topics_of(text).outage is outage


@pytest.mark.parametrize("text, identity", [
    ("There are accounts on my credit report that are not mine", True),
    ("My card was charged for two orders we never placed", True),
    ("They let someone steal my phone number", True),
    ("Someone hacked my account and changed the password", False),  # a login taken over
])
def test_fraud_in_the_customers_name_is_told_apart_from_a_login_taken_over(text, identity):
    assert topics_of(text).identity is identity
