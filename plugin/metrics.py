"""Prometheus metrics: every counter and histogram of Amends, and the /metrics exposition.

Callers say what happened (`note_posted(...)`, `webhook_answered(...)`); only this module knows
metric names. With PROMETHEUS_MULTIPROC_DIR set (by `amends serve`, before any process imports
prometheus_client) each process writes its samples to files there and a scrape adds them up, so
gunicorn's workers and the queue worker report as one. Without it (tests, `flask run`) the
default in-process registry is used. Queue depth and the oldest waiting event are not counted
anywhere: they are read from the database at scrape time.

Labels stay few and bounded (helpdesk, outcome, reason code, decision, category): never an
account, a ticket or anything a customer wrote.
"""

from __future__ import annotations

import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.engine import Engine

from plugin import db

# prometheus_client's own name; observability.py names it too, because it must set it before this
# module (and prometheus_client) is first imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Webhook answers are fast (a verify and an insert); notes take seconds to minutes (retries).
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
NOTE_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 4 * 3600.0)

WEBHOOKS = Counter("amends_webhooks_total", "Webhook deliveries answered, by outcome (the answer's status).",
                   ("helpdesk", "outcome"))
ACK_SECONDS = Histogram("amends_webhook_ack_seconds", "Time to answer a webhook delivery.", ("helpdesk",),
                        buckets=ACK_BUCKETS)
NOTES = Counter("amends_notes_posted_total", "Internal notes posted (or found already posted).", ("helpdesk",))
NOTE_LATENCY = Histogram("amends_webhook_to_note_seconds", "From the webhook's acceptance to the note posted.",
                         ("helpdesk",), buckets=NOTE_BUCKETS)
SKIPS = Counter("amends_skips_total", "Events finished without a note, by skip reason code.", ("helpdesk", "reason"))
FAILURES = Counter("amends_failures_total", "Events given up on (permanent error, retries exhausted, a bug).",
                   ("helpdesk",))
RETRIES = Counter("amends_retries_total", "Attempts that ended in a scheduled retry.", ("helpdesk",))
RATE_LIMITED = Counter("amends_helpdesk_rate_limited_total", "429 answers from the helpdesk API.", ("helpdesk",))
DECISIONS = Counter("amends_classifier_decisions_total", "Classifier readings acted on, by decision and category.",
                    ("helpdesk", "decision", "category"))
ATTEMPT_SECONDS = Histogram("amends_attempt_seconds", "Duration of one pipeline attempt, by outcome.",
                            ("helpdesk", "outcome"), buckets=ACK_BUCKETS[3:] + (30.0, 60.0))

# Read from the database per scrape (see DatabaseCollector).
QUEUE_DEPTH = "amends_queue_depth"
OLDEST_WAITING = "amends_oldest_waiting_seconds"


def webhook_answered(helpdesk: str, outcome: str, seconds: float) -> None:
    WEBHOOKS.labels(helpdesk, outcome).inc()
    ACK_SECONDS.labels(helpdesk).observe(seconds)


def note_posted(helpdesk: str, received_at: float | None, now: float | None = None) -> None:
    NOTES.labels(helpdesk).inc()
    if received_at is not None:
        NOTE_LATENCY.labels(helpdesk).observe(max(0.0, (now or time.time()) - received_at))


def skipped(helpdesk: str, reason: str) -> None:
    SKIPS.labels(helpdesk, reason or "other").inc()


def failed(helpdesk: str) -> None:
    FAILURES.labels(helpdesk).inc()


def retried(helpdesk: str) -> None:
    RETRIES.labels(helpdesk).inc()


def rate_limited(helpdesk: str) -> None:
    RATE_LIMITED.labels(helpdesk).inc()


def classified(helpdesk: str, decision: str, category: str) -> None:
    DECISIONS.labels(helpdesk, decision, category).inc()


def attempt_finished(helpdesk: str, outcome: str, seconds: float) -> None:
    ATTEMPT_SECONDS.labels(helpdesk, outcome).observe(seconds)


class DatabaseCollector:
    """Queue depth and the oldest waiting event's age, read (with /healthz's query) per scrape."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self):
        waiting = db.waiting_events(self.engine)
        depth = GaugeMetricFamily(QUEUE_DEPTH, "Unfinished events (queued, processing, retrying).")
        depth.add_metric([], waiting.depth)
        oldest = GaugeMetricFamily(OLDEST_WAITING, "Age of the oldest unfinished event (0: none waits).")
        age = time.time() - waiting.oldest_received_at if waiting.oldest_received_at is not None else 0.0
        oldest.add_metric([], max(0.0, age))
        return [depth, oldest]


class _Scrape:
    """What one scrape shows: every process's samples (or this process's) plus the database's."""

    def __init__(self, engine: Engine):
        self.sources = [_process_samples(), DatabaseCollector(engine)]

    def collect(self):
        for source in self.sources:
            yield from source.collect()


def _process_samples():
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


def exposition(engine: Engine) -> bytes:
    """The text for GET /metrics."""
    return generate_latest(_Scrape(engine))
