"""Connect Zendesk in a real browser: the redirect URL ready to copy, set-up waiting for a connection."""

from __future__ import annotations

import pytest

from tests.browser.live import expect


@pytest.mark.live_server(zendesk_subdomain="", zendesk_email="", zendesk_api_token="", zendesk_webhook_secret="")
def test_copy_button_copies_the_redirect_url_and_set_up_waits(signed_in_page, live_server):
    page = signed_in_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    expect(page.locator("#missing-connection")).to_be_visible()
    page.locator("#missing-connection").get_by_role("link", name="Connect Zendesk").click()
    expect(page).to_have_url(live_server("/admin/connect#oauth"))
    field = page.locator("#redirect-uri")
    expect(field).to_have_value(live_server("/admin/connect/callback"))
    expect(field).to_have_attribute("readonly", "")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == live_server("/admin/connect/callback")
    expect(page.get_by_role("button", name="Set up Zendesk for me")).to_be_disabled()
