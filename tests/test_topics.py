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


# Each topic with a near miss: the words that should switch a letter, and those that should not.
@pytest.mark.parametrize("topic, text, expected", [
    ("food", "Ordered pizza at 7, the delivery partner turned up at 9", True),
    ("food", "My biryani arrived spilled all over the bag", True),
    ("food", "The restaurant sent the wrong dish and the fries were missing", True),
    ("food", "My parcel is a week late and the courier will not answer", False),
    ("food", "I needed the mixer for my daughter's birthday cake", False),  # a parcel, whatever it is for
    ("food", "The set of dishes arrived with two plates broken", False),
    ("food", "The restaurant took an hour and a half to deliver", True),
    ("food", "You have removed the restaurant reviews from the app", False),  # a food app's own software
    ("food", "The driver cancelled on me and the rider fee stayed on my card", False),  # a ride, not a meal
    ("software", "Just updated to iOS 11.2 and my keyboard is glitchy", True),
    ("software", "The game freezes every time I load a save", True),
    ("software", "Since the update the printer will not connect", True),
    ("software", "My kettle stopped heating after two days", False),
    ("software", "Any update on my broken blender? It still leaks", False),  # news asked for, not an update
    ("outage", "internet has been down for almost 30 mins now", True),
    ("outage", "My broadband keeps dropping every evening", True),
    ("outage", "No service on my phone since this morning", True),
    ("outage", "The cleaner left two hours early", False),
    ("identity", "There are accounts on my credit report that are not mine", True),
    ("identity", "My card was charged for two orders we never placed", True),
    ("identity", "They let someone steal my phone number", True),
    ("identity", "Someone hacked my account and changed the password", False),  # a login taken over
    ("travel", "Cancelled Flightled: my 6am to Denver never left", True),
    ("travel", "the airline lost my bag at the airport", True),
    ("travel", "my order was cancelled the day before delivery", False),
    ("luggage", "Our flight landed and my suitcase never came out", True),
    ("luggage", "The bag of crisps in my order was open", False),  # a bag, but no flight
])
def test_each_topic_is_told_apart_from_its_near_misses(topic, text, expected):
    assert getattr(topics_of(text), topic) is expected
