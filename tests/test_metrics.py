"""GET /metrics (Prometheus), the counters behind it, multiprocess mode, and the JSON log lines."""

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from plugin import db, metrics
from plugin.models import Person, TicketEvent
from plugin.observability import JsonFormatter
from plugin.services import pipeline
from tests.conftest import fixture_bytes, signed_headers
from tests.test_pipeline import TICKET, stack  # noqa: F401  (the pipeline tests' fixture, shared)

ROOT = Path(__file__).resolve().parent.parent


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client, **headers) -> dict[str, list]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(response.get_data(as_text=True))}


def accept(engine) -> int:
    event = TicketEvent(helpdesk="zendesk", account="acme", ticket_id=str(TICKET), kind="ticket.created",
                        delivery_keys=("event:e1",), subject="Order #A1234 still not here", description="",
                        requester=Person(id="501"))
    return db.accept_event(engine, event).event_id


def run(stack, event_id):
    settings, engine, connector, _ = stack
    return pipeline.process_event(engine, connector, settings, event_id, "w1", rand=lambda: 0.5)


def test_a_webhook_moves_its_counters_and_the_queue_depth(client):
    accepted = value("amends_webhooks_total", helpdesk="zendesk", outcome="accepted")
    acks = value("amends_webhook_ack_seconds_count", helpdesk="zendesk")
    body = fixture_bytes("ticket_created_event.json")
    assert client.post("/webhooks/zendesk", data=body, headers=signed_headers(body)).status_code == 202
    refused = value("amends_webhooks_total", helpdesk="zendesk", outcome="refused")
    assert client.post("/webhooks/zendesk", data=body, headers={"Content-Type": "application/json"}).status_code == 401
    assert value("amends_webhooks_total", helpdesk="zendesk", outcome="accepted") == accepted + 1
    assert value("amends_webhooks_total", helpdesk="zendesk", outcome="refused") == refused + 1
    assert value("amends_webhook_ack_seconds_count", helpdesk="zendesk") == acks + 2
    families = scrape(client)
    [depth] = families["amends_queue_depth"]
    assert depth.value == 1
    [oldest] = families["amends_oldest_waiting_seconds"]
    assert 0 <= oldest.value < 60


def test_an_unknown_helpdesk_is_counted_without_its_name(client):
    before = value("amends_webhooks_total", helpdesk="unknown", outcome="refused")
    assert client.post("/webhooks/nosuchdesk", json={}).status_code == 404
    assert value("amends_webhooks_total", helpdesk="unknown", outcome="refused") == before + 1
    assert value("amends_webhooks_total", helpdesk="nosuchdesk", outcome="refused") == 0


def test_an_oversized_webhook_is_counted_as_refused(make_settings):
    from plugin import create_app

    app = create_app(make_settings(max_body_bytes=1000))
    before = value("amends_webhooks_total", helpdesk="zendesk", outcome="refused")
    body = json.dumps({"ticket": {"id": "1", "description": "x" * 2000}}).encode()
    response = app.test_client().post("/webhooks/zendesk", data=body, headers=signed_headers(body))
    assert response.status_code == 413 and response.json["status"] == "refused"
    assert value("amends_webhooks_total", helpdesk="zendesk", outcome="refused") == before + 1


def test_a_posted_note_counts_with_its_latency_and_decision(stack):
    notes = value("amends_notes_posted_total", helpdesk="zendesk")
    latencies = value("amends_webhook_to_note_seconds_count", helpdesk="zendesk")
    decisions = value("amends_classifier_decisions_total", helpdesk="zendesk", decision="specific",
                      category="delivery_delay")
    assert run(stack, accept(stack[1])).outcome == "posted"
    assert value("amends_notes_posted_total", helpdesk="zendesk") == notes + 1
    assert value("amends_webhook_to_note_seconds_count", helpdesk="zendesk") == latencies + 1
    assert value("amends_classifier_decisions_total", helpdesk="zendesk", decision="specific",
                 category="delivery_delay") == decisions + 1


def test_a_429_counts_as_rate_limited_and_a_retry(stack):
    fake = stack[3]
    fake.inject("GET", rf"/tickets/{TICKET}(\.json)?$", status=429, headers={"Retry-After": "1"})
    limited = value("amends_helpdesk_rate_limited_total", helpdesk="zendesk")
    retries = value("amends_retries_total", helpdesk="zendesk")
    assert run(stack, accept(stack[1])).outcome == "retry"
    assert value("amends_helpdesk_rate_limited_total", helpdesk="zendesk") == limited + 1
    assert value("amends_retries_total", helpdesk="zendesk") == retries + 1


def test_a_skip_counts_by_its_reason_code(stack):
    settings, engine, _, fake = stack
    fake.add_ticket(TICKET, subject="Thanks!", description="Just wanted to say the order arrived and I love it.",
                    requester={"id": 501, "name": "Maria Gonzalez", "email": "maria@example.com"},
                    organization=None, tags=[])
    skips = value("amends_skips_total", helpdesk="zendesk", reason="not_a_complaint")
    assert run(stack, accept(engine)).outcome == "skipped"
    assert value("amends_skips_total", helpdesk="zendesk", reason="not_a_complaint") == skips + 1


def test_the_token_guards_metrics_and_never_shows(app_factory):
    token = "metrics-token-0123456789"
    client = app_factory(metrics_token=token).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {token}"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert token not in text and "tok" not in re.findall(r'"([^"]*)"', text)


def test_metrics_is_open_without_a_token_and_parses(client):
    families = scrape(client)
    assert "amends_queue_depth" in families and "amends_oldest_waiting_seconds" in families


MULTIPROC_CHILD = """
import sys
from plugin import metrics
metrics.note_posted("zendesk", None)
metrics.webhook_answered("zendesk", "accepted", 0.01)
"""

MULTIPROC_SCRAPE = """
import sys
from plugin import db, metrics
engine = db.make_engine(sys.argv[1])
db.upgrade(engine)
sys.stdout.write(metrics.exposition(engine).decode())
"""


def test_multiprocess_mode_adds_up_across_processes(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    (tmp_path / "prom").mkdir()
    for _ in range(2):
        subprocess.run([sys.executable, "-c", MULTIPROC_CHILD], cwd=ROOT, env=env, check=True, timeout=60)
    out = subprocess.run([sys.executable, "-c", MULTIPROC_SCRAPE, f"sqlite:///{tmp_path / 'm.db'}"], cwd=ROOT,
                         env=env, check=True, timeout=60, capture_output=True, text=True).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(out) for s in family.samples}
    assert samples[("amends_notes_posted_total", (("helpdesk", "zendesk"),))] == 2
    assert samples[("amends_webhooks_total", (("helpdesk", "zendesk"), ("outcome", "accepted")))] == 2
    assert samples[("amends_webhook_ack_seconds_count", (("helpdesk", "zendesk"),))] == 2
    assert samples[("amends_queue_depth", ())] == 0


def test_each_attempt_logs_one_json_line_with_its_fields(stack, caplog):
    with caplog.at_level(logging.INFO, logger="plugin.services.pipeline"):
        event_id = accept(stack[1])
        assert run(stack, event_id).outcome == "posted"
    [record] = [r for r in caplog.records if hasattr(r, "amends")]
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["event_id"] == event_id and entry["ticket"] == str(TICKET) and entry["account"] == "acme"
    assert entry["outcome"] == "posted" and entry["duration"] >= 0
    assert entry["level"] == "INFO" and "time" in entry
    assert "parcel" not in line  # never the ticket's text


def test_the_json_formatter_keeps_exceptions_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed here" and "ValueError: boom" in entry["exception"]


def known_series() -> set[str]:
    names = {metrics.QUEUE_DEPTH, metrics.OLDEST_WAITING}
    for collector in vars(metrics).values():
        if not isinstance(collector, MetricWrapperBase):
            continue
        for family in collector.describe():
            if family.type == "counter":
                names.add(family.name + "_total")
            elif family.type == "histogram":
                names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
    return names


def test_the_dashboard_names_only_existing_metrics():
    dashboard = json.loads((ROOT / "deploy" / "grafana-amends.json").read_text())
    known = known_series()
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(re.findall(r"\bamends_[a-z_]+", target["expr"]))
            assert names, target["expr"]
            assert names <= known, (panel["title"], names - known)
            used |= names
    for wanted in ("amends_webhooks_total", "amends_notes_posted_total", "amends_skips_total", "amends_failures_total",
                   "amends_retries_total", "amends_helpdesk_rate_limited_total", "amends_queue_depth",
                   "amends_oldest_waiting_seconds", "amends_webhook_ack_seconds_bucket",
                   "amends_webhook_to_note_seconds_bucket", "amends_classifier_decisions_total"):
        assert wanted in used, wanted


def test_log_format_is_validated(make_settings):
    from plugin.errors import ConfigError

    assert make_settings(log_format="json").log_format == "json"
    with pytest.raises(ConfigError, match="AMENDS_LOG_FORMAT"):
        make_settings(log_format="xml")
