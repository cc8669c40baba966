"""/healthz and the worker: last heartbeat, queue depth, oldest waiting event, and 503 naming the
worker when events wait and no worker has beaten for AMENDS_WORKER_STALE_SECONDS."""

import time

import pytest

from plugin import db
from plugin.models import TicketEvent


def beat(engine, name="host-a:4242:cafe0001", pid=4242, seconds_ago=0.0):
    """A worker's heartbeat, `seconds_ago` old (aged in the row, as time would)."""
    now = time.time()
    db.beat(engine, db.Heartbeat(worker=name, host="host-a", pid=pid, started_at=now - 3600, beat_at=now))
    with db.writing(engine) as conn:
        conn.execute(db.heartbeats.update().where(db.heartbeats.c.worker == name)
                     .values(beat_at=now - seconds_ago))


def waiting_event(engine, ticket="1001", seconds_ago=0.0):
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=ticket, kind="ticket.created")
    return db.accept_event(engine, event, now=time.time() - seconds_ago).event_id


def rt(app):
    return app.extensions["amends"]


def test_fresh_worker_is_reported_with_the_queue(app, client):
    engine = rt(app).engine
    beat(engine, seconds_ago=2)
    waiting_event(engine, "1001", seconds_ago=30)
    waiting_event(engine, "1002", seconds_ago=5)
    response = client.get("/healthz")
    assert response.status_code == 200, response.json
    worker = response.json["worker"]
    assert worker["status"] == "ok" and worker["name"] == "host-a:4242:cafe0001"
    assert worker["live_workers"] == 1
    assert 1.5 <= worker["seconds_since_heartbeat"] < 10
    assert worker["last_heartbeat"].endswith("+00:00")
    assert worker["queue_depth"] == 2
    assert 29 <= worker["oldest_waiting_seconds"] < 40


def test_stale_worker_with_waiting_events_is_503_naming_it(app, client):
    engine = rt(app).engine
    beat(engine, "host-a:1:old", seconds_ago=600)
    beat(engine, "host-b:2:dead", seconds_ago=90)  # the latest one is named
    waiting_event(engine)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["database"] == "ok" and response.json["queue"] == "ok"
    worker = response.json["worker"]
    assert worker["status"] == "stale" and worker["name"] == "host-b:2:dead"
    assert worker["live_workers"] == 0 and worker["queue_depth"] == 1
    assert "host-b:2:dead" in worker["error"] and "1 event(s) wait" in worker["error"]


def test_no_worker_ever_seen_with_waiting_events_is_503(app, client):
    waiting_event(rt(app).engine)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["worker"]["status"] == "missing"
    assert "none ever seen" in response.json["worker"]["error"]


def test_finished_events_do_not_wait(app, client):
    """Only unfinished events count: a stale worker with nothing to do is no outage."""
    engine = rt(app).engine
    beat(engine, seconds_ago=600)
    event_id = waiting_event(engine)
    with db.writing(engine) as conn:
        conn.execute(db.events.update().where(db.events.c.id == event_id).values(status=db.POSTED))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["worker"]["status"] == "stale"
    assert response.json["worker"]["queue_depth"] == 0
    assert response.json["worker"]["oldest_waiting_seconds"] is None


@pytest.mark.parametrize("stale_seconds, age, code", [(300, 120, 200), (30, 45, 503)])
def test_stale_after_is_the_setting(app_factory, stale_seconds, age, code):
    app = app_factory(worker_stale_seconds=stale_seconds)
    beat(rt(app).engine, seconds_ago=age)
    waiting_event(rt(app).engine)
    assert app.test_client().get("/healthz").status_code == code


def test_setting_is_read_from_the_environment(tmp_path, monkeypatch):
    from plugin.config import load_settings
    from plugin.errors import ConfigError

    assert load_settings(env_file=tmp_path / "none.env").worker_stale_seconds == 60
    monkeypatch.setenv("AMENDS_WORKER_STALE_SECONDS", "15")
    assert load_settings(env_file=tmp_path / "none.env").worker_stale_seconds == 15
    monkeypatch.setenv("AMENDS_WORKER_STALE_SECONDS", "0")
    with pytest.raises(ConfigError, match="AMENDS_WORKER_STALE_SECONDS"):
        load_settings(env_file=tmp_path / "none.env")
