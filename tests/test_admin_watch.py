"""Console area "watching the work": suggestion log, detail, retry, stats, try a ticket.

Events are written through the same db functions the pipeline uses (accept, claim,
save_suggestion, record_attempt, finish), so the pages read what a worker writes.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from plugin import db
from plugin.models import Classification, Person, Suggestion, TicketEvent
from plugin.web.admin import watch
from tests.conftest import ADMIN_PASSWORD, audited_changes, csrf_token

DAY = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc).timestamp()


def engine_of(client):
    return client.application.extensions["amends"].engine


def add_event(engine, ticket, status, *, category=None, confidence=0.9, received_at=DAY, to_note=None,
              error=None, http_status=None, account="acme", general=False, skip=None, skip_category=None):
    """One event taken as far as `status`, the way the pipeline records it."""
    event = TicketEvent(helpdesk="zendesk", account=account, ticket_id=str(ticket), kind="ticket.created",
                        delivery_keys=(f"k{account}{ticket}",), subject=f"Subject of {ticket}",
                        description="My parcel is late.", requester=Person(name="Robin Example"))
    event_id = db.accept_event(engine, event, now=received_at).event_id
    claim = db.claim(engine, event_id, "test-worker", 30, now=received_at)
    if category:
        c = Classification(category, confidence, runner_up="wrong_item", evidence=("parcel", "late"))
        tags = ("amends_suggested", "amends_general" if general else f"amends_{category}")
        db.save_suggestion(engine, claim, Suggestion(c, "Your order", "Dear Robin, ...",
                                                     f"Amends suggestion: {category}\nnote body {ticket}",
                                                     tags), now=received_at)
    if to_note is not None:
        db.mark_post_started(engine, claim, now=received_at + to_note)
        db.mark_note_posted(engine, claim, now=received_at + to_note)
    outcome = {db.RETRYING: "retry"}.get(status, status)
    db.record_attempt(engine, claim, received_at, outcome, http_status, error)
    if status == db.RETRYING:
        db.schedule_retry(engine, claim, 30, error or "503 from Zendesk", now=received_at)
    elif status != db.PROCESSING:
        assert db.finish(engine, claim, status, error, now=received_at + (to_note or 1), skip=skip,
                         skip_category=skip_category)
    return event_id


def page(client, path, status=200):
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def flashes(html):
    return re.findall(r'<p class="flash (\w+)" role="status">([^<]*)</p>', html)


# --- suggestion log ------------------------------------------------------------------

def test_log_lists_every_ticket_newest_first_with_status_and_why(admin_client):
    engine = engine_of(admin_client)
    posted = add_event(engine, 101, db.POSTED, category="delivery_delay", confidence=0.87, to_note=2)
    skipped = add_event(engine, 102, db.SKIPPED, skip="not_a_complaint")
    failed = add_event(engine, 103, db.FAILED, category="wrong_item", error="Zendesk refused the note: 422",
                       http_status=422)
    retrying = add_event(engine, 104, db.RETRYING, category="billing_error", error="503 from Zendesk")
    add_event(engine, 900, db.POSTED, category="delivery_delay", account="other")  # another account: hidden
    html = page(admin_client, "/admin/suggestions")
    ids = [int(i) for i in re.findall(r'<tr id="event-(\d+)"', html)]
    assert ids == [retrying, failed, skipped, posted]
    assert 'href="https://acme.zendesk.com/agent/tickets/101"' in html
    assert "#900" not in html
    assert "0.87" in html and "delivery_delay" in html
    assert "not a complaint that calls for an apology" in html
    assert "Zendesk refused the note: 422" in html
    row = html[html.index(f'id="event-{retrying}"'):]
    assert "next attempt 2026-03-10 12:00:30 UTC" in row[:row.index("</tr>")]
    # Retry only on the failed one.
    assert html.count("/retry") == 1 and f"/admin/suggestions/{failed}/retry" in html
    # Counts per status, for this account only.
    assert re.search(r'data-status="posted">.*?<span class="count">1</span>', html, re.S)
    assert re.search(r'>all\s*<span class="count">4</span>', html)


def test_the_overview_lists_this_accounts_latest_tickets_with_subject_and_link(admin_client):
    engine = engine_of(admin_client)
    add_event(engine, 101, db.POSTED, category="delivery_delay", to_note=2)
    add_event(engine, 102, db.SKIPPED, skip="not_a_complaint")
    add_event(engine, 900, db.POSTED, category="delivery_delay", account="other")  # another account: hidden
    html = page(admin_client, "/admin/")
    latest = html[html.index("<h2>Latest tickets</h2>"):]
    assert latest.index("Subject of 102") < latest.index("Subject of 101")
    assert 'href="https://acme.zendesk.com/agent/tickets/101"' in latest
    assert "not a complaint that calls for an apology" in latest
    assert "#900" not in latest and "Subject of 900" not in latest


def test_log_filters_by_status_and_category(admin_client):
    engine = engine_of(admin_client)
    late = add_event(engine, 1, db.POSTED, category="delivery_delay", to_note=1)
    add_event(engine, 2, db.POSTED, category="wrong_item", to_note=1)
    late_failed = add_event(engine, 3, db.FAILED, category="delivery_delay", error="boom")
    add_event(engine, 4, db.SKIPPED, skip="rule_disabled", skip_category="billing_error")

    def shown(query):
        return [int(i) for i in re.findall(r'<tr id="event-(\d+)"', page(admin_client, "/admin/suggestions" + query))]

    assert shown("?category=delivery_delay") == [late_failed, late]
    assert shown("?status=posted&category=delivery_delay") == [late]
    assert shown("?status=skipped") == [4]
    html = page(admin_client, "/admin/suggestions?status=failed")
    assert '<option value="failed" selected>' in html
    assert '<option value="wrong_item"' in html  # the category select lists categories


def test_log_refuses_an_unknown_status(admin_client):
    html = page(admin_client, "/admin/suggestions?status=lost", status=400)
    assert "Unknown status &#39;lost&#39;" in html


def test_log_pages_through_keyset(admin_client, monkeypatch):
    monkeypatch.setattr(watch, "PAGE_SIZE", 2)
    engine = engine_of(admin_client)
    ids = [add_event(engine, n, db.POSTED, category="delivery_delay", to_note=1) for n in range(1, 6)]
    newest_first = ids[::-1]
    first = page(admin_client, "/admin/suggestions")
    assert [int(i) for i in re.findall(r'<tr id="event-(\d+)"', first)] == newest_first[:2]
    assert "Newer" not in first
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = page(admin_client, older)
    assert [int(i) for i in re.findall(r'<tr id="event-(\d+)"', second)] == newest_first[2:4]
    third = page(admin_client, re.search(r'href="([^"]+)" rel="next"', second).group(1).replace("&amp;", "&"))
    assert [int(i) for i in re.findall(r'<tr id="event-(\d+)"', third)] == newest_first[4:]
    assert "Older" not in third
    back = page(admin_client, re.search(r'href="([^"]+)" rel="prev"', third).group(1).replace("&amp;", "&"))
    assert [int(i) for i in re.findall(r'<tr id="event-(\d+)"', back)] == newest_first[2:4]


def test_detail_shows_note_evidence_and_attempts(admin_client):
    engine = engine_of(admin_client)
    event_id = add_event(engine, 77, db.FAILED, category="delivery_delay", error="Zendesk refused the note: 422",
                         http_status=422)
    html = page(admin_client, f"/admin/suggestions/{event_id}")
    assert "Subject of 77" in html
    assert "Amends suggestion: delivery_delay" in html and "The note we would post" in html
    assert "<code>parcel</code>, <code>late</code>" in html
    assert "<td>422</td>" in html and "Zendesk refused the note: 422" in html
    assert f'action="/admin/suggestions/{event_id}/retry"' in html


def test_detail_of_a_skipped_ticket_says_why_no_note(admin_client):
    event_id = add_event(engine_of(admin_client), 5, db.SKIPPED, skip="not_a_complaint")
    html = page(admin_client, f"/admin/suggestions/{event_id}")
    assert "No note was composed for this ticket: not a complaint" in html
    assert "/retry" not in html


def test_detail_of_an_unknown_or_foreign_event_is_404(admin_client):
    foreign = add_event(engine_of(admin_client), 5, db.POSTED, category="delivery_delay", account="other")
    assert admin_client.get("/admin/suggestions/999999").status_code == 404
    assert admin_client.get(f"/admin/suggestions/{foreign}").status_code == 404


# --- retry --------------------------------------------------------------------------------

def test_retry_requeues_a_failed_event_keeping_the_post_marker(admin_client):
    engine = engine_of(admin_client)
    event_id = add_event(engine, 9, db.FAILED, category="delivery_delay", error="gave up after 4 attempts")
    with engine.begin() as conn:  # the note may have reached Zendesk before the failure
        conn.execute(db.events.update().where(db.events.c.id == event_id).values(post_started_at=DAY + 1))
    before = db.get_event(engine, event_id)
    response = admin_client.post(f"/admin/suggestions/{event_id}/retry",
                                 data={"csrf_token": admin_client.csrf(), "next": "/admin/suggestions?status=failed"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/suggestions?status=failed"
    row = db.get_event(engine, event_id)
    assert row["status"] == db.QUEUED and row["attempts"] == 0 and row["last_error"] is None
    assert row["lease_owner"] is None and row["next_attempt_at"] is not None
    assert row["post_started_at"] == DAY + 1 and row["note_marker"] == before["note_marker"]
    [entry] = audited_changes(engine)
    assert (entry["action"], entry["target"]) == ("retry", f"event {event_id}")
    assert entry["actor"].startswith("Ada") and "gave up after 4 attempts" in entry["before"]
    pending = [t.args[0] for t in admin_client.application.extensions["amends"].huey.pending()]
    assert pending == [event_id]
    html = page(admin_client, "/admin/suggestions")
    assert ("ok", "Ticket #9 is being retried with a fresh set of attempts.") in flashes(html)
    assert f'<tr id="event-{event_id}" data-status="retrying">' in html
    assert "retry requested, next attempt" in html
    assert re.search(r'data-status="retrying">.*?<span class="count">1</span>', html, re.S)
    assert re.search(r'data-status="queued">.*?<span class="count">0</span>', html, re.S)
    assert f'id="event-{event_id}"' in page(admin_client, "/admin/suggestions?status=retrying")
    assert f'id="event-{event_id}"' not in page(admin_client, "/admin/suggestions?status=queued")


def test_retry_of_an_event_that_is_not_failed_changes_nothing(admin_client):
    engine = engine_of(admin_client)
    event_id = add_event(engine, 10, db.POSTED, category="delivery_delay", to_note=1)
    before = db.get_event(engine, event_id)
    response = admin_client.post(f"/admin/suggestions/{event_id}/retry", data={"csrf_token": admin_client.csrf()})
    assert response.headers["Location"] == f"/admin/suggestions/{event_id}"
    assert db.get_event(engine, event_id) == before
    assert audited_changes(engine) == []
    assert admin_client.application.extensions["amends"].huey.pending_count() == 0
    html = page(admin_client, f"/admin/suggestions/{event_id}")
    assert ("error", "Ticket #10 is posted, not failed: nothing to retry.") in flashes(html)


def test_retry_with_the_queue_down_leaves_the_event_queued_for_the_sweep(admin_client, monkeypatch):
    engine = engine_of(admin_client)
    event_id = add_event(engine, 13, db.FAILED, error="x")

    def down(*_args, **_kwargs):
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(admin_client.application.extensions["amends"].tasks, "enqueue", down)
    admin_client.post(f"/admin/suggestions/{event_id}/retry", data={"csrf_token": admin_client.csrf()})
    assert db.get_event(engine, event_id)["status"] == db.QUEUED
    [(kind, message)] = flashes(page(admin_client, f"/admin/suggestions/{event_id}"))
    assert kind == "error" and "the queue did not answer" in message


def test_retry_never_redirects_out_of_the_log(admin_client):
    event_id = add_event(engine_of(admin_client), 11, db.FAILED, error="x")
    response = admin_client.post(f"/admin/suggestions/{event_id}/retry",
                                 data={"csrf_token": admin_client.csrf(), "next": "https://evil.example/"})
    assert response.headers["Location"] == f"/admin/suggestions/{event_id}"


def test_retry_refuses_without_csrf_and_for_unknown_events(admin_client):
    engine = engine_of(admin_client)
    event_id = add_event(engine, 12, db.FAILED, error="x")
    assert admin_client.post(f"/admin/suggestions/{event_id}/retry").status_code == 400
    assert db.get_event(engine, event_id)["status"] == db.FAILED
    assert admin_client.post("/admin/suggestions/999999/retry",
                             data={"csrf_token": admin_client.csrf()}).status_code == 404


TICKET = 35436


@pytest.fixture
def live_client(make_settings, fake_zendesk):
    """A signed-in console whose worker talks to the fake Zendesk; one attempt before giving up."""
    from plugin import create_app

    settings = make_settings(secret_key="s" * 40, admin_password=ADMIN_PASSWORD,
                             zendesk_api_url=fake_zendesk.url, retry_max_attempts=1)
    app = create_app(settings)
    app.config["TESTING"] = True
    fake_zendesk.add_ticket(
        TICKET, subject="Order #A1234 still not here",
        description="My parcel has not arrived and the tracking has not moved in a week.",
        requester={"id": 501, "name": "Maria Gonzalez", "email": "maria@example.com", "locale": "en-US"},
        organization=None, tags=[])
    client = app.test_client()
    client.post("/admin/login", data={"password": ADMIN_PASSWORD, "name": "Ada", "csrf_token": csrf_token(client)})
    yield client, app.extensions["amends"], fake_zendesk
    app.extensions["amends"].engine.dispose()


def _fail_then_retry(live_client):
    client, rt, fake = live_client
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=str(TICKET), kind="ticket.created",
                        delivery_keys=("event:e1",), requester=Person(id="501"))
    event_id = db.accept_event(rt.engine, event).event_id
    assert rt.tasks.process.call_local(event_id) == "failed"
    assert db.get_event(rt.engine, event_id)["status"] == db.FAILED
    html = page(client, "/admin/suggestions?status=failed")
    assert f"/admin/suggestions/{event_id}/retry" in html
    response = client.post(f"/admin/suggestions/{event_id}/retry", data={"csrf_token": csrf_token(client, "/admin/")})
    assert response.status_code == 302
    # The worker: take the wake-up off the real queue and run it.
    task = rt.huey.dequeue()
    assert task.args == (event_id,)
    rt.huey.execute(task)
    return event_id


def notes(fake):
    return [c for c in fake.comments(TICKET) if c.get("public") is False]


def test_retry_end_to_end_after_zendesk_refused_the_note(live_client):
    client, rt, fake = live_client
    fake.inject("PUT", rf"/tickets/{TICKET}\.json$", status=422,
                body={"error": "RecordInvalid", "description": "Record validation errors"})
    event_id = _fail_then_retry(live_client)
    assert db.get_event(rt.engine, event_id)["status"] == db.POSTED
    assert len(notes(fake)) == 1
    html = page(client, f"/admin/suggestions/{event_id}")
    assert "The note we posted" in html and html.count('<span class="status failed">failed</span>') == 1


def test_retry_end_to_end_does_not_post_twice_when_the_note_got_through(live_client):
    client, rt, fake = live_client
    # Zendesk stores the note but the answer is a 500: the pipeline gives up (one attempt allowed).
    fake.inject("PUT", rf"/tickets/{TICKET}\.json$", status=500, after_apply=True)
    event_id = _fail_then_retry(live_client)
    assert db.get_event(rt.engine, event_id)["status"] == db.POSTED
    assert len(notes(fake)) == 1  # found by its marker, not posted again
    assert [a["outcome"] for a in db.list_attempts(rt.engine, event_id)] == ["failed", "already_posted"]


# --- stats ------------------------------------------------------------------------------

def test_stats_figures_for_a_period(admin_client):
    engine = engine_of(admin_client)
    for n, seconds in enumerate([4, 1, 10, 3, 2], start=1):
        add_event(engine, n, db.POSTED, category="delivery_delay" if n <= 3 else "wrong_item", to_note=seconds,
                  general=n == 2)
    add_event(engine, 6, db.FAILED, category="wrong_item", error="Zendesk refused the note: 422")
    add_event(engine, 7, db.SKIPPED, skip="not_a_complaint")
    add_event(engine, 8, db.SKIPPED, skip="not_a_complaint")
    add_event(engine, 9, db.SKIPPED, skip="below_threshold")
    add_event(engine, 10, db.SKIPPED, skip="rule_disabled", skip_category="billing_error")
    add_event(engine, 11, db.POSTED, category="delivery_delay", to_note=500, received_at=DAY + 86400)  # next day

    raw = db.period_figures(engine, "zendesk", "acme", DAY - 3600, DAY + 3600)
    figures = watch.summarise(raw)
    assert (figures["received"], figures["posted"], figures["failed"], figures["skipped"]) == (10, 5, 1, 4)
    assert figures["general"] == 1  # posted general letters, counted apart from their best-guess category
    assert figures["skipped_by_kind"] == {"not a complaint": 2, "below threshold": 1, "rule disabled": 1}
    assert [(c["category"], c["count"], c["posted"], c["bar"]) for c in figures["categories"]] == [
        ("delivery_delay", 3, 3, 100), ("wrong_item", 3, 2, 100)]
    assert figures["median"] == pytest.approx(3.0) and figures["p90"] == pytest.approx(7.6)

    html = page(admin_client, "/admin/stats?start=2026-03-10&end=2026-03-10")
    assert re.search(r'id="stat-received"><span class="figure">10<', html)
    assert re.search(r'id="stat-skipped"><span class="figure">4<', html)
    assert re.search(r'id="stat-general"><span class="figure">1<', html)
    assert '<td id="stat-median">3.0 s</td>' in html and '<td id="stat-p90">7.6 s</td>' in html
    assert "<th>below threshold</th><td>1</td>" in html
    # Both days: the slow note joins in.
    html = page(admin_client, "/admin/stats?start=2026-03-10&end=2026-03-11")
    assert re.search(r'id="stat-received"><span class="figure">11<', html)
    assert '<td id="stat-median">3.5 s</td>' in html


def add_outcome(engine, event_id, ticket, category, ratio):
    """An agent reply measured at `ratio` (what plugin/services/outcomes.py stores for a webhook)."""
    from plugin.services import outcomes

    accepted, edited = outcomes.judge(ratio)
    assert db.record_outcome(engine, dict(
        helpdesk="zendesk", account="acme", ticket_id=str(ticket), event_id=event_id, category=category,
        comment_id=f"c{ticket}", author_id="900", ratio=ratio, accepted=accepted, edited=edited, inserted=False,
        letter_words=100, reply_words=100, commented_at=None, recorded_at=DAY + 600)) is None


def test_stats_show_acceptance_edits_and_feedback_per_category(admin_client):
    from plugin.services import outcomes

    engine = engine_of(admin_client)
    for ticket, ratio in [(1, 1.0), (2, 0.8), (3, 0.3)]:
        event_id = add_event(engine, ticket, db.POSTED, category="delivery_delay", to_note=2)
        add_outcome(engine, event_id, ticket, "delivery_delay", ratio)
    add_event(engine, 4, db.POSTED, category="wrong_item", to_note=2)  # no reply yet
    add_event(engine, 5, db.FAILED, category="wrong_item", error="Zendesk refused the note: 422")
    later = add_event(engine, 6, db.POSTED, category="delivery_delay", to_note=2, received_at=DAY + 3 * 86400)
    add_outcome(engine, later, 6, "delivery_delay", 0.1)  # outside the period
    for ticket, kind in [(1, "insert"), (2, "insert"), (1, "thumbs_up"), (3, "correction"), (3, "thumbs_down"),
                         (4, "thumbs_up"), (6, "insert")]:
        db.add_feedback(engine, "zendesk", "acme", str(ticket), kind, to_category="x", source="sidebar")

    raw = db.outcome_figures(engine, "zendesk", "acme", DAY - 3600, DAY + 3600)
    assert raw["delivery_delay"] == {"posted": 3, "replies": 3, "accepted": 2, "edited": 1,
                                     "ratio_sum": pytest.approx(2.1), "insert": 2, "correction": 1,
                                     "thumbs_up": 1, "thumbs_down": 1}
    assert raw["wrong_item"]["posted"] == 1 and raw["wrong_item"]["replies"] == 0
    summary = outcomes.summarise(raw)
    [delay, wrong] = summary["rows"]
    assert delay["category"] == "delivery_delay" and delay["acceptance"] == pytest.approx(2 / 3)
    assert delay["edit_rate"] == pytest.approx(0.5) and delay["mean_kept"] == pytest.approx(0.7)
    assert wrong["acceptance"] is None and wrong["edit_rate"] is None and wrong["mean_kept"] is None
    assert wrong["thumbs_up"] == 1
    total = summary["total"]
    assert (total["posted"], total["replies"], total["insert"], total["thumbs_up"]) == (4, 3, 2, 2)

    html = page(admin_client, "/admin/stats?start=2026-03-10&end=2026-03-10")
    assert "Acceptance</dt><dd>share of agent replies that are mostly our letter" in html
    html = html[html.index('<table id="replies">'):]
    row = re.search(r'<tr data-category="delivery_delay">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells == ["delivery_delay", "3", "3", "67 %", "50 %", "70 %", "2", "1", "1", "1"]
    row = re.search(r'<tr data-category="wrong_item">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row) == ["wrong_item", "1", "0", "–", "–", "–", "0", "0", "1", "0"]
    assert re.search(r'<tr class="total">\s*<td>All categories</td><td>4</td><td>3</td>', html)


def test_stats_without_notes_say_so_for_replies(admin_client):
    html = page(admin_client, "/admin/stats?start=2026-03-10&end=2026-03-10")
    assert "Agents' replies and sidebar feedback" in html and 'id="replies"' not in html


def test_stats_defaults_to_the_last_seven_days(admin_client):
    import time

    add_event(engine_of(admin_client), 1, db.POSTED, category="delivery_delay", to_note=2, received_at=time.time())
    html = page(admin_client, "/admin/stats")
    today = datetime.now(timezone.utc).date()
    assert f'name="end" value="{today.isoformat()}"' in html
    assert re.search(r'id="stat-posted"><span class="figure">1<', html)


@pytest.mark.parametrize("query, message", [
    ("start=10/03/2026&end=2026-03-11", "The start date must look like 2026-01-31"),
    ("start=2026-02-30&end=2026-03-11", "is not a real day"),
    ("start=2026-03-12&end=2026-03-11", "The start date is after the end date."),
    ("start=2024-01-01&end=2026-03-11", "Choose a period of at most 366 days."),
])
def test_stats_refuses_bad_dates_with_a_clear_error(admin_client, query, message):
    html = page(admin_client, f"/admin/stats?{query}", status=400)
    assert message in html
    assert "stat-received" not in html


def test_percentile_and_durations():
    assert watch.percentile([], 0.5) is None
    assert watch.percentile([5.0], 0.9) == 5.0
    assert watch.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert watch.duration(75) == "1 min 15 s" and watch.duration(3725) == "1 h 2 min"


# --- try a ticket ---------------------------------------------------------------------

def test_try_shows_classification_and_note_without_touching_anything(admin_client):
    engine = engine_of(admin_client)
    response = admin_client.post("/admin/try", data={
        "csrf_token": admin_client.csrf("/admin/try"), "subject": "Order #A1234 still not here",
        "description": "My parcel has not arrived and the tracking has not moved in a week.",
        "requester": "Maria Gonzalez", "tone": "formal"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert '<td id="try-category">delivery_delay</td>' in html
    assert "Amends would post this note." in html
    assert "Amends suggestion: delivery_delay" in html and "amends-ref: draft" in html
    assert "Maria" in html and "customer, formal" in html
    assert 'id="try-lint"' in html and 'id="try-to-fill"' in html
    assert db.list_events(engine) == []


def test_try_says_when_it_would_abstain(admin_client):
    response = admin_client.post("/admin/try", data={
        "csrf_token": admin_client.csrf("/admin/try"), "subject": "Opening hours",
        "description": "Hello, what time does your shop open on Saturdays? Thanks."})
    html = response.get_data(as_text=True)
    assert '<td id="try-category">other</td>' in html
    assert "would skip this ticket: not a complaint" in html and 'id="try-note"' not in html


def test_try_uses_the_current_rules(admin_client, monkeypatch):
    from dataclasses import replace

    rules = admin_client.application.extensions["amends"].rulebooks.base
    off = replace(rules, categories={**rules.categories,
                                     "delivery_delay": replace(rules.rule("delivery_delay"), enabled=False)})
    monkeypatch.setattr(watch, "_current_rules", lambda: off)
    html = admin_client.post("/admin/try", data={
        "csrf_token": admin_client.csrf("/admin/try"), "subject": "Order #A1234 still not here",
        "description": "My parcel has not arrived and the tracking has not moved in a week."}).get_data(as_text=True)
    assert "the rule for delivery_delay is disabled" in html


@pytest.mark.parametrize("data, message", [
    ({"subject": "", "description": "  "}, "Paste at least a subject or a description."),
    ({"description": "late", "audience": "robot"}, "Audience must be customer or client"),
    ({"description": "late", "tone": "angry"}, "Tone must be warm or formal"),
    ({"description": "x" * 20_001}, "more than 20000 characters"),
])
def test_try_validates_its_form(admin_client, data, message):
    response = admin_client.post("/admin/try", data={"csrf_token": admin_client.csrf("/admin/try"), **data})
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_try_page_and_csrf(admin_client):
    assert 'name="description"' in page(admin_client, "/admin/try")
    assert admin_client.post("/admin/try", data={"description": "late parcel"}).status_code == 400
