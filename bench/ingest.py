"""Webhook intake benchmark: accepted events/s and ack latency against a bare Flask POST on the
same server stack (gunicorn gthread, same workers and threads), plus webhook-to-note latency
against the loopback fake Zendesk.

    .venv/bin/python bench/ingest.py [--clients 16] [--requests 3000] [--notes 200]
    .venv/bin/python bench/ingest.py --distributed   # PostgreSQL + Redis (AMENDS_TEST_* URLs)

Everything runs on this machine: the service, the bare app, the fake Zendesk and
the clients share its cores, so read the ratio, not the absolute numbers.
Targets (issue #2): ratio >= 0.8, p99 ack < 50 ms.
"""

from __future__ import annotations

import argparse
import atexit
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugin.core.signatures import sign  # noqa: E402
from tests.fakes.zendesk import FakeZendesk  # noqa: E402
from tests.service import Service, clean_environment, free_port  # noqa: E402

SECRET = "bench-secret"
BARE_APP = '''
from flask import Flask, request, jsonify
app = Flask("bare")
@app.post("/bare")
def bare():
    request.get_data()
    return jsonify(status="accepted"), 202
'''


def event_body(ticket_id: int) -> bytes:
    return json.dumps({
        "type": "zen:event-type:ticket.created", "account_id": 1, "id": str(uuid.uuid4()),
        "time": datetime.now(timezone.utc).isoformat(), "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket_id}",
        "detail": {"id": str(ticket_id), "subject": "My parcel has not arrived",
                   "description": "The tracking has not moved for a week and my order has not arrived.",
                   "requester_id": "501", "status": "NEW", "via": {"channel": "web"}},
        "event": {},
    }).encode()


def headers(body: bytes) -> dict[str, str]:
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature-Timestamp": ts,
            "X-Zendesk-Webhook-Signature": sign(SECRET, ts, body),
            "X-Zendesk-Webhook-Invocation-Id": uuid.uuid4().hex}


def load(url: str, bodies: list[bytes], clients: int) -> tuple[float, list[float], dict[int, int], dict[int, float]]:
    """Send every body once from `clients` threads; return (req/s, latencies, status counts, send times)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent_at: dict[int, float] = {}
    lock = threading.Lock()
    cursor = iter(enumerate(bodies))

    def client() -> None:
        session = requests.Session()
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                return
            index, body = item
            start = time.perf_counter()
            wall = time.time()
            code = session.post(url, data=body, headers=headers(body), timeout=30).status_code
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                statuses[code] = statuses.get(code, 0) + 1
                sent_at[index] = wall

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(bodies) / (time.perf_counter() - start), latencies, statuses, sent_at


def round_(bare_url: str, service_url: str, count: int, clients: int, first_ticket: int) -> tuple:
    bodies = [event_body(first_ticket + i) for i in range(count)]
    bare_rate, bare_lat, _, _ = load(bare_url, bodies, clients)
    hook_rate, hook_lat, statuses, _ = load(service_url + "/webhooks/zendesk", bodies, clients)
    return bare_rate, bare_lat, hook_rate, hook_lat, statuses


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def start_bare(workdir: Path, workers: str, threads: str) -> tuple[subprocess.Popen, str]:
    (workdir / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", workers, "--threads", threads,
         "-k", "gthread", "bare_app:app"], cwd=workdir, env=clean_environment({}),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/bare"
    for _ in range(100):
        try:
            requests.post(url, data=b"{}", timeout=1)
            return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("bare app did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="4,16", help="comma-separated concurrent client counts")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--notes", type=int, default=200, help="events sent at a steady pace for note latency")
    parser.add_argument("--pace", type=float, default=20.0, help="events/s for the note-latency phase")
    parser.add_argument("--distributed", action="store_true", help="PostgreSQL + Redis instead of SQLite")
    args = parser.parse_args()

    workers, threads = os.environ.get("AMENDS_WEB_WORKERS", "2"), os.environ.get("AMENDS_WEB_THREADS", "8")
    workdir = Path(tempfile.mkdtemp(prefix="amends-bench-"))
    fake = FakeInProcess()
    env = {
        "AMENDS_ZENDESK_SUBDOMAIN": "bench", "AMENDS_ZENDESK_WEBHOOK_SECRET": SECRET,
        "AMENDS_ZENDESK_EMAIL": "bench@example.com", "AMENDS_ZENDESK_API_TOKEN": "tok",
        "AMENDS_ZENDESK_API_URL": fake.url, "AMENDS_WEB_WORKERS": workers, "AMENDS_WEB_THREADS": threads,
        "AMENDS_LOG_LEVEL": "WARNING",
    }
    if args.distributed:
        from tests.scratch import Scratch

        scratch = Scratch("bench").create()  # our own database and Redis db, dropped at exit
        atexit.register(scratch.drop)
        env.update(AMENDS_DATABASE_URL=scratch.database_url, AMENDS_QUEUE_URL=scratch.queue_url)
    # Intake is measured with the web tier alone (as on a web machine at scale), then the
    # worker is started and drains; a last round repeats intake with `amends serve`,
    # web and worker sharing this machine, for the all-in-one figure.
    web = Service(workdir, env, mode="web").start()
    bare, bare_url = start_bare(workdir, workers, threads)
    rows, sent = [], 0
    try:
        warm = [event_body(9_000_000 + i) for i in range(200)]
        load(bare_url, warm, 8)
        load(web.url + "/webhooks/zendesk", warm, 8)
        sent += len(warm)
        client_counts = [int(c) for c in args.clients.split(",")]
        for n, clients in enumerate(client_counts):
            rows.append(("web only", clients) + round_(bare_url, web.url, args.requests, clients, 1_000_000 * (n + 1)))
            sent += args.requests
        started = time.time()
        web.start_worker()
        wait_for_notes(fake, sent, timeout=900)
        drain_rate = sent / (time.time() - started)
    finally:
        web.stop()
    serve = Service(workdir, env).start()
    try:
        rows.append(("serve", client_counts[-1]) + round_(bare_url, serve.url, args.requests, client_counts[-1],
                                                           7_000_000))
        sent += args.requests
        wait_for_notes(fake, sent, timeout=900)
        note_lat = paced_notes(serve.url, fake, args.notes, args.pace)
    finally:
        bare.terminate()
        serve.stop()
        fake.stop()

    store = "PostgreSQL + Redis" if args.distributed else "SQLite + Huey SQLite"
    print(f"stack: gunicorn gthread, {workers} workers x {threads} threads; {store}; "
          f"{args.requests} signed requests per round; clients, service, fake Zendesk share {os.cpu_count()} cores")
    print(f"{'service':>8} {'clients':>7} | {'bare req/s':>10} {'p50 ms':>7} {'p99 ms':>7} | {'hook ev/s':>9} "
          f"{'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5} | statuses")
    for shape, clients, bare_rate, bare_lat, hook_rate, hook_lat, statuses in rows:
        print(f"{shape:>8} {clients:>7} | {bare_rate:>10.0f} {pct(bare_lat, 50):>7.1f} {pct(bare_lat, 99):>7.1f} | "
              f"{hook_rate:>9.0f} {pct(hook_lat, 50):>7.1f} {pct(hook_lat, 99):>7.1f} | "
              f"{hook_rate / bare_rate:>5.2f} | {statuses}")
    print(f"worker drain (web-only backlog, fetch + compose + note + tags each): {drain_rate:.0f} events/s")
    print("targets: ratio >= 0.8, p99 ack < 50 ms")
    print(f"webhook -> note ({len(note_lat)}/{args.notes} events at {args.pace:g}/s): p50 {pct(note_lat, 50):.0f} ms"
          f"   p99 {pct(note_lat, 99):.0f} ms")


class FakeInProcess:
    """The fake Zendesk in a process of its own, so it does not share the clients' GIL."""

    def __init__(self) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.proc = multiprocessing.Process(target=self._serve, args=(child,), daemon=True)
        self.proc.start()
        self.url = self.conn.recv()

    @staticmethod
    def _serve(conn) -> None:
        fake = FakeZendesk(email="bench@example.com", api_token="tok", auto_tickets=True)
        fake.start()
        conn.send(fake.url)
        while conn.recv() != "stop":
            conn.send(note_times(fake))
        fake.stop()

    def note_times(self) -> dict[str, float]:
        self.conn.send("notes")
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send("stop")
        self.proc.join(timeout=10)


def note_times(fake: FakeZendesk) -> dict[str, float]:
    """Ticket id -> when its note reached the fake."""
    times: dict[str, float] = {}
    for record in list(fake.requests):
        if record.method == "PUT" and record.path.endswith(".json") and "/tags" not in record.path:
            ticket = record.path.rsplit("/", 1)[-1].removesuffix(".json")
            times.setdefault(ticket, record.received_at)
    return times


def wait_for_notes(fake: FakeInProcess, count: int, timeout: float) -> None:
    deadline = time.time() + timeout
    while len(fake.note_times()) < count and time.time() < deadline:
        time.sleep(0.2)


def paced_notes(url: str, fake: FakeInProcess, count: int, pace: float) -> list[float]:
    session = requests.Session()
    sent: dict[str, float] = {}
    for i in range(count):
        ticket = 8_000_000 + i
        body = event_body(ticket)
        sent[str(ticket)] = time.time()
        session.post(url + "/webhooks/zendesk", data=body, headers=headers(body), timeout=10)
        time.sleep(1 / pace)
    deadline = time.time() + 120
    while time.time() < deadline:
        posted = fake.note_times()
        if all(t in posted for t in sent):
            break
        time.sleep(0.1)
    posted = fake.note_times()
    return [posted[t] - sent[t] for t in sent if t in posted]


if __name__ == "__main__":
    main()
