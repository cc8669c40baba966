"""Retention (issue 14): customer text older than AMENDS_RETENTION_DAYS goes; counts and outcomes stay."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from plugin import db
from plugin.config import load_settings
from plugin.db import retention as storage
from plugin.services import retention
from tests.test_admin_watch import DAY, add_event, add_outcome, engine_of, page
from tests.test_cli import amends

LATER = DAY + 100 * 86400  # "now" for the purges below: DAY is 100 days old then
WINDOW = (DAY - 3600, DAY + 3600)


def old_and_recent(engine):
    """Two old finished tickets (one with feedback and an outcome), an old unfinished one and a recent one."""
    posted = add_event(engine, 1, db.POSTED, category="delivery_delay", to_note=3)
    skipped = add_event(engine, 2, db.SKIPPED, skip="not_a_complaint")
    retrying = add_event(engine, 3, db.RETRYING, category="wrong_item")
    recent = add_event(engine, 4, db.POSTED, category="delivery_delay", to_note=2, received_at=LATER - 86400)
    add_outcome(engine, posted, 1, "delivery_delay", 0.8)
    db.add_feedback(engine, "zendesk", "acme", "1", "correction", from_category="delivery_delay",
                    to_category="wrong_item", text="Robin's parcel", now=DAY)
    db.add_feedback(engine, "zendesk", "acme", "4", "thumbs_up", text="recent words", now=LATER - 86400)
    return posted, skipped, retrying, recent


def figures(engine):
    return (db.period_figures(engine, "zendesk", "acme", *WINDOW),
            db.outcome_figures(engine, "zendesk", "acme", *WINDOW))


def all_feedback(engine):
    with engine.connect() as conn:
        return {row.ticket_id: row.text for row in conn.execute(sa.select(db.feedback))}


def test_purge_removes_old_text_and_keeps_recent_unfinished_and_figures(engine):
    posted, skipped, retrying, recent = old_and_recent(engine)
    before = figures(engine)

    counts = db.purge_older_than(engine, 90, now=LATER)

    assert counts == {"events": 2, "suggestions": 1, "feedback": 1}
    for event_id in (posted, skipped):
        payload = db.get_event(engine, event_id)["payload"]
        assert db.is_purged(payload) and payload["retention_days"] == 90
        assert "subject" not in payload and "requester" not in payload
    gone = db.get_suggestion(engine, posted)
    assert (gone["subject"], gone["letter"], gone["note"], gone["text"], gone["requester_key"]) == ("", "", "", None,
                                                                                                     None)
    assert (gone["category"], gone["confidence"], list(gone["tags"])) == (
        "delivery_delay", 0.9, ["amends_suggested", "amends_delivery_delay"])
    # Unfinished and recent rows keep everything.
    for event_id in (retrying, recent):
        assert db.get_event(engine, event_id)["payload"]["subject"].startswith("Subject of")
        assert db.get_suggestion(engine, event_id)["note"]
    assert all_feedback(engine) == {"1": None, "4": "recent words"}
    assert db.get_outcome(engine, "zendesk", "acme", "1")["ratio"] == 0.8
    assert figures(engine) == before


def test_purge_is_idempotent_and_batched(engine, monkeypatch):
    monkeypatch.setattr(storage, "BATCH", 2)
    for ticket in range(10, 15):
        add_event(engine, ticket, db.POSTED, category="delivery_delay", to_note=1)
    assert db.purge_older_than(engine, 90, now=LATER) == {"events": 5, "suggestions": 5, "feedback": 0}
    assert db.purge_older_than(engine, 90, now=LATER) == {"events": 0, "suggestions": 0, "feedback": 0}
    assert db.purge_older_than(engine, 30, now=LATER + 86400) == {"events": 0, "suggestions": 0, "feedback": 0}


def test_purge_refuses_less_than_a_day(engine):
    with pytest.raises(ValueError):
        db.purge_older_than(engine, 0)


def test_a_purged_event_reads_back_as_a_thin_event():
    """A failed event retried after its purge is fetched again from the helpdesk, not crashed on."""
    from plugin.models import TicketEvent

    payload = storage.purged_payload(dict(helpdesk="zendesk", account="acme", ticket_id="7", kind="ticket.created"),
                                     DAY, 90)
    event = TicketEvent.from_dict(payload)
    assert event.ticket_id == "7" and event.is_thin


def test_daily_policy_uses_the_setting_and_zero_disables_it(engine, settings):
    add_event(engine, 1, db.POSTED, category="delivery_delay", to_note=1)  # DAY is long past by now
    off = load_settings(env_file=settings.database_url + ".absent", database_url=settings.database_url,
                        retention_days=0)
    assert retention.apply(engine, off) is None
    assert retention.apply(engine, settings) == {"events": 1, "suggestions": 1, "feedback": 0}
    assert retention.summary({"events": 120, "suggestions": 98, "feedback": 4}) == (
        "events: 120 purged, suggestions: 98, feedback: 4")


def test_worker_schedules_the_daily_purge():
    from plugin.tasks import Tasks

    assert "_purge" in Tasks.__dict__


def test_console_shows_a_purged_ticket(admin_client):
    engine = engine_of(admin_client)
    event_id = add_event(engine, 77, db.POSTED, category="delivery_delay", to_note=3)
    db.purge_older_than(engine, 90, now=LATER)
    html = page(admin_client, f"/admin/suggestions/{event_id}")
    assert "removed after 90 days" in html and "Subject of 77" not in html
    assert "The note's text was removed after 90 days" in html and "delivery_delay" in html
    assert f'id="event-{event_id}"' in page(admin_client, "/admin/suggestions")


def test_cli_purge_prints_counts_and_validates(tmp_path):
    url = f"sqlite:///{tmp_path / 'amends.db'}"
    result = amends(["purge", "--older-than", "30"], tmp_path, AMENDS_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "events: 0 purged, suggestions: 0, feedback: 0"
    for bad in ("-5", "0", "ten"):
        result = amends(["purge", "--older-than", bad], tmp_path, AMENDS_DATABASE_URL=url)
        assert result.returncode == 2 and "--older-than" in result.stderr, (bad, result.stderr)
    result = amends(["purge"], tmp_path, AMENDS_DATABASE_URL=url)
    assert result.returncode == 2 and "--older-than" in result.stderr


def test_negative_retention_setting_is_refused():
    from plugin.errors import ConfigError

    with pytest.raises(ConfigError, match="AMENDS_RETENTION_DAYS"):
        load_settings(env_file="/nonexistent.env", retention_days=-1)
