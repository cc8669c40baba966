"""Blueprint /zendesk/sidebar: the agents' panel inside a Zendesk ticket (issue 6).

Zendesk loads the page in the ticket's app panel (manifest.json: `signedUrls`), POSTing a
signed token; we check it (plugin/core/sidebar_auth.py) with the app's public key, configured
(AMENDS_ZENDESK_APP_PUBLIC_KEY) or fetched from Zendesk by app id (AMENDS_ZENDESK_APP_ID: once
per process, through the Zendesk connector), and answer with the page and a sidebar token for
one hour. The page's script asks the ZAF client for the ticket, then calls
`/suggestion` and `/render` here and `/api/feedback`, each carrying the sidebar token in the
X-Amends-Sidebar header. The account always comes from that token, never from a request body;
ticket ids are looked up only inside it. Letters are composed exactly as the pipeline and the
console's "Try a ticket" compose them: the account's classifier, the current rules, compose().

The page never sends anything to the customer: "Insert into reply" puts the letter in the
agent's editor as a public reply draft (see static/sidebar/sidebar.js), and the agent sends it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request

from plugin import db
from plugin.connectors.zendesk import ZendeskConnector
from plugin.core import inputs, sidebar_auth
from plugin.core.classify import Classifier
from plugin.core.paths import PROJECT_ROOT
from plugin.core.rules import GENERAL_LETTER
from plugin.core.sidebar_auth import KeyUnavailable, SidebarRefused, SidebarSession
from plugin.core.suggest import Suggested, read
from plugin.errors import LetterOverBudget
from plugin.models import AUDIENCES, GENERAL, TONES, Classification, Person, Ticket
from plugin.services import accounts, learning
from plugin.services.suggesting import AccountContext

log = logging.getLogger(__name__)

# The page's script and style are the blueprint's static files: /zendesk/sidebar/static/...
bp = Blueprint("sidebar", __name__, url_prefix="/zendesk/sidebar",
               static_folder=str(PROJECT_ROOT / "static" / "sidebar"), static_url_path="/static")
ZAF_SDK_URL = "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"
MAX_FIELD = 20_000
# What the page reads from the ZAF client, by the names it sends them under.
TICKET_FIELDS = ("subject", "description", "requester_id", "requester_name", "requester_email", "assignee_name",
                 "organization", "order", "tags")


KEY_SOURCE = "amends.sidebar_app_key"  # app.extensions: this app's AppKeySource


def runtime():
    return current_app.extensions["amends"]


@bp.record_once
def _add_key_source(state) -> None:
    """One fetched-key cache per app (so per process), used only with AMENDS_ZENDESK_APP_ID."""
    state.app.extensions[KEY_SOURCE] = sidebar_auth.AppKeySource(_fetch_app_key)


class _Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@bp.errorhandler(_Refused)
def _refused_json(exc: _Refused):
    return jsonify(status="refused", reason=exc.reason), exc.status


@bp.after_request
def _headers(response: Response) -> Response:
    """Framed by the account's Zendesk only; the sidebar token in the page is kept out of
    caches and Referer headers. The ZAF SDK is the one outside script the page may load."""
    session: SidebarSession | None = g.get("sidebar_session")
    ancestors = f"https://{session.account}.zendesk.com" if session else "https://*.zendesk.com"
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self' https://static.zdassets.com; style-src 'self'; img-src 'self'; "
        f"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}")
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def serves(account: str) -> bool:
    """Only Zendesk accounts this deployment works for (plugin/services/accounts.py)."""
    return accounts.serves(runtime().settings, runtime().engine, "zendesk", account)


# --- the page -----------------------------------------------------------------------------

@bp.route("", methods=["GET", "POST"])
def page():
    settings = runtime().settings
    if not ((settings.zendesk_app_public_key or settings.zendesk_app_id) and settings.secret_key):
        return render_template("sidebar/refused.html", title="The Amends sidebar is not set up",
                               reason="Set AMENDS_ZENDESK_APP_PUBLIC_KEY (the app's public key) or "
                                      "AMENDS_ZENDESK_APP_ID (the app's id, to fetch the key from Zendesk), "
                                      "and AMENDS_SECRET_KEY on the Amends server."), 503
    token = request.form.get("token") if request.method == "POST" else None
    try:
        session = _verify(settings, token)
    except KeyUnavailable as exc:
        log.info("sidebar unavailable for %s: %s", request.remote_addr, exc.reason)
        return render_template("sidebar/refused.html", title="Amends cannot check Zendesk's token right now",
                               reason=exc.reason), 503
    except SidebarRefused as exc:
        log.info("sidebar refused from %s: %s", request.remote_addr, exc.reason)
        return render_template("sidebar/refused.html", title="Amends cannot open here",
                               reason=exc.reason), 401
    g.sidebar_session = session
    rules = _current_rules(session)
    categories = [(c, rules.label(c) + ("" if rules.rule(c).enabled else " (rule off)")) for c in rules.ids()]
    order_path = f"ticket.customField:custom_field_{settings.order_field_id}" if settings.order_field_id else ""
    return render_template("sidebar/sidebar.html", token=sidebar_auth.issue(settings.secret_key, session),
                           account=session.account, categories=categories, audiences=AUDIENCES, tones=TONES,
                           zaf_sdk_url=ZAF_SDK_URL, order_path=order_path,
                           header=sidebar_auth.HEADER)


def _verify(settings, token: str | None) -> SidebarSession:
    """The configured key wins. Otherwise the fetched one; a token it does not match may have
    been signed with a key Zendesk rotated since, so the key is fetched again (rate-limited by
    AppKeySource) and, if it changed, the token is checked once more."""
    if settings.zendesk_app_public_key:
        return sidebar_auth.verify_zendesk_token(
            token, sidebar_auth.load_public_key(settings.zendesk_app_public_key), serves)
    source = current_app.extensions[KEY_SOURCE]
    try:
        return sidebar_auth.verify_zendesk_token(token, source.key, serves)
    except SidebarRefused as exc:
        if exc.kind != "signature" or not source.refetch():
            raise
    log.info("sidebar: Zendesk app %s has a new public key", settings.zendesk_app_id)
    return sidebar_auth.verify_zendesk_token(token, source.key, serves)


def _fetch_app_key() -> str:
    """Through a connector of its own (its requests.Session is not shared between threads)."""
    settings = runtime().settings
    connector = ZendeskConnector(settings, engine=runtime().engine)
    try:
        return sidebar_auth.fetch_app_key_pem(connector, settings.zendesk_app_id)
    finally:
        connector.session.close()


# --- what the page asks for --------------------------------------------------------------

def current_session() -> SidebarSession:
    """The sidebar session the request's header stands for (401 otherwise)."""
    try:
        session = sidebar_auth.read(runtime().settings.secret_key, request.headers.get(sidebar_auth.HEADER))
    except SidebarRefused as exc:
        raise _Refused(401, exc.reason) from None
    g.sidebar_session = session
    return session


def _current_rules(session: SidebarSession):
    """The account's effective rules, as the worker uses them (console edits included).
    The one place that says where rules come from, so it can be rewired alone."""
    return runtime().rulebooks.rules_for(session.helpdesk, session.account)


@bp.post("/suggestion")
def suggestion():
    """The ticket's stored suggestion, else one composed now from what ZAF gave the page."""
    session = current_session()
    ticket = _ticket_from(_body())
    rules = _current_rules(session)
    stored = db.ticket_suggestion(runtime().engine, session.helpdesk, session.account, ticket.id)
    if stored:
        view = _stored_view(stored, rules)
        if view["general"]:  # the candidates are not stored: read the ticket again for them
            text_ticket = ticket if (ticket.subject or ticket.description) else _with_stored_text(session, ticket)
            view["candidates"] = _candidates(read(text_ticket, rules, _classifier(session, rules)), rules)
        return jsonify(view)
    if not (ticket.subject or ticket.description):
        ticket = _with_stored_text(session, ticket)
    return jsonify(_composed(session, ticket, rules))


@bp.post("/render")
def render():
    """The letter again for the category, audience and tone the agent picked."""
    session = current_session()
    data = _body()
    ticket = _ticket_from(data)
    rules = _current_rules(session)
    category = str(data.get("category") or "")
    audience, tone = str(data.get("audience") or ""), str(data.get("tone") or "")
    if category not in rules.categories and category != GENERAL_LETTER:
        raise _Refused(400, "category must be one of the account's categories, or general")
    if audience and audience not in AUDIENCES:
        raise _Refused(400, f"audience must be one of {', '.join(AUDIENCES)}")
    if tone and tone not in TONES:
        raise _Refused(400, f"tone must be one of {', '.join(TONES)}")
    if not (ticket.subject or ticket.description):
        ticket = _with_stored_text(session, ticket)
    return jsonify(_composed(session, ticket, rules, category=category, audience=audience, tone=tone))


def _body() -> dict:
    if not request.is_json:
        raise _Refused(415, "Content-Type must be application/json")
    try:
        return inputs.load_json_object(request.get_data(cache=False))
    except ValueError as exc:  # not JSON, too deep (Flask's get_json would raise RecursionError: a 500)
        raise _Refused(400, str(exc)) from None


def _ticket_from(data: dict) -> Ticket:
    """The ticket as the page read it from ZAF. Only text: nothing here is trusted beyond
    being what the agent's own Zendesk shows them."""
    try:
        ticket_id = inputs.helpdesk_id(data.get("ticket_id"), "ticket_id")
    except ValueError as exc:
        raise _Refused(400, str(exc)) from None
    raw = data.get("ticket") or {}
    if not isinstance(raw, dict):
        raise _Refused(400, "ticket must be an object")
    f = {key: str(raw.get(key) or "").strip() for key in TICKET_FIELDS}
    if sum(len(v) for v in f.values()) > MAX_FIELD:
        raise _Refused(400, f"the ticket's text is longer than {MAX_FIELD} characters")
    order_field = runtime().settings.order_field_id
    return Ticket(id=ticket_id, subject=f["subject"], description=f["description"],
                  requester=Person(id=f["requester_id"], name=f["requester_name"], email=f["requester_email"]),
                  organization=f["organization"], assignee=Person(name=f["assignee_name"]),
                  tags=tuple(tag for tag in re.split(r"[\s,]+", f["tags"]) if tag),
                  custom_fields=((order_field, f["order"]),) if order_field and f["order"] else ())


def _with_stored_text(session: SidebarSession, ticket: Ticket) -> Ticket:
    text = db.ticket_text(runtime().engine, session.helpdesk, session.account, ticket.id) or ""
    subject, _, description = text.partition("\n")
    return replace(ticket, subject=subject, description=description)


def _stored_view(stored: dict, rules) -> dict:
    def listed(key: str) -> list:
        return list(stored.get(key) or [])

    general = "amends_general" in listed("tags")
    return {"source": "stored", "category": stored["category"],
            "label": "General letter (category unclear)" if general else rules.label(stored["category"]),
            "confidence": stored["confidence"], "chosen": False, "runner_up": stored.get("runner_up") or "",
            "evidence": listed("evidence"), "subject": stored["subject"], "letter": stored["letter"],
            "to_fill": listed("to_fill"), "compensation": stored.get("compensation") or "",
            "audience": stored.get("audience") or "", "tone": stored.get("tone") or "",
            "lint": [finding.get("message", "") for finding in listed("lint")],
            "general": general, "candidates": [], "complaint": None,
            "decision": "A complaint, but Amends was not sure of the category, so the note has the general letter. "
                        "Pick one of the likely categories for its own letter." if general else ""}


def _composed(session: SidebarSession, ticket: Ticket, rules, category: str = "", audience: str = "",
              tone: str = "") -> dict:
    """What the pipeline would post for this ticket (core.suggest), or the letter for the category
    the agent chose; nothing is stored."""
    engine, settings = runtime().engine, runtime().settings
    if not (ticket.subject or ticket.description):
        raise _Refused(400, "no text to work from: the ticket has no subject or description yet")
    context = AccountContext(engine, settings, session.helpdesk, session.account, rules)
    try:
        result = context.suggest(ticket, category=category, audience=audience, tone=tone)
    except LetterOverBudget as exc:  # an admin's letter that this ticket makes too big or too slow
        raise _Refused(422, exc.reason) from None
    c, s = result.classification, result.suggestion
    label = ("General letter (category unclear)" if c.decision == GENERAL else
             "Not a complaint" if c.category == "other" else rules.label(c.category))
    view = {"source": "composed", "category": c.category, "label": label, "confidence": c.confidence,
            "chosen": result.chosen, "runner_up": c.runner_up, "evidence": list(c.evidence), "subject": "",
            "letter": "", "to_fill": [], "compensation": "", "audience": "", "tone": "", "lint": [],
            "decision": _decision(result), "general": c.decision == GENERAL, "complaint": c.complaint,
            "candidates": _candidates(result.found, rules)}
    if s is not None:
        view.update(subject=s.subject, letter=s.letter, to_fill=list(s.to_fill), compensation=s.compensation,
                    audience=s.audience, tone=s.tone, lint=[f.message for f in s.lint])
    return view


def _classifier(session: SidebarSession, rules) -> Classifier:
    """The account's classifier (its agents' corrections included), as the pipeline uses it."""
    return learning.classifier_for(runtime().engine, session.helpdesk, session.account, rules.classifier_phrases())


def _candidates(c: Classification, rules) -> list[dict]:
    """The likely categories, offered as one-click switches (the categories the account has)."""
    return [{"category": name, "label": rules.label(name), "score": score}
            for name, score in c.candidates if name in rules.categories]


def _decision(result: Suggested) -> str:
    """What the pipeline would do with this reading, so the agent knows why there was no note."""
    c = result.classification
    if result.chosen:
        return "Category chosen by you."
    if c.decision == GENERAL:
        return ("A complaint, but Amends is not sure of the category, so this is the general letter. "
                "Pick one of the likely categories for its own letter.")
    if c.category == "other":
        return "Amends does not read this as a complaint. Choose a category to write a letter anyway."
    return f"Amends posts no note: {result.reason}." if result.skip else ""
