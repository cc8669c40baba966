"""Console area "watching the work": the suggestion log (with retry), stats for a period,
and "Try a ticket" (classify and compose pasted text without touching Zendesk or the events).

Times are shown and chosen in UTC: the console has no notion of the admin's time zone.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime

import numpy
from flask import abort, flash, redirect, render_template, request, url_for

from plugin import db
from plugin.config import SUBDOMAIN_RE
from plugin.core.decision import SkipReason
from plugin.errors import LetterOverBudget
from plugin.models import AUDIENCES, GENERAL, TONES, Person, Ticket
from plugin.services import outcomes
from plugin.services.suggesting import AccountContext
from plugin.web.admin import skipped
from plugin.web.admin.base import actor, bp, event_reason, helpdesk_account, runtime

log = logging.getLogger(__name__)

PAGE_SIZE = 50
STATUSES = (db.QUEUED, db.PROCESSING, db.RETRYING, db.POSTED, db.FAILED, db.SKIPPED)
MAX_PERIOD_DAYS = 366
MAX_TEXT = 20_000
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else ""


def ticket_url(account: str, ticket_id: str) -> str:
    """The ticket in Zendesk's agent interface; "" while the console has no real account (it
    says "default" until a subdomain is configured or connected): a link there would lead nowhere."""
    if account == db.DEFAULT_ACCOUNT or not SUBDOMAIN_RE.match(account or "") or not str(ticket_id).isdigit():
        return ""
    return f"https://{account}.zendesk.com/agent/tickets/{ticket_id}"


def shown_status(row: dict) -> str:
    """A queued event with attempts behind it was put back by a retry: show it as retrying
    (the same rule as db._shown_status, which the log's filter and counts use)."""
    if row["status"] == db.QUEUED and row.get("tries"):
        return db.RETRYING
    return row["status"]


def _render(template: str, http_status: int = 200, **context):
    return render_template(template, when=when, ticket_url=ticket_url, shown_status=shown_status,
                           event_reason=event_reason, **context), http_status


# --- suggestion log --------------------------------------------------------------

@bp.get("/suggestions")
def suggestions():
    helpdesk, account = helpdesk_account()
    engine = runtime().engine
    status = request.args.get("status", "").strip() or None
    category = request.args.get("category", "").strip() or None
    before = request.args.get("before", type=int)
    after = request.args.get("after", type=int)
    categories = sorted(set(_known_categories()) | set(db.suggestion_categories(engine, helpdesk, account)))
    if status and status not in STATUSES:
        flash(f"Unknown status {status!r}; choose one of: {', '.join(STATUSES)}.", "error")
        return _render("admin/suggestions.html", 400, rows=[], counts={}, status=None, category=category,
                       statuses=STATUSES, categories=categories, newer=None, older=None, account=account)
    filters = dict(status=status, category=category)
    rows = db.suggestion_log(engine, helpdesk, account, before=before, after=after, limit=PAGE_SIZE, **filters)
    newer = older = None
    if rows:
        top, bottom = rows[0]["id"], rows[-1]["id"]
        if db.suggestion_has_rows(engine, helpdesk, account, after=top, **filters):
            newer = top
        if db.suggestion_has_rows(engine, helpdesk, account, before=bottom, **filters):
            older = bottom
    counts = db.suggestion_status_counts(engine, helpdesk, account, category=category)
    return _render("admin/suggestions.html", rows=rows, counts=counts, status=status, category=category,
                   statuses=STATUSES, categories=categories, newer=newer, older=older, account=account)


@bp.get("/suggestions/<int:event_id>")
def suggestion_detail(event_id: int):
    engine = runtime().engine
    event = _own_event(event_id)
    stored = db.get_suggestion(engine, event_id)
    details = None
    if stored:
        details = {key: list(stored.get(key) or []) for key in ("evidence", "tags", "to_fill", "lint")}
    payload = event["payload"]
    tries = db.list_attempts(engine, event_id)
    event["tries"] = len(tries)
    # A skipped ticket: what the classifier reads in it (made again now) and "Suggest anyway".
    reading = skipped.reading_of(event, _current_rules()) if event["status"] == db.SKIPPED else None
    return _render("admin/suggestions_detail.html", event=event, suggestion=stored, details=details,
                   ticket_subject=payload.get("subject", ""), tries=tries, reading=reading,
                   cannot_post=skipped.posting_problem(event) if reading else "",
                   # Retention removed the customer's text: say so instead of showing empty fields.
                   removed_after=skipped.removed_after(event))


@bp.post("/suggestions/<int:event_id>/suggest-anyway")
def suggest_anyway(event_id: int):
    """Post the chosen category's letter on a skipped ticket: the event goes back to the queue with
    that category, and its next attempt posts the note through the pipeline like any other."""
    helpdesk, account = helpdesk_account()
    event = _own_event(event_id)
    back = url_for("admin.suggestion_detail", event_id=event_id)
    problem = skipped.posting_problem(event)
    if problem:
        flash(f"Nothing was posted: {problem}.", "error")
        return redirect(back)
    category = request.form.get("category", "").strip()
    if category not in {c for c, _ in skipped.category_choices(_current_rules())}:
        flash(f"Nothing was posted: choose one of the categories, not {category[:64]!r}.", "error")
        return redirect(back)
    if not db.suggest_anyway(runtime().engine, helpdesk, account, event_id, category, actor()):
        flash(f"Nothing was posted: ticket #{event['ticket_id']} changed meanwhile; see its status below.", "error")
        return redirect(back)
    _enqueue(event, f"Ticket #{event['ticket_id']} is queued: the {category} letter goes to Zendesk as an internal "
                   "note.", f"Ticket #{event['ticket_id']} is queued for the {category} letter")
    return redirect(back)


@bp.post("/suggestions/<int:event_id>/retry")
def retry_suggestion(event_id: int):
    """A failed event goes back to the queue; a note that did reach Zendesk is found, not re-posted."""
    helpdesk, account = helpdesk_account()
    event = _own_event(event_id)
    back = request.form.get("next", "")
    if not back.startswith("/admin/suggestions"):  # only back into the log: no open redirect
        back = url_for("admin.suggestion_detail", event_id=event_id)
    if not db.retry_failed_event(runtime().engine, helpdesk, account, event_id, actor()):
        current = (db.get_event(runtime().engine, event_id) or event)["status"]
        flash(f"Ticket #{event['ticket_id']} is {current}, not failed: nothing to retry.", "error")
        return redirect(back)
    _enqueue(event, f"Ticket #{event['ticket_id']} is being retried with a fresh set of attempts.",
             f"Ticket #{event['ticket_id']} is queued again")
    return redirect(back)


def _enqueue(event: dict, done: str, queued: str) -> None:
    """Wake a worker for an event the console just put back in the queue, and say so."""
    try:
        runtime().tasks.enqueue(event["id"])
    except Exception:  # the queue is down: the row is queued, the worker's sweep finds it
        log.exception("%s/%s event %s: could not enqueue", event["helpdesk"], event["account"], event["id"])
        flash(f"{queued}, but the queue did not answer; a worker will pick it up within a few minutes.", "error")
        return
    flash(done, "ok")


def _own_event(event_id: int) -> dict:
    """The event, if it belongs to the account this console works on; 404 otherwise."""
    helpdesk, account = helpdesk_account()
    event = db.get_event(runtime().engine, event_id)
    if event is None or (event["helpdesk"], event["account"]) != (helpdesk, account):
        abort(404)
    return event


def _known_categories() -> list[str]:
    return list(_current_rules().categories)


# --- stats --------------------------------------------------------------------------

# How the stats page names each skip code (events.skip_reason), in this order.
SKIP_KINDS = {SkipReason.NOT_A_COMPLAINT: "not a complaint", SkipReason.BELOW_THRESHOLD: "below threshold",
              SkipReason.RULE_DISABLED: "rule disabled", SkipReason.OTHER: "other reason"}


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (the median is fraction 0.5)."""
    return float(numpy.quantile(values, fraction)) if values else None


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def _parse_day(text: str, name: str, errors: list[str]) -> date | None:
    if not DATE_RE.fullmatch(text):
        errors.append(f"The {name} date must look like 2026-01-31 (year-month-day), got {text!r}.")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(f"The {name} date {text!r} is not a real day.")
        return None


@bp.get("/stats")
def stats():
    today = datetime.now(timezone.utc).date()
    start_text = request.args.get("start", "").strip() or (today - timedelta(days=6)).isoformat()
    end_text = request.args.get("end", "").strip() or today.isoformat()
    errors: list[str] = []
    start, end = _parse_day(start_text, "start", errors), _parse_day(end_text, "end", errors)
    if start and end and start > end:
        errors.append("The start date is after the end date.")
    elif start and end and (end - start).days >= MAX_PERIOD_DAYS:
        errors.append(f"Choose a period of at most {MAX_PERIOD_DAYS} days.")
    if errors:
        return _render("admin/stats.html", 400, errors=errors, start=start_text, end=end_text, figures=None)
    helpdesk, account = helpdesk_account()
    begin = datetime.combine(start, dtime.min, tzinfo=timezone.utc).timestamp()
    finish = datetime.combine(end + timedelta(days=1), dtime.min, tzinfo=timezone.utc).timestamp()
    raw = db.period_figures(runtime().engine, helpdesk, account, begin, finish)
    replies = outcomes.summarise(db.outcome_figures(runtime().engine, helpdesk, account, begin, finish))
    return _render("admin/stats.html", errors=[], start=start_text, end=end_text, figures=summarise(raw),
                   replies=replies, duration=duration, percent=percent)


def percent(rate: float | None) -> str:
    """A rate as a whole percentage; a dash when there was nothing to divide by."""
    return "–" if rate is None else f"{round(100 * rate)} %"


def summarise(raw: dict) -> dict:
    """The page's figures from db.period_figures: totals, abstentions by kind, bars, timings."""
    by_status = raw["by_status"]
    skipped = {label: 0 for label in SKIP_KINDS.values()}
    for code, count in raw["skipped"]:
        skipped[SKIP_KINDS.get(code, SKIP_KINDS[SkipReason.OTHER])] += count
    top = max((n for _, n, _ in raw["categories"]), default=0)
    return {
        "received": sum(by_status.values()),
        "posted": by_status.get(db.POSTED, 0),
        "general": raw.get("general", 0),
        "failed": by_status.get(db.FAILED, 0),
        "skipped": by_status.get(db.SKIPPED, 0),
        "skipped_by_kind": {kind: n for kind, n in skipped.items() if n},
        "in_progress": sum(by_status.get(s, 0) for s in db.UNFINISHED),
        "categories": [{"category": c, "count": n, "posted": p, "bar": round(100 * n / top) if top else 0}
                       for c, n, p in raw["categories"]],
        "notes": len(raw["durations"]),
        "median": percentile(raw["durations"], 0.5),
        "p90": percentile(raw["durations"], 0.9),
    }


# --- try a ticket ---------------------------------------------------------------------

def _current_rules():
    """The account's effective rules, as the worker uses them (console edits included)."""
    return runtime().rulebooks.rules_for(*helpdesk_account())


@bp.route("/try", methods=["GET", "POST"])
def try_ticket():
    form = {key: request.form.get(key, "").strip() for key in ("subject", "description", "requester", "email",
                                                                "tags", "audience", "tone")}
    if request.method == "GET":
        return _render("admin/try.html", form=form, errors=[], result=None)
    errors = []
    if not (form["subject"] or form["description"]):
        errors.append("Paste at least a subject or a description.")
    if len(form["subject"]) + len(form["description"]) + len(form["tags"]) > MAX_TEXT:
        errors.append(f"That is more than {MAX_TEXT} characters; paste the first message only.")
    if form["audience"] and form["audience"] not in AUDIENCES:
        errors.append("Audience must be customer or client (or the rule's choice).")
    if form["tone"] and form["tone"] not in TONES:
        errors.append("Tone must be warm or formal (or the rule's choice).")
    if errors:
        return _render("admin/try.html", 400, form=form, errors=errors, result=None)
    try:
        result = try_text(**form)
    except LetterOverBudget as exc:  # the account's letter for this category is too big or slow here
        return _render("admin/try.html", 422, form=form, errors=[f"Amends could not write the letter: {exc.reason}."],
                       result=None)
    return _render("admin/try.html", form=form, errors=[], result=result)


def try_text(subject: str, description: str, requester: str = "", audience: str = "", tone: str = "",
             email: str = "", tags: str = "") -> dict:
    """What the pipeline would decide and compose for this ticket: the account's classifier and
    current rules, the requester's previous suggestion (by email); nothing stored or sent."""
    helpdesk, account = helpdesk_account()
    ticket = Ticket(id="try", subject=subject, description=description,
                    requester=Person(name=requester, email=email),
                    tags=tuple(tag for tag in re.split(r"[\s,]+", tags) if tag))
    context = AccountContext(runtime().engine, runtime().settings, helpdesk, account, _current_rules())
    result = context.suggest(ticket, audience=audience, tone=tone)
    c = result.classification
    decision = (f"Amends would skip this ticket: {result.reason}." if result.skip else
                "Amends would post the general letter: a complaint, but the category is unclear."
                if c.decision == GENERAL else "Amends would post this note.")
    return {"classification": c, "suggestion": result.suggestion, "decision": decision}
