"""The agents' sidebar: Zendesk's signed-URL token, the sidebar token, the page, the JSON
endpoints it calls, and feedback recorded through the sidebar's credential.

Keys are made here (RSA 2048, cryptography); tokens are signed as Zendesk signs them (RS256,
`iss` the account's host, `aud` the app installation's API URL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from plugin import db
from plugin.config import load_settings
from plugin.core import sidebar_auth
from plugin.core.compose import Options, compose
from plugin.core.sidebar_auth import SidebarRefused, SidebarSession
from plugin.errors import ConfigError
from plugin.models import Classification, Person, Suggestion, Ticket, TicketEvent
from plugin.services import learning

AUDIENCE = "https://acme.zendesk.com/api/v2/apps/installations/4242.json"
SECRET_KEY = "k" * 40
LATE = {"subject": "Desk lamp ordered ten days ago, still nothing",
        "description": "Hello, the desk lamp I ordered ten days ago still has not turned up, although your site "
                       "promised three to five working days. Could you find out where it is?",
        "requester_id": "7101", "requester_name": "Noor Haddad", "assignee_name": "Sam Rivera"}


def _private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(private) -> str:
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()


KEY = _private_key()
OTHER_KEY = _private_key()
PEM = _pem(KEY)


def zendesk_token(private=KEY, **claims) -> str:
    """A token as Zendesk signs it for a signed-URL app; `claim=None` leaves a claim out."""
    now = int(time.time())
    payload = {"iss": "acme.zendesk.com", "aud": AUDIENCE, "iat": now, "exp": now + 300, "qsh": "x"}
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, private, algorithm="RS256")


def verify(token, serves=lambda account: account == "acme"):
    return sidebar_auth.verify_zendesk_token(token, sidebar_auth.load_public_key(PEM), serves)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- Zendesk's token --------------------------------------------------------------------

def test_a_valid_token_opens_a_session_for_its_account():
    assert verify(zendesk_token()) == SidebarSession("zendesk", "acme", "4242")
    assert verify(zendesk_token(iss="https://acme.zendesk.com")).account == "acme"
    assert verify(zendesk_token(sub=12345, jti=7)).account == "acme"  # whatever Zendesk puts in claims we do not use


# Tokens are minted when the test runs: minted at collection they could expire before a long suite
# gets here.
@pytest.mark.parametrize("make_token, reason", [
    (lambda: None, "no token"),
    (lambda: "", "no token"),
    (lambda: "not-a-jwt", "not a JSON Web Token"),
    (lambda: zendesk_token(exp=int(time.time()) - 120), "expired"),
    (lambda: zendesk_token(OTHER_KEY), "signature does not match"),
    (lambda: zendesk_token(aud="https://globex.zendesk.com/api/v2/apps/installations/1.json"), "audience"),
    (lambda: zendesk_token(aud="https://amends.example.com/zendesk/sidebar"), "audience"),
    (lambda: zendesk_token(iss="acme.zendesk.com.evil.example"), "issuer"),
    (lambda: zendesk_token(iss="https://evil.example.com"), "issuer"),
    (lambda: zendesk_token(iss="globex.zendesk.com",
                   aud="https://globex.zendesk.com/api/v2/apps/installations/1.json"), "does not serve"),
    (lambda: zendesk_token(exp=None), "'exp'"),
    (lambda: zendesk_token(aud=None), "'aud'"),
    (lambda: zendesk_token(iss=None), "'iss'"),
], ids=["none", "empty", "garbage", "expired", "wrong-key", "other-account-audience", "not-an-installation",
        "issuer-suffix", "issuer-not-zendesk", "account-not-served", "no-exp", "no-aud", "no-iss"])
def test_tokens_that_are_refused(make_token, reason):
    with pytest.raises(SidebarRefused) as refused:
        verify(make_token())
    assert reason in refused.value.reason


def test_alg_none_is_refused():
    payload = {"iss": "acme.zendesk.com", "aud": AUDIENCE, "exp": int(time.time()) + 300}
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = f"{header}.{_b64(json.dumps(payload).encode())}."
    with pytest.raises(SidebarRefused, match="only RS256"):
        verify(unsigned)


def test_hs256_signed_with_the_public_key_is_refused():
    # The key-confusion forgery: an HMAC "signed" with the PEM text anyone can read.
    payload = {"iss": "acme.zendesk.com", "aud": AUDIENCE, "exp": int(time.time()) + 300}
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(PEM.encode(), signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(SidebarRefused, match="'HS256'; only RS256"):
        verify(f"{signing_input}.{_b64(signature)}")


# --- the app's public key and the settings -------------------------------------------------

def test_the_public_key_is_pem_text_escaped_text_or_a_file(tmp_path):
    path = tmp_path / "app.pem"
    path.write_text(PEM)
    for value in (PEM, PEM.replace("\n", "\\n"), str(path)):
        assert sidebar_auth.load_public_key(value).public_numbers() == KEY.public_key().public_numbers()


def test_a_key_that_cannot_check_tokens_is_refused(tmp_path):
    with pytest.raises(ValueError, match="neither PEM text"):
        sidebar_auth.load_public_key(str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="not a PEM public key"):
        sidebar_auth.load_public_key("-----BEGIN PUBLIC KEY-----\nbroken\n-----END PUBLIC KEY-----")
    ec_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(ValueError, match="RSA"):
        sidebar_auth.load_public_key(ec_pem)


def test_settings_name_a_bad_key_or_the_missing_secret(tmp_path):
    absent = tmp_path / "absent.env"
    with pytest.raises(ConfigError, match="AMENDS_ZENDESK_APP_PUBLIC_KEY is neither PEM text"):
        load_settings(env_file=absent, secret_key=SECRET_KEY, zendesk_app_public_key="/nowhere/app.pem")
    with pytest.raises(ConfigError, match="AMENDS_SECRET_KEY is missing"):
        load_settings(env_file=absent, zendesk_app_public_key=PEM)
    path = tmp_path / "app.pem"
    path.write_text(PEM)
    assert load_settings(env_file=absent, secret_key=SECRET_KEY, zendesk_app_public_key=str(path))


# --- our sidebar token ------------------------------------------------------------------

def test_the_sidebar_token_round_trips_and_expires():
    session = SidebarSession("zendesk", "acme", "4242")
    token = sidebar_auth.issue(SECRET_KEY, session)
    assert sidebar_auth.read(SECRET_KEY, token) == session
    with pytest.raises(SidebarRefused, match="has ended"):
        sidebar_auth.read(SECRET_KEY, token, max_age=-1)
    with pytest.raises(SidebarRefused, match="not valid"):
        sidebar_auth.read("another secret key of enough length", token)
    with pytest.raises(SidebarRefused, match="not valid"):
        sidebar_auth.read(SECRET_KEY, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(SidebarRefused, match="no sidebar token"):
        sidebar_auth.read(SECRET_KEY, None)


# --- the page -------------------------------------------------------------------------------

@pytest.fixture
def sidebar_app(make_settings):
    from plugin import create_app

    app = create_app(make_settings(secret_key=SECRET_KEY, zendesk_app_public_key=PEM, retrain_after=2))
    app.config["TESTING"] = True
    yield app
    app.extensions["amends"].engine.dispose()


@pytest.fixture
def client(sidebar_app):
    return sidebar_app.test_client()


def open_sidebar(client) -> str:
    """POST the signed token as Zendesk does; the sidebar token the page carries."""
    response = client.post("/zendesk/sidebar?origin=https%3A%2F%2Facme.zendesk.com&app_guid=g1",
                           data={"token": zendesk_token()})
    assert response.status_code == 200, response.get_data(as_text=True)
    return re.search(r'name="amends-sidebar-token" content="([^"]+)"', response.get_data(as_text=True)).group(1)


def test_without_a_valid_token_the_page_explains_and_shows_nothing(client):
    for response in (client.get("/zendesk/sidebar"), client.post("/zendesk/sidebar"),
                     client.post("/zendesk/sidebar", data={"token": zendesk_token(OTHER_KEY)})):
        html = response.get_data(as_text=True)
        assert response.status_code == 401
        assert "Amends cannot open here" in html and "amends-sidebar-token" not in html
    assert "signature does not match" in html
    assert "frame-ancestors https://*.zendesk.com" in response.headers["Content-Security-Policy"]


def test_the_sidebar_is_off_until_its_key_is_set(make_settings):
    from plugin import create_app

    app = create_app(make_settings(secret_key=SECRET_KEY))
    response = app.test_client().post("/zendesk/sidebar", data={"token": zendesk_token()})
    assert response.status_code == 503 and "AMENDS_ZENDESK_APP_PUBLIC_KEY" in response.get_data(as_text=True)
    app.extensions["amends"].engine.dispose()


def test_a_valid_token_opens_the_page_framed_by_that_account_only(client):
    response = client.post("/zendesk/sidebar", data={"token": zendesk_token()})
    html = response.get_data(as_text=True)
    assert response.status_code == 200  # no CSRF token needed: Zendesk's signed token is the credential
    assert 'name="amends-sidebar-token"' in html and '<option value="wrong_item">Wrong item</option>' in html
    assert "frame-ancestors https://acme.zendesk.com;" not in response.headers["Content-Security-Policy"]
    assert response.headers["Content-Security-Policy"].endswith("frame-ancestors https://acme.zendesk.com")
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers  # a cookie would be third-party in Zendesk's iframe
    assert client.get("/zendesk/sidebar/static/sidebar.js").mimetype == "text/javascript"
    assert client.get("/zendesk/sidebar/static/sidebar.css").mimetype == "text/css"


# --- /suggestion and /render ----------------------------------------------------------------

def ask(client, path, body, token):
    return client.post(f"/zendesk/sidebar/{path}", json=body,
                       headers={sidebar_auth.HEADER: token} if token is not None else {})


def store_suggestion(app, ticket_id: str, account: str = "acme") -> Suggestion:
    """A suggestion written as the worker writes one (event, claim, compose, save)."""
    engine = app.extensions["amends"].engine
    event = TicketEvent("zendesk", account, ticket_id, "ticket.created", (f"d{account}{ticket_id}",),
                        subject=LATE["subject"], description=LATE["description"],
                        requester=Person(id="7101", name="Noor Haddad"))
    claim = db.claim(engine, db.accept_event(engine, event).event_id, "test-worker", 30)
    ticket = Ticket.from_event(event)
    c = learning.classifier_for(engine, "zendesk", account).classify(ticket.subject, ticket.description)
    s = compose(ticket, c, claim.note_marker)
    db.save_suggestion(engine, claim, s, "7101", text=f"{ticket.subject}\n{ticket.description}")
    return s


def test_json_endpoints_refuse_without_the_sidebar_token(client):
    body = {"ticket_id": "5101", "ticket": LATE}
    for path in ("suggestion", "render"):
        assert ask(client, path, body, None).status_code == 401
        refused = ask(client, path, body, "forged")
        assert refused.status_code == 401 and refused.json["reason"] == "the sidebar token is not valid"


def test_a_ticket_without_a_stored_suggestion_is_classified_and_composed_now(client):
    view = ask(client, "suggestion", {"ticket_id": "5101", "ticket": LATE}, open_sidebar(client)).json
    assert view["source"] == "composed" and view["category"] == "delivery_delay" and not view["chosen"]
    assert view["evidence"] and view["letter"].startswith("Hi Noor,") and "Sam Rivera" in view["letter"]
    assert "[order number]" in view["to_fill"] and view["compensation"]


def test_the_stored_suggestion_is_shown_for_its_own_account_only(sidebar_app, client):
    stored = store_suggestion(sidebar_app, "5101")
    store_suggestion(sidebar_app, "5102", account="globex")
    token = open_sidebar(client)
    view = ask(client, "suggestion", {"ticket_id": "5101", "ticket": {}}, token).json
    assert view["source"] == "stored" and view["letter"] == stored.letter
    assert view["to_fill"] == list(stored.to_fill) and view["audience"] == stored.audience
    # Ticket 5102 exists only in another account: nothing of it shows here.
    missing = ask(client, "suggestion", {"ticket_id": "5102", "ticket": {}}, token)
    assert missing.status_code == 400 and "no subject or description" in missing.json["reason"]


def test_switching_category_audience_and_tone_renders_what_the_pipeline_would(sidebar_app, client):
    token = open_sidebar(client)
    view = ask(client, "render", {"ticket_id": "5101", "ticket": LATE, "category": "wrong_item",
                                  "audience": "client", "tone": "formal"}, token).json
    assert (view["category"], view["chosen"], view["runner_up"]) == ("wrong_item", True, "delivery_delay")
    assert (view["audience"], view["tone"]) == ("client", "formal")
    rt = sidebar_app.extensions["amends"]
    ticket = Ticket("5101", LATE["subject"], LATE["description"], Person(id="7101", name="Noor Haddad"),
                    assignee=Person(name="Sam Rivera"))
    expected = compose(ticket, Classification("wrong_item", 1.0, runner_up="delivery_delay"), "draft",
                       rules=rt.rulebooks.rules_for("zendesk", "acme"), options=Options(), audience="client",
                       tone="formal")
    assert view["letter"] == expected.letter and view["to_fill"] == list(expected.to_fill)
    warm = ask(client, "render", {"ticket_id": "5101", "ticket": LATE, "category": "wrong_item",
                                  "tone": "warm"}, token).json
    assert warm["tone"] == "warm" and warm["letter"] != view["letter"]


@pytest.mark.parametrize("body, reason", [
    ({"ticket_id": "5101", "ticket": LATE, "category": "nonsense"}, "category"),
    ({"ticket_id": "5101", "ticket": LATE, "category": "other"}, "category"),
    ({"ticket_id": "5101", "ticket": LATE, "category": "wrong_item", "audience": "boss"}, "audience"),
    ({"ticket_id": "5101", "ticket": LATE, "category": "wrong_item", "tone": "rude"}, "tone"),
    ({"ticket_id": "51x", "ticket": LATE, "category": "wrong_item"}, "ticket_id"),
    ({"ticket_id": "5101", "ticket": "text", "category": "wrong_item"}, "ticket must be an object"),
    ({"ticket_id": "5101", "ticket": {"description": "x" * 20_001}, "category": "wrong_item"}, "longer than"),
])
def test_render_validation(client, body, reason):
    response = ask(client, "render", body, open_sidebar(client))
    assert response.status_code == 400 and reason in response.json["reason"]


def test_a_question_is_not_a_complaint_but_the_agent_can_still_choose(client):
    token = open_sidebar(client)
    question = {"subject": "Hello", "description": "What are your opening hours?"}
    view = ask(client, "suggestion", {"ticket_id": "77", "ticket": question}, token).json
    assert view["category"] == "other" and view["letter"] == "" and "Choose a category" in view["decision"]
    chosen = ask(client, "render", {"ticket_id": "77", "ticket": question, "category": "slow_response"}, token).json
    assert chosen["category"] == "slow_response" and chosen["letter"]


# --- feedback through the sidebar's credential ------------------------------------------------

def feedback_rows(app) -> list[dict]:
    with app.extensions["amends"].engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(db.feedback).order_by(db.feedback.c.id)).mappings()]


def test_feedback_is_recorded_for_the_sidebar_sessions_account(sidebar_app, client):
    token = open_sidebar(client)
    headers = {sidebar_auth.HEADER: token}
    correction = client.post("/api/feedback", headers=headers, json={
        "kind": "correction", "ticket_id": "5101", "from_category": "delivery_delay", "category": "wrong_item",
        "subject": LATE["subject"], "description": LATE["description"]})
    assert correction.status_code == 201 and correction.json["retraining"] is False
    for kind in ("insert", "thumbs_up", "thumbs_down"):
        assert client.post("/api/feedback", headers=headers,
                           json={"kind": kind, "ticket_id": "5101", "category": "wrong_item"}).status_code == 201
    rows = feedback_rows(sidebar_app)
    assert [(r["kind"], r["account"], r["source"], r["to_category"]) for r in rows] == [
        ("correction", "acme", "sidebar", "wrong_item"), ("insert", "acme", "sidebar", "wrong_item"),
        ("thumbs_up", "acme", "sidebar", "wrong_item"), ("thumbs_down", "acme", "sidebar", "wrong_item")]
    assert rows[0]["from_category"] == "delivery_delay" and "desk lamp" in rows[0]["text"]
    engine = sidebar_app.extensions["amends"].engine
    assert db.corrections(engine, "zendesk", "acme") == [(rows[0]["text"], "wrong_item")]
    # A second correction reaches AMENDS_RETRAIN_AFTER=2: the worker is asked to retrain.
    again = client.post("/api/feedback", headers=headers, json={
        "kind": "correction", "ticket_id": "5102", "category": "damaged_item", "description": "It came broken."})
    assert again.json["retraining"] is True


def test_sidebar_feedback_is_refused_without_its_credential_or_for_another_account(client):
    body = {"kind": "thumbs_up", "ticket_id": "5101", "category": "wrong_item"}
    assert client.post("/api/feedback", json=body).status_code == 401  # and no AMENDS_API_TOKEN either
    forged = client.post("/api/feedback", json=body, headers={sidebar_auth.HEADER: "forged"})
    assert forged.status_code == 401 and "not valid" in forged.json["reason"]
    empty = client.post("/api/feedback", json=body, headers={sidebar_auth.HEADER: ""})
    assert empty.status_code == 401
    token = open_sidebar(client)
    for other in ({"account": "globex"}, {"helpdesk": "freshdesk"}):
        refused = client.post("/api/feedback", json={**body, **other}, headers={sidebar_auth.HEADER: token})
        assert refused.status_code == 403 and "another account" in refused.json["reason"]
    too_long = client.post("/api/feedback", json={**body, "category": "x" * 65}, headers={sidebar_auth.HEADER: token})
    assert too_long.status_code == 400
