"""Signing in and out of the console in a real browser: the form, the message, the way back."""

from __future__ import annotations

import re

from plugin import db
from tests.browser.live import add_event, add_failed_event, expect, screenshot, sign_in


def test_wrong_password_shows_the_message(page):
    page.goto("/admin/login")
    screenshot(page, "login")
    sign_in(page, password="not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong password.")
    expect(page).to_have_url(re.compile(r"/admin/login$"))
    # Still a working form: the right password now gets in.
    sign_in(page)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_right_password_lands_on_the_overview(page, live_server):
    # A few tickets so the screenshot shows the overview as an admin would see it.
    add_event(live_server, "4101", db.POSTED)
    add_event(live_server, "4102", db.SKIPPED)
    add_failed_event(live_server, "4103")
    page.goto("/admin/login")
    sign_in(page)
    expect(page).to_have_url(live_server("/admin/"))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_text("zendesk / acme")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot(page, "overview")


def test_sign_out_returns_to_the_login_page(signed_in_page, live_server):
    page = signed_in_page
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(live_server("/admin/login"))
    expect(page.get_by_role("heading", name="Sign in to Amends")).to_be_visible()
    # The session is gone: the console sends us back to the form.
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_page_reached_signed_out_comes_back_after_login(page, live_server):
    # Any bookmarked console address; the query string proves the whole address survives.
    page.goto("/admin/?from=bookmark")
    expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    sign_in(page)
    expect(page).to_have_url(live_server("/admin/?from=bookmark"))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
