"""Chaos benchmark: nothing lost, nothing doubled, while processes die and Zendesk misbehaves.

N signed `ticket.created` webhooks (one distinct ticket each, created in the fake Zendesk first) come
from many clients that retry like Zendesk does (same invocation id, so the service dedupes). Meanwhile
the harness kill -9s the worker and the web at random moments (seeded), and the fake Zendesk answers a
fraction of the API calls with 429 + Retry-After, 500, 503, a slow drip of the answer, or a connection
dropped mid-answer. Runs on SQLite and on PostgreSQL + Redis (a scratch database and Redis db of our own,
tests/scratch.py), in the all-in-one shape (`amends serve`) and the split one (gunicorn + `amends worker`).

    .venv/bin/python bench/chaos.py                      # 5,000 events, both backends, both shapes
    .venv/bin/python bench/chaos.py --quick              # smoke run: 300 events, 2 kills
    .venv/bin/python bench/chaos.py --backend sqlite --shape split --events 1000 --kills 6 --seed 7
    .venv/bin/python bench/chaos.py --quick --set AMENDS_RETRY_MAX_ATTEMPTS=1   # it must report losses

Supervision, as an operator would set it up: in the split shape a killed process is restarted by the
harness after a second (systemd: Restart=always, RestartSec=1, KillMode=control-group); gunicorn restarts
its own workers; in the serve shape only a dead `amends serve` is restarted by the harness, and `amends
serve` itself must restart its embedded worker.

Figures: sent, accepted (distinct tickets answered 2xx), notes (internal notes in the fake), lost
(accepted, no note after the drain), duplicates (notes beyond one per ticket), 5xx (503 "storage
unavailable" counted apart), p99 ack (webhook answer latency), and the longest recovery after a kill
(worker kill: until the next note; web kill: until the next 2xx to a request sent after the kill).
Targets (issue 12): 0 lost, 0 duplicates, 0 5xx other than 503, recovery after a worker kill < 30 s.
Exit status: 0 when every target held, 1 when one was missed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import SECRET, event_body, pct  # noqa: E402
from plugin.core.signatures import sign  # noqa: E402
from tests.fakes.zendesk import FakeZendesk  # noqa: E402
from tests.service import Service  # noqa: E402

FIRST_TICKET = 1_000_000
EMAIL, API_TOKEN = "chaos@example.com", "tok"
# Short deadlines so a run takes minutes: a lease must be >= 4 x the HTTP timeout (config.validate).
SERVICE_SETTINGS = {
    "AMENDS_ZENDESK_SUBDOMAIN": "chaos", "AMENDS_ZENDESK_WEBHOOK_SECRET": SECRET,
    "AMENDS_ZENDESK_EMAIL": EMAIL, "AMENDS_ZENDESK_API_TOKEN": API_TOKEN,
    "AMENDS_HTTP_TIMEOUT_SECONDS": "2", "AMENDS_LEASE_SECONDS": "10",
    "AMENDS_RETRY_BASE_SECONDS": "0.5", "AMENDS_RETRY_MAX_DELAY_SECONDS": "5", "AMENDS_RETRY_MAX_ATTEMPTS": "15",
    "AMENDS_WEB_WORKERS": "2", "AMENDS_WEB_THREADS": "8", "AMENDS_WORKER_THREADS": "4",
    "AMENDS_LOG_LEVEL": "WARNING",
}
# Share of each fault among the faulted API calls (--fault-rate sets how many calls are faulted).
FAULT_MIX = {"429": 0.25, "500": 0.2, "503": 0.2, "drip": 0.1, "drop": 0.25}
DRIP_INTERVAL, DRIP_SECONDS = 1.0, 12.0  # longer than the lease: only a total HTTP deadline cuts it
RESTART_DELAY = 1.0  # the supervisor's RestartSec
IN_FLIGHT_GUARD = 0.5  # a note reaching the fake this soon after a worker kill was sent before it
SETTLE_SECONDS = 3.0  # after the last note: time for a late duplicate to show up
COMPLAINTS = [  # (subject, description): each one classified as a complaint, so each ticket gets a note
    ("Where is my order #{n}?",
     "My order #{n} was due last Monday and still hasn't arrived. The tracking has not moved for a week."),
    ("Wrong item in order #{n}",
     "I ordered a blue kettle (order #{n}) and received a toaster instead. I need the one I paid for."),
    ("Charged twice for order #{n}",
     "You charged my card twice for order #{n}. Please refund the double charge."),
    ("Order #{n} arrived broken",
     "The mixer from order #{n} arrived damaged: the bowl is cracked and the box was crushed."),
]


# --- the fake Zendesk, in a process of its own (the clients' threads would slow it down) ------------------

class FakeProcess:
    """tests.fakes.zendesk.FakeZendesk behind a pipe: add tickets, set chaos, read notes.
    `options` go to FakeZendesk (e.g. latency=0.1 for bench/scale.py)."""

    def __init__(self, **options: object) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.proc = multiprocessing.Process(target=_serve_fake, args=(child, options), daemon=True)
        self.proc.start()
        self.url = self.conn.recv()
        self._lock = threading.Lock()  # one pipe, several threads (killer, drain)

    def call(self, command: str, arg: object = None) -> object:
        with self._lock:
            self.conn.send((command, arg))
            return self.conn.recv()

    def stop(self) -> None:
        self.call("stop")
        self.proc.join(timeout=10)


def _serve_fake(conn, options: dict) -> None:
    fake = FakeZendesk(email=EMAIL, api_token=API_TOKEN, **options).start()
    conn.send(fake.url)
    commands = {
        "add": lambda ids: _add_tickets(fake, ids),
        "chaos": lambda kwargs: fake.chaos(**kwargs),
        "note_counts": lambda _: fake.note_counts(),
        "note_times": lambda _: _note_times(fake),
        "calls": lambda _: Counter(f"{r.method} {_endpoint(r.path)}" for r in list(fake.requests)),
        "stats": lambda _: {"faults": dict(fake.chaos_counts), "api_calls": len(fake.requests),
                            "contract_errors": len(fake.contract_errors)},
        "stop": lambda _: fake.stop(),
    }
    while True:
        command, arg = conn.recv()
        conn.send(commands[command](arg))
        if command == "stop":
            return


def _add_tickets(fake: FakeZendesk, ticket_ids: list[int]) -> None:
    for ticket_id in ticket_ids:
        subject, description = COMPLAINTS[ticket_id % len(COMPLAINTS)]
        requester = 2_000_000 + ticket_id % 997  # some requesters write more than once
        fake.add_ticket(ticket_id, subject=subject.format(n=ticket_id),
                        description=description.format(n=ticket_id),
                        requester={"id": requester, "name": f"Customer {requester}",
                                   "email": f"customer{requester}@example.com"})


def _endpoint(path: str) -> str:
    """/api/v2/tickets/123/tags.json -> /api/v2/tickets/{id}/tags.json: calls counted per endpoint."""
    return re.sub(r"/\d+", "/{id}", path)


def _note_times(fake: FakeZendesk) -> list[float]:
    """When each note reached the fake (applied: answered 200, even if the answer was then dripped or cut)."""
    return sorted(r.received_at for r in list(fake.requests)
                  if r.method == "PUT" and r.status == 200 and "/tags" not in r.path
                  and isinstance(r.json, dict) and "comment" in (r.json.get("ticket") or {}))


# --- the clients: Zendesk's webhook deliveries, with its retries ------------------------------------------

@dataclass
class Deliveries:
    """What the clients saw. `acks`: (sent at, answered at) of every 2xx answer."""

    total: int
    accepted: set[int] = field(default_factory=set)
    gave_up: set[int] = field(default_factory=set)
    statuses: Counter = field(default_factory=Counter)
    unavailable: int = 0  # 503 "storage unavailable": allowed while the store is down
    connection_errors: int = 0
    latencies: list[float] = field(default_factory=list)
    slow: list[tuple[float, float]] = field(default_factory=list)  # (sent at, latency) of answers over 1 s
    failures: list[float] = field(default_factory=list)  # when a delivery failed: connection error or 5xx
    sends: list[float] = field(default_factory=list)  # when each request was sent
    acks: list[tuple[float, float]] = field(default_factory=list)
    finished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + self.connection_errors

    @property
    def five_xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500) - self.unavailable


def signed_headers(body: bytes, invocation: str) -> dict[str, str]:
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature-Timestamp": ts,
            "X-Zendesk-Webhook-Signature": sign(SECRET, ts, body), "X-Zendesk-Webhook-Invocation-Id": invocation}


def deliver(session: requests.Session, url: str, ticket: int, seen: Deliveries, give_up_after: float) -> None:
    """One event until a final answer: retried on a connection error or 5xx, with the same invocation id."""
    body, invocation, first = event_body(ticket), uuid.uuid4().hex, time.time()
    for attempt in range(10_000):
        started = time.time()
        with seen.lock:
            seen.sends.append(started)
        try:
            response = session.post(url, data=body, headers=signed_headers(body, invocation), timeout=10)
        except requests.RequestException:
            with seen.lock:
                seen.connection_errors += 1
                seen.failures.append(time.time())
            pause = min(1.0, 0.1 * 2 ** attempt)  # short: the web's recovery is measured by the next 2xx
        else:
            if _record_answer(seen, ticket, response, started):
                return
            pause = min(5.0, 0.25 * 2 ** attempt)
        if time.time() - first > give_up_after:
            break
        time.sleep(pause * random.uniform(0.5, 1.0))
    with seen.lock:
        seen.gave_up.add(ticket)


def _record_answer(seen: Deliveries, ticket: int, response: requests.Response, started: float) -> bool:
    """Count the answer; True when it is final (2xx, or a 4xx that retrying cannot change)."""
    answered = time.time()
    with seen.lock:
        seen.statuses[response.status_code] += 1
        seen.latencies.append(answered - started)
        if answered - started > 1.0:
            seen.slow.append((started, answered - started))
        if response.status_code == 503 and "storage" in response.text:
            seen.unavailable += 1
        if response.status_code >= 500:
            seen.failures.append(answered)
        if 200 <= response.status_code < 300:
            seen.accepted.add(ticket)
            seen.acks.append((started, answered))
    return response.status_code < 500


def send_all(url: str, tickets: list[int], clients: int, seen: Deliveries, give_up_after: float) -> None:
    queue = iter(tickets)
    pick = threading.Lock()

    def client() -> None:
        session = requests.Session()
        while True:
            with pick:
                ticket = next(queue, None)
            if ticket is None:
                return
            deliver(session, url + "/webhooks/zendesk", ticket, seen, give_up_after)
            with seen.lock:
                seen.finished += 1

    threads = [threading.Thread(target=client, name=f"client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- the processes: supervised as systemd would, and found for killing ------------------------------------

def child_pids(parent: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:  # the field after the state is the ppid
            children.append(int(entry))
    return children


def is_queue_worker(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"worker" in argv and b"plugin.cli" in argv


class Supervised(Service):
    """Service whose top-level processes are restarted RESTART_DELAY after they die, group and all
    (systemd's Restart=always, KillMode=control-group)."""

    def __init__(self, workdir: Path, env: dict[str, str], mode: str):
        super().__init__(workdir, env, mode=mode)
        self.restarts: list[tuple[float, str]] = []
        self._dead_since: dict[int, float] = {}
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self, timeout: float = 90.0) -> Supervised:
        super().start(timeout)
        self._watcher.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        if self._watcher.is_alive():
            self._watcher.join(timeout=5)
        with self._lock:
            super().stop()

    def _watch(self) -> None:
        while not self._halt.wait(0.1):
            with self._lock:
                for proc in [p for p in self.procs if p.poll() is not None]:
                    died = self._dead_since.setdefault(proc.pid, time.time())
                    if time.time() - died >= RESTART_DELAY:
                        self._restart(proc)

    def _restart(self, proc) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # what is left of its group (orphaned gunicorn workers)
        except ProcessLookupError:
            pass
        self.procs.remove(proc)
        self._spawn(list(proc.args))
        self.restarts.append((time.time(), self.role(self.procs[-1])))

    def restarting(self) -> bool:
        with self._lock:
            return any(p.poll() is not None for p in self.procs)

    @staticmethod
    def role(proc) -> str:
        return "worker" if "worker" in proc.args else "web"

    def top(self, role: str):
        with self._lock:
            return next((p for p in self.procs if self.role(p) == role and p.poll() is None), None)

    def victims(self, kind: str) -> list[tuple[str, int]]:
        """(label, pid) of the processes a `kind` kill may hit, master first for the web."""
        web = self.top("web")
        if kind == "worker" and self.mode == "split":
            worker = self.top("worker")
            return [("amends worker", worker.pid)] if worker else []
        children = child_pids(web.pid) if web else []
        if kind == "worker":
            return [("embedded worker", pid) for pid in children if is_queue_worker(pid)]
        master = "amends serve" if self.mode == "serve" else "gunicorn master"
        return ([(master, web.pid)] if web else []) + \
            [("gunicorn worker", pid) for pid in children if not is_queue_worker(pid)]


# --- the kills ----------------------------------------------------------------------------------------------

@dataclass
class Kill:
    kind: str  # "worker" or "web": which tier it aims at
    trigger: float  # web: fraction of events delivered; worker: fraction of tickets with a note
    master: bool  # web kills: the master (whole tier down) rather than one gunicorn worker
    label: str = ""
    pid: int = 0
    at: float | None = None
    recovery: float | None = None

    @property
    def stops_worker(self) -> bool:  # `amends serve` takes its embedded worker down with it
        return self.kind == "worker" or self.label == "amends serve"


def kill_plan(count: int, rng: random.Random) -> list[Kill]:
    kinds = ["worker" if n % 2 == 0 else "web" for n in range(count)]
    rng.shuffle(kinds)
    web = sorted(rng.uniform(0.1, 0.9) for kind in kinds if kind == "web")
    worker = sorted(rng.uniform(0.05, 0.8) for kind in kinds if kind == "worker")
    return [Kill("web", t, rng.random() < 0.5) for t in web] + [Kill("worker", t, False) for t in worker]


class Killer(threading.Thread):
    """kill -9 each planned victim once its trigger is reached and the last kill's damage is repaired."""

    def __init__(self, plan: list[Kill], svc: Supervised, fake: FakeProcess, seen: Deliveries, rng: random.Random):
        super().__init__(name="killer", daemon=True)
        self.plan, self.svc, self.fake, self.seen, self.rng = plan, svc, fake, seen, rng
        self.halt = threading.Event()
        self.notes_at_last_worker_kill = -1

    def run(self) -> None:
        while not self.halt.wait(0.2):
            pending = [k for k in self.plan if k.at is None]
            if not pending:
                return
            notes = sum(1 for n in self.fake.call("note_counts").values() if n) if self._wants_notes(pending) else 0
            for kill in pending:
                if self._due(kill, notes) and self._ready(kill, notes):
                    self._strike(kill, notes)
                    break

    def _wants_notes(self, pending: list[Kill]) -> bool:
        return any(k.kind == "worker" or k.master for k in pending)

    def _due(self, kill: Kill, notes: int) -> bool:
        progress = self.seen.finished if kill.kind == "web" else notes
        return progress >= kill.trigger * self.seen.total

    def _ready(self, kill: Kill, notes: int) -> bool:
        """Everything restarted; before taking the worker down again, a note posted since it was last
        taken down (so each recovery is measured on its own)."""
        if self.svc.restarting():
            return False
        takes_worker = kill.kind == "worker" or (kill.master and self.svc.mode == "serve")
        return not takes_worker or notes > self.notes_at_last_worker_kill

    def _strike(self, kill: Kill, notes: int) -> None:
        victims = self.svc.victims(kill.kind)
        if kill.kind == "web" and len(victims) > 1 and not kill.master:
            victims = victims[1:]
        if not victims:
            return  # e.g. the embedded worker is not running: try again on the next round
        kill.label, kill.pid = victims[0] if kill.master or kill.kind == "worker" else self.rng.choice(victims)
        kill.at = time.time()
        os.kill(kill.pid, signal.SIGKILL)
        if kill.stops_worker:
            self.notes_at_last_worker_kill = notes


def measure_recovery(plan: list[Kill], note_times: list[float], seen: Deliveries, restarts: list[float]) -> None:
    """Each made kill's recovery: inf if it never recovered, None if nothing could show it (no work left).

    Worker down: until the next note that was not already on its way. Web kill: until the first 2xx to a
    request sent after the kill's last failed delivery (orphaned gunicorn workers answer for a moment
    after their master dies; the outage comes when the supervisor clears them). Both for `amends serve`."""
    made = sorted((k for k in plan if k.at is not None), key=lambda k: k.at)
    for kill, after in zip(made, [k.at for k in made[1:]] + [float("inf")]):
        waits = []
        if kill.stops_worker:
            # After a kill of `amends serve` its worker may post until the supervisor clears the group.
            cleared = min((t for t in restarts if t >= kill.at), default=kill.at) if kill.kind == "web" else kill.at
            waits.append(_note_recovery(kill.at, cleared + IN_FLIGHT_GUARD, note_times, len(seen.accepted)))
        if kill.kind == "web":
            failed = [t for t in seen.failures if kill.at <= t < min(after, kill.at + 60)]
            waits.append(_ack_recovery(kill.at, max(failed, default=kill.at), seen))
        known = [w for w in waits if w is not None]
        kill.recovery = max(known) if known else None


def _note_recovery(at: float, not_before: float, note_times: list[float], accepted: int) -> float | None:
    later = [t for t in note_times if t >= not_before]
    if later:
        return later[0] - at
    return None if len(note_times) >= accepted else float("inf")  # None: every note was out already


def _ack_recovery(at: float, since: float, seen: Deliveries) -> float | None:
    answered = [done for sent, done in seen.acks if sent >= since]
    if answered:
        return min(answered) - at
    return float("inf") if any(t >= since for t in seen.sends) else None  # None: nothing sent after it


# --- one run: a backend and a shape ----------------------------------------------------------------------

@dataclass
class Figures:
    backend: str
    shape: str
    seen: Deliveries
    notes: int = 0
    lost: list[int] = field(default_factory=list)
    duplicates: int = 0
    unacked_notes: int = 0
    kills: list[Kill] = field(default_factory=list)
    restarts: int = 0
    fake_stats: dict = field(default_factory=dict)
    store: dict = field(default_factory=dict)
    lost_detail: list[str] = field(default_factory=list)
    seconds: float = 0.0
    workdir: str = ""
    skipped: str = ""  # why the case did not run (no PostgreSQL or Redis)
    error: str = ""  # why the harness failed mid-run
    began: float = 0.0  # when the first event was sent

    def worker_recovery(self) -> float | None:
        """The longest recovery after a kill that took the worker down (inf: one never recovered)."""
        return max((k.recovery for k in self.kills if k.stops_worker and k.recovery is not None), default=None)

    def longest_recovery(self) -> float | None:
        return max((k.recovery for k in self.kills if k.recovery is not None), default=None)


def open_store(backend: str, workdir: Path):
    """(database url, queue url, drop) for a fresh store of our own."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'amends.db'}", f"sqlite:///{workdir / 'amends-queue.db'}", lambda: None
    from tests.scratch import Scratch

    scratch = Scratch("chaos").create()
    return scratch.database_url, scratch.queue_url, scratch.drop


def store_statuses(database_url: str) -> dict[str, int]:
    import sqlalchemy as sa

    from plugin import db
    from plugin.db.schema import events

    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(events.c.status, sa.func.count()).group_by(events.c.status)).all()
        return {status: count for status, count in rows}
    finally:
        engine.dispose()


def explain_lost(database_url: str, tickets: list[int], limit: int = 5) -> list[str]:
    """What the store says about a few lost tickets: their status and last error."""
    import sqlalchemy as sa

    from plugin import db
    from plugin.db.schema import events

    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(events.c.ticket_id, events.c.status, events.c.attempts, events.c.last_error)
                                .where(events.c.ticket_id.in_([str(t) for t in tickets[:limit]]))).all()
        return [f"{t} {status} after {n} attempt(s): {(error or '-')[:150]}" for t, status, n, error in rows]
    finally:
        engine.dispose()


def drain(fake: FakeProcess, seen: Deliveries, database_url: str, timeout: float) -> None:
    """Wait until every accepted ticket has a note and the store has nothing left to do (so a late
    duplicate would show), or nothing moved for `timeout` seconds (e.g. a worker that never came back)."""
    last_progress, last_change, idle_polls = None, time.time(), 0
    while True:
        noted = {t for t, n in fake.call("note_counts").items() if n}
        unfinished = _unfinished(database_url)
        idle_polls = idle_polls + 1 if unfinished == 0 else 0
        if (idle_polls and seen.accepted <= noted) or idle_polls >= 3:  # all final: the rest is lost for good
            break
        if (len(noted), unfinished) != last_progress:
            last_progress, last_change = (len(noted), unfinished), time.time()
        if time.time() - last_change > timeout:
            break
        time.sleep(1.0)
    time.sleep(SETTLE_SECONDS)


def _unfinished(database_url: str) -> int | None:
    """Events still queued, processing or retrying; None when the store cannot say."""
    try:
        statuses = store_statuses(database_url)
    except Exception:  # the store may be restarting: not a reason to stop waiting
        return None
    return sum(statuses.get(s, 0) for s in ("queued", "processing", "retrying"))


def run_case(backend: str, shape: str, args: argparse.Namespace) -> Figures:
    workdir = Path(tempfile.mkdtemp(prefix=f"amends-chaos-{backend}-{shape}-"))
    figures = Figures(backend, shape, Deliveries(total=args.events), workdir=str(workdir))
    try:
        database_url, queue_url, drop_store = open_store(backend, workdir)
    except Exception as exc:  # tests.scratch.Unavailable: no PostgreSQL or Redis here
        figures.skipped = str(exc)
        return figures
    started = time.time()
    try:
        exercise(figures, args, workdir, database_url, queue_url)
    except Exception as exc:  # the harness failed, not a target: say so and go on with the next case
        figures.error = f"{exc.__class__.__name__}: {exc}"
    finally:
        drop_store()
        figures.seconds = time.time() - started
    return figures


def exercise(figures: Figures, args: argparse.Namespace, workdir: Path, database_url: str, queue_url: str) -> None:
    """Start the fake and the service, deliver every event under kills and faults, drain, count."""
    seen, fake = figures.seen, FakeProcess()
    env = dict(SERVICE_SETTINGS, AMENDS_ZENDESK_API_URL=fake.url,
               AMENDS_DATABASE_URL=database_url, AMENDS_QUEUE_URL=queue_url)
    env.update(item.split("=", 1) for item in args.set)
    svc = Supervised(workdir, env, mode=figures.shape)
    try:
        tickets = list(range(FIRST_TICKET, FIRST_TICKET + args.events))
        fake.call("add", tickets)
        svc.start()
        fake.call("chaos", chaos_settings(args))
        rng = random.Random(f"{args.seed}-{figures.backend}-{figures.shape}")
        killer = Killer(kill_plan(args.kills, rng), svc, fake, seen, rng)
        killer.start()
        figures.began = time.time()
        send_all(svc.url, tickets, args.clients, seen, args.give_up)
        drain(fake, seen, database_url, args.drain_timeout)
        killer.halt.set()
        killer.join()
        collect(figures, fake, svc, killer, database_url)
    finally:
        svc.stop()
        svc.log.close()
        fake.stop()


def chaos_settings(args: argparse.Namespace) -> dict:
    rates = {mode: share * args.fault_rate for mode, share in FAULT_MIX.items()} if args.fault_rate else None
    return {"rates": rates, "seed": args.seed, "retry_after": 1,
            "drip_interval": DRIP_INTERVAL, "drip_seconds": DRIP_SECONDS}


def collect(figures: Figures, fake: FakeProcess, svc: Supervised, killer: Killer, database_url: str) -> None:
    counts = fake.call("note_counts")
    seen = figures.seen
    figures.notes = sum(counts.values())
    figures.lost = sorted(t for t in seen.accepted if not counts.get(t))
    figures.duplicates = sum(n - 1 for n in counts.values() if n > 1)
    figures.unacked_notes = sum(1 for t, n in counts.items() if n and t not in seen.accepted)
    measure_recovery(killer.plan, fake.call("note_times"), seen, [t for t, _ in svc.restarts])
    figures.kills, figures.restarts = killer.plan, len(svc.restarts)
    figures.fake_stats = fake.call("stats")
    figures.store = store_statuses(database_url)
    figures.lost_detail = explain_lost(database_url, figures.lost)


# --- the report -----------------------------------------------------------------------------------------

def seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "never" if value == float("inf") else f"{value:.1f} s"


def print_figures(f: Figures, args: argparse.Namespace, keep: bool) -> None:
    print(f"\n== {f.backend} / {f.shape}: {args.events} events, {args.clients} clients, seed {args.seed}")
    if f.skipped or f.error:
        print(f"   skipped: {f.skipped}" if f.skipped else f"   HARNESS ERROR: {f.error}; see {f.workdir}")
        return
    s = f.seen
    rows = [
        ("sent", (f"{s.total}   ({s.requests} requests, {s.connection_errors} connection errors, "
                  f"{len(s.gave_up)} given up)")),
        ("accepted", f"{len(s.accepted)}"),
        ("notes", f"{f.notes}   ({f.unacked_notes} on tickets never acknowledged)"),
        ("lost", f"{len(f.lost)}"),
        ("duplicates", f"{f.duplicates}"),
        ("5xx", (f"{s.five_xx}   (503 storage unavailable: {s.unavailable}; "
                 f"answers {dict(sorted(s.statuses.items()))})")),
        ("p99 ack", f"{pct(s.latencies, 99):.1f} ms   (p50 {pct(s.latencies, 50):.1f} ms; {slow_acks(f)})"
         if s.latencies else "n/a"),
        ("recovery", (f"{seconds(f.longest_recovery())} longest after a kill   "
                      f"(worker down: {seconds(f.worker_recovery())})")),
    ]
    for name, value in rows:
        print(f"   {name:<11} {value}")
    made = sorted((k for k in f.kills if k.at is not None), key=lambda k: k.at)
    print(f"   kills       {len(made)} of {len(f.kills)} made, {f.restarts} restart(s) by the supervisor")
    for k in made:
        recovered = seconds(k.recovery) if k.recovery is not None else "n/a (no work left to show it)"
        print(f"     at {k.at - f.began:6.1f} s  kill -9 {k.label} ({k.pid}): recovered in {recovered}")
    stats = f.fake_stats
    print(f"   faults      {stats.get('faults')} in {stats.get('api_calls')} API calls "
          f"({stats.get('contract_errors')} contract errors)")
    print(f"   store       {f.store}")
    for line in f.lost_detail:
        print(f"   lost ticket {line}")
    print(f"   took        {f.seconds:.0f} s" + (f"; service log and database kept in {f.workdir}" if keep else ""))


def slow_acks(f: Figures) -> str:
    """How many answers took over 1 s, and how many of those were sent from 10 s before to 15 s after a
    web kill (caught in it, or queued behind the restart)."""
    web_kills = [k.at for k in f.kills if k.at is not None and k.kind == "web"]
    near = sum(1 for sent, _ in f.seen.slow if any(-10 <= sent - at < 15 for at in web_kills))
    worst = max((latency for _, latency in f.seen.slow), default=0.0)
    return f"{len(f.seen.slow)} over 1 s, {near} of them around a web kill, slowest {worst:.1f} s"


def missed_targets(f: Figures) -> list[str]:
    if f.error:
        return [f"the harness failed ({f.error})"]
    recovery = f.worker_recovery()
    checks = [(len(f.lost), "lost"), (f.duplicates, "duplicates"), (f.seen.five_xx, "5xx other than 503")]
    missed = [f"{what} {n}" for n, what in checks if n]
    if recovery is not None and recovery >= 30:
        missed.append(f"worker recovery {seconds(recovery)}")
    return missed


def print_verdict(all_figures: list[Figures]) -> bool:
    print("\ntargets: 0 lost, 0 duplicates, 0 5xx other than 503, recovery after a worker kill < 30 s")
    held = True
    for f in all_figures:
        missed = [] if f.skipped else missed_targets(f)
        held = held and not missed
        verdict = "skipped" if f.skipped else ("held" if not missed else "MISSED: " + ", ".join(missed))
        print(f"   {f.backend + ' / ' + f.shape:<18} {verdict}")
    ran = [f for f in all_figures if not f.skipped]
    print("RESULT: " + ("every target held" if held and ran else "targets missed" if ran else "nothing ran"))
    return held


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=None, help="events, one ticket each (default 5000)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--shape", choices=("serve", "split", "both"), default="both")
    parser.add_argument("--kills", type=int, default=None, help="kill -9s per run, web and worker (default 8)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.08, help="share of API calls faulted (0: none)")
    parser.add_argument("--drain-timeout", type=float, default=150.0,
                        help="give up waiting for notes after this long without a new one (the sweep needs ~120 s)")
    parser.add_argument("--give-up", type=float, default=600.0, help="a client stops retrying an event after this")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 events, 2 kills (unless given)")
    parser.add_argument("--keep", action="store_true",
                        help="keep each run's logs and SQLite files (kept anyway when a target is missed)")
    parser.add_argument("--set", action="append", default=[], metavar="AMENDS_X=VALUE",
                        help="override a service setting (repeatable), e.g. AMENDS_WORKER_THREADS=8")
    args = parser.parse_args(argv)
    if any("=" not in item or not item.startswith("AMENDS_") for item in args.set):
        parser.error("--set takes AMENDS_NAME=VALUE")
    args.events = args.events or (300 if args.quick else 5000)
    args.kills = args.kills if args.kills is not None else (2 if args.quick else 8)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    shapes = ("serve", "split") if args.shape == "both" else (args.shape,)
    all_figures = []
    for backend in backends:
        for shape in shapes:
            figures = run_case(backend, shape, args)
            keep = args.keep or bool(figures.error or missed_targets(figures))
            print_figures(figures, args, keep)
            if not keep:  # nothing to look into: the database and logs go
                shutil.rmtree(figures.workdir, ignore_errors=True)
            all_figures.append(figures)
    return 0 if print_verdict(all_figures) else 1


if __name__ == "__main__":
    sys.exit(main())
