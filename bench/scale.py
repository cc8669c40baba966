"""Scale-out proof: does the work spread over worker processes, and the intake over web processes?

On PostgreSQL + Redis (a scratch database and Redis db of our own, tests/scratch.py), with the fake
Zendesk answering every API call after --latency-ms (100 ms, as a real API does):

* drain: N signed `ticket.created` webhooks are accepted by the web tier (gunicorn, no worker
  running), the web stops, then K `amends worker` processes start and the clock runs until every
  event is finished in the database. Each worker process runs AMENDS_WORKER_THREADS threads: the
  processes are compared at a fixed thread count (1, so K processes do K things at once; and the
  default 4). Drain rate: events finished per second between the 10th and 90th percentile of the
  finishes (steady state, without the workers' start-up: loading the model takes seconds).
* web: 1 and 2 gunicorn processes (gthread, AMENDS_WEB_THREADS threads each, web only: nothing
  drains) under a load of signed webhooks from client threads in this process; accepted/s, p50/p99.

CPU is read from /proc over each measured window, per role: workers (or gunicorn), PostgreSQL
(the backends of our database), Redis, the fake Zendesk, this process (the load generator), and
everything else on the machine (other programs share it: read those figures too).

    .venv/bin/python bench/scale.py                      # 300 events; workers 1,2,4 x threads 1,4; web 1,2
    .venv/bin/python bench/scale.py --events 600 --workers 1,2,4 --threads 1 --web 1,2 --latency-ms 100
    .venv/bin/python bench/scale.py --small              # the suite's setting (tests/test_bench_scale.py)

Targets (issue 14), on the one-thread series: drain >= 1.8x with 2 workers and >= 3x with 4.
Exit status: 0 when the targets held (or PostgreSQL/Redis are absent: skipped), 1 when one was missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chaos import API_TOKEN, EMAIL, FakeProcess, child_pids  # noqa: E402
from bench.ingest import SECRET, event_body, load, pct  # noqa: E402
from plugin import db  # noqa: E402
from plugin.config import Settings  # noqa: E402
from plugin.db.schema import attempts, events  # noqa: E402
from plugin.queue import make_huey  # noqa: E402
from tests.service import Service  # noqa: E402

FIRST_TICKET = 3_000_000
TARGETS = {2: 1.8, 4: 3.0}  # worker processes -> the drain speed-up they must reach over one
SETTINGS = {
    "AMENDS_ZENDESK_SUBDOMAIN": "scale", "AMENDS_ZENDESK_WEBHOOK_SECRET": SECRET,
    "AMENDS_ZENDESK_EMAIL": EMAIL, "AMENDS_ZENDESK_API_TOKEN": API_TOKEN,
    "AMENDS_WEB_WORKERS": "2", "AMENDS_WEB_THREADS": "8", "AMENDS_LOG_LEVEL": "WARNING",
}
TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


# --- CPU over a window, per role, from /proc ---------------------------------------------------------------

def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def _machine_busy() -> float:
    """CPU seconds spent busy on the whole machine since boot (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / TICK


def _pids_matching(wanted) -> list[int]:
    """Processes whose command line passes `wanted(cmdline)`."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if wanted(Path(f"/proc/{entry}/cmdline").read_bytes()):
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _ours_or_server(token: bytes):
    """PostgreSQL: the backends of our database and the server's own processes (postmaster, WAL writer...),
    not the backends of other programs' databases (theirs name a client: `host(port)` or `[local]`)."""
    def wanted(cmdline: bytes) -> bool:
        if not cmdline.startswith((b"postgres", b"/usr/lib/postgresql")):
            return False
        return token in cmdline or not (b"(" in cmdline or b"[local]" in cmdline)
    return wanted


class CpuMeter:
    """CPU seconds per role between start() and stop(); `roles` says which pids play which role now."""

    def __init__(self, roles):
        self.roles = roles
        self.used: dict[str, float] = {}
        self.seconds = 0.0
        self.work = 0  # events (or requests) done in the window
        self._began: tuple | None = None
        self._done_before = 0

    def _snapshot(self) -> tuple[float, float, dict[str, dict[int, float]]]:
        taken = {role: {pid: cpu for pid in pids if (cpu := _cpu_seconds(pid)) is not None}
                 for role, pids in self.roles().items()}
        return time.time(), _machine_busy(), taken

    @property
    def started(self) -> bool:
        return self._began is not None

    def start(self, done: int = 0) -> None:
        self._began, self._done_before = self._snapshot(), done

    def stop(self, done: int = 0) -> None:
        (t0, busy0, before), (t1, busy1, after) = self._began, self._snapshot()
        self.seconds, self.work = t1 - t0, done - self._done_before
        # A process born in the window counts whole (a PostgreSQL backend opened by a new connection).
        self.used = {role: sum(cpu - before.get(role, {}).get(pid, 0.0) for pid, cpu in pids.items())
                     for role, pids in after.items()}
        self.used["other"] = max(0.0, busy1 - busy0 - sum(self.used.values()))
        self.used["machine"] = busy1 - busy0

    def percent(self, role: str) -> float:
        """Percent of one core (200% = both cores of a 2-core machine)."""
        return 100 * self.used.get(role, 0.0) / self.seconds if self.seconds else 0.0

    def per_unit(self, *roles: str) -> float:
        """CPU seconds the roles spent per event (or request) done in the window."""
        return sum(self.used.get(role, 0.0) for role in roles) / self.work if self.work else 0.0

    def summary(self, *roles: str) -> str:
        return "  ".join(f"{role} {self.percent(role):.0f}%" for role in roles)


# --- one drain: K worker processes of T threads on a backlog of N events -----------------------------------

@dataclass
class Drain:
    workers: int
    threads: int
    events: int
    rate: float = 0.0  # steady state, events/s
    whole_rate: float = 0.0  # N / (launch .. last finish), start-up included
    startup: float = 0.0  # launch .. first attempt
    statuses: Counter = field(default_factory=Counter)
    calls: Counter = field(default_factory=Counter)  # API calls to the fake, per endpoint
    sessions: int = 0  # PostgreSQL connections opened, launch to end
    cpu: CpuMeter | None = None
    error: str = ""


@dataclass
class Web:
    processes: int
    requests: int
    clients: int
    rate: float = 0.0
    accepted: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: dict = field(default_factory=dict)
    cpu: CpuMeter | None = None
    sessions: int = 0  # PostgreSQL connections opened under load: a pool too small for the threads churns


class Bench:
    """The fake, the scratch store and the service (gunicorn for fills, then workers), for every case."""

    def __init__(self, args: argparse.Namespace, workdir: Path, database_url: str, queue_url: str, token: str):
        self.args, self.workdir, self.token = args, workdir, token
        self.fake = FakeProcess(latency=args.latency_ms / 1000)
        self.env = dict(SETTINGS, AMENDS_ZENDESK_API_URL=self.fake.url,
                        AMENDS_DATABASE_URL=database_url, AMENDS_QUEUE_URL=queue_url)
        self.engine = db.make_engine(database_url)
        self.huey = make_huey(Settings(database_url=database_url, queue_url=queue_url))
        self.next_ticket = FIRST_TICKET

    def close(self) -> None:
        self.engine.dispose()
        self.fake.stop()

    def roles(self, svc: Service, name: str):
        def current() -> dict[str, list[int]]:
            tops = [p.pid for p in svc.procs if p.poll() is None]
            return {name: tops + [c for pid in tops for c in child_pids(pid)],
                    "postgres": _pids_matching(_ours_or_server(self.token.encode())),
                    "redis": _pids_matching(lambda cmdline: cmdline.startswith(b"redis-server")),
                    "fake": [self.fake.proc.pid], "bench": [os.getpid()]}
        return current

    def service(self, threads: int, web_processes: int) -> Service:
        env = dict(self.env, AMENDS_WORKER_THREADS=str(threads), AMENDS_WEB_WORKERS=str(web_processes),
                   # Web runs leave events no worker drains: /healthz must not call the service unhealthy.
                   AMENDS_WORKER_STALE_SECONDS="86400")
        return Service(self.workdir, env, mode="web")

    def tickets(self, count: int) -> list[int]:
        first, self.next_ticket = self.next_ticket, self.next_ticket + count
        return list(range(first, first + count))

    def drain(self, workers: int, threads: int) -> Drain:
        result = Drain(workers, threads, self.args.events)
        tickets = self.tickets(self.args.events)
        self.fake.call("add", tickets)  # complaints: each one gets a note
        svc = self.service(threads, web_processes=2)
        # Each worker re-enqueues every unfinished event when it starts (tasks.recover): the last run's
        # spare wake-ups must not queue up ahead of this run's events.
        self.huey.storage.flush_queue()
        self.huey.storage.flush_schedule()
        try:
            svc.start(timeout=90)
            after = self._last_event_id()
            _, _, statuses, _ = load(svc.url + "/webhooks/zendesk", [event_body(t) for t in tickets], clients=8)
            svc.stop()  # nothing but the workers from here on
            if statuses != {202: len(tickets)}:
                result.error = f"the web tier did not accept every event: {statuses}"
                return result
            calls_before, sessions_before = self.fake.call("calls"), self._sessions()
            launched = time.time()
            for _ in range(workers):
                svc.start_worker()
            result.cpu = CpuMeter(self.roles(svc, "workers"))
            finished = self._wait(after, len(tickets), result.cpu)
            result.calls = self.fake.call("calls") - calls_before
            result.sessions = self._sessions() - sessions_before
            self._figures(result, after, launched, finished)
        finally:
            svc.stop()
            svc.log.close()
        return result

    def _sessions(self) -> int:
        """Connections ever opened to our database (PostgreSQL's statistics lag up to a second)."""
        time.sleep(1.1)
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
                                        )).scalar() or 0

    def _last_event_id(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))).scalar()

    def _wait(self, after: int, count: int, cpu: CpuMeter) -> list[float]:
        """Poll until all `count` events past id `after` are finished; CPU read from 10% to 90% of them."""
        low, high = max(1, count // 10), max(1, count * 9 // 10)
        deadline, last, seen = time.time() + self.args.timeout, None, 0
        while time.time() < deadline:
            with self.engine.connect() as conn:
                done = conn.execute(sa.select(sa.func.count()).where(
                    events.c.id > after, events.c.finished_at.is_not(None))).scalar()
            if done >= low and not cpu.started:
                cpu.start(done)
            if done >= high and cpu.started and not cpu.seconds:
                cpu.stop(done)
            if done >= count:
                break
            if done != seen:
                seen, last = done, time.time()
            elif last and time.time() - last > 60:
                break  # nothing finished for a minute: report what is there
            time.sleep(0.1)
        with self.engine.connect() as conn:
            return sorted(conn.execute(sa.select(events.c.finished_at).where(
                events.c.id > after, events.c.finished_at.is_not(None))).scalars())

    def _figures(self, result: Drain, after: int, launched: float, finished: list[float]) -> None:
        with self.engine.connect() as conn:
            result.statuses = Counter(dict(conn.execute(
                sa.select(events.c.status, sa.func.count()).where(events.c.id > after)
                .group_by(events.c.status)).all()))
            first = conn.execute(sa.select(sa.func.min(attempts.c.started_at)).where(
                attempts.c.event_id > after)).scalar()
        if len(finished) < result.events:
            result.error = f"only {len(finished)} of {result.events} events finished: {dict(result.statuses)}"
        if not finished:
            return
        result.startup = (first or launched) - launched
        result.whole_rate = len(finished) / max(1e-6, finished[-1] - launched)
        low, high = max(1, len(finished) // 10), max(1, len(finished) * 9 // 10)
        span = finished[high - 1] - finished[low - 1]
        result.rate = (high - low) / span if span > 0 else 0.0

    def web(self, processes: int) -> Web:
        result = Web(processes, self.args.web_requests, self.args.clients)
        svc = self.service(threads=1, web_processes=processes)
        try:
            svc.start(timeout=90)
            url = svc.url + "/webhooks/zendesk"
            load(url, [event_body(t) for t in self.tickets(100)], clients=8)  # warm: connections, imports
            bodies = [event_body(t) for t in self.tickets(result.requests)]
            result.cpu, sessions_before = CpuMeter(self.roles(svc, "gunicorn")), self._sessions()
            result.cpu.start()
            result.rate, result.latencies, result.statuses, _ = load(url, bodies, result.clients)
            result.cpu.stop(len(bodies))
            result.sessions = self._sessions() - sessions_before
            result.accepted = result.statuses.get(202, 0)
            result.rate *= result.accepted / len(bodies)  # accepted per second
        finally:
            svc.stop()
            svc.log.close()
        return result


# --- the report ---------------------------------------------------------------------------------------------

def print_drains(drains: list[Drain], args: argparse.Namespace) -> None:
    print(f"\n== drain: {args.events} events per run; fake Zendesk answers after {args.latency_ms:g} ms; "
          f"{CORES} cores shared by everything")
    print(f"{'workers':>7} {'threads':>7} | {'ev/s':>6} {'speed-up':>8} {'target':>7} | {'whole ev/s':>10} "
          f"{'start s':>7} {'pg conns':>8} | CPU % of one core (10%..90% of the drain)")
    base: dict[int, float] = {}
    for d in drains:
        if d.error and not d.rate:
            print(f"{d.workers:>7} {d.threads:>7} | ERROR: {d.error}")
            continue
        base.setdefault(d.threads, d.rate if d.workers == 1 else 0.0)
        speedup = d.rate / base[d.threads] if base[d.threads] else float("nan")
        target = f">={TARGETS[d.workers]:g}x" if d.threads == 1 and d.workers in TARGETS else ""
        cpu = d.cpu.summary("workers", "postgres", "redis", "fake", "bench", "other", "machine") if d.cpu else ""
        print(f"{d.workers:>7} {d.threads:>7} | {d.rate:>6.1f} {speedup:>7.2f}x {target:>7} | "
              f"{d.whole_rate:>10.1f} {d.startup:>7.1f} {d.sessions:>8} | {cpu}")
        if d.error:
            print(f"{'':>17}   ERROR: {d.error}")
    calls = sum((d.calls for d in drains), Counter())
    finished = sum(sum(d.statuses.values()) for d in drains)
    if finished:
        per_event = ", ".join(f"{endpoint} {n / finished:.2f}" for endpoint, n in sorted(calls.items()))
        print(f"Zendesk calls per event: {sum(calls.values()) / finished:.2f} ({per_event})")
    outcomes = sum((d.statuses for d in drains), Counter())
    print(f"event outcomes: {dict(sorted(outcomes.items()))}")


def print_webs(webs: list[Web]) -> None:
    if not webs:
        return
    print(f"\n== web tier: gunicorn gthread x {SETTINGS['AMENDS_WEB_THREADS']} threads per process, web only; "
          f"{webs[0].clients} client threads in this process")
    print(f"{'gunicorn':>8} | {'accepted/s':>10} {'speed-up':>8} {'p50 ms':>7} {'p99 ms':>7} {'pg conns':>8} | "
          "CPU % of one core | statuses")
    for w in webs:
        cpu = w.cpu.summary("gunicorn", "postgres", "redis", "bench", "other", "machine") if w.cpu else ""
        speedup = w.rate / webs[0].rate if webs[0].rate else float("nan")
        print(f"{w.processes:>8} | {w.rate:>10.0f} {speedup:>7.2f}x {pct(w.latencies, 50):>7.1f} "
              f"{pct(w.latencies, 99):>7.1f} {w.sessions:>8} | {cpu} | {w.statuses}")
    print("(bench = the load generator: its CPU competes with gunicorn's on the same cores; pg conns: PostgreSQL "
          "connections opened during the run)")


OURS = ("workers", "postgres", "redis", "fake")  # what a drained event costs on this machine


def verdict(drains: list[Drain], latency_ms: float) -> tuple[bool, list[str]]:
    """Whether the one-thread series met its targets, where each series stops scaling, and the ceiling."""
    lines, held, checked = [], not any(d.error for d in drains), False
    for threads in sorted({d.threads for d in drains}):
        series = [d for d in drains if d.threads == threads and d.rate and d.cpu]
        one = next((d.rate for d in series if d.workers == 1), 0.0)
        for d in series:
            if threads == 1 and d.workers in TARGETS and one:
                ok = d.rate / one >= TARGETS[d.workers]
                held, checked = held and ok, True
                lines.append(f"{'PASS' if ok else 'FAIL'}: {d.workers} workers x 1 thread drain "
                             f"{d.rate / one:.2f}x of one (target >= {TARGETS[d.workers]:g}x)")
        if series:
            lines.append(stops_scaling(series, threads))
    lines.extend(ceiling(drains, latency_ms))
    if not checked:
        lines.append("(no target in this selection: the targets are for --threads 1 with 1 and 2 or 4 workers)")
    return held, lines


def _busy(d: Drain) -> str:
    ours = sum(d.cpu.percent(role) for role in OURS)
    return f"ours {ours:.0f}% + other programs {d.cpu.percent('other'):.0f}% of {CORES * 100}%"


def stops_scaling(series: list[Drain], threads: int) -> str:
    """The first step up in processes that adds less than half a process's worth, and how busy the cores were."""
    for before, after in zip(series, series[1:]):
        gained = (after.rate - before.rate) / max(1e-6, series[0].rate * (after.workers - before.workers))
        if gained < 0.5:
            return (f"{threads} thread(s)/process: stops scaling from {before.workers} to {after.workers} processes "
                    f"(each added process gave {gained:.0%} of one; CPU {_busy(after)})")
    last = series[-1]
    return (f"{threads} thread(s)/process: still scaling at {last.workers} processes, {last.rate:.1f} ev/s "
            f"(CPU {_busy(last)})")


def ceiling(drains: list[Drain], latency_ms: float) -> list[str]:
    """Where the cores run out: our CPU per event (measured on the busiest run) against the cores we have."""
    measured = [d for d in drains if d.cpu and d.cpu.work]
    if not measured:
        return []
    busiest = max(measured, key=lambda d: d.rate)
    per_event = busiest.cpu.per_unit(*OURS)
    smallest = min((d for d in drains if d.rate), key=lambda d: d.workers * d.threads, default=None)
    slot = smallest.rate / (smallest.workers * smallest.threads) if smallest else 0.0
    if not per_event:
        return []
    cap = CORES / per_event
    parts = ", ".join(f"{role} {1000 * busiest.cpu.per_unit(role):.1f}" for role in OURS)
    lines = [f"CPU per drained event ({busiest.workers}x{busiest.threads} run): {1000 * per_event:.1f} ms ({parts}); "
             f"{CORES} cores cap the drain near {cap:.0f} ev/s"]
    if slot:
        lines.append(f"one worker thread drains {slot:.1f} ev/s against a {latency_ms:g} ms API, so on this machine "
                     f"the drain stops scaling near {cap / slot:.0f} worker threads in all "
                     f"(processes x AMENDS_WORKER_THREADS); past that, add machines, not processes")
    return lines


# --- the run ------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=None, help="events per drain run (default 300)")
    parser.add_argument("--workers", default=None, help="worker process counts (default 1,2,4)")
    parser.add_argument("--threads", default=None, help="AMENDS_WORKER_THREADS per process (default 1,4)")
    parser.add_argument("--web", default=None, help="gunicorn process counts (default 1,2; '' for none)")
    parser.add_argument("--web-requests", type=int, default=None, help="webhooks per web run (default 3000)")
    parser.add_argument("--clients", type=int, default=16, help="client threads for the web runs")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the fake Zendesk's answer time")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up on a drain after this long")
    parser.add_argument("--small", action="store_true",
                        help="the suite's setting: 12 events, workers 1,2, 1 thread, web 1 with 150 requests")
    parser.add_argument("--keep", action="store_true", help="keep the service logs")
    args = parser.parse_args(argv)
    small = {"events": 12, "workers": "1,2", "threads": "1", "web": "1", "web_requests": 150}
    large = {"events": 300, "workers": "1,2,4", "threads": "1,4", "web": "1,2", "web_requests": 3000}
    for name, value in (small if args.small else large).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    try:
        args.workers, args.threads, args.web = (
            [int(n) for n in str(value).split(",") if n.strip()] for value in (args.workers, args.threads, args.web))
    except ValueError:
        parser.error("--workers, --threads and --web take comma-separated numbers, e.g. 1,2,4")
    if args.events < 1 or any(n < 1 for n in args.workers + args.threads + args.web):
        parser.error("counts must be 1 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tests.scratch import Scratch, Unavailable

    try:
        scratch = Scratch("scale").create()
    except Unavailable as exc:
        print(f"scale bench skipped: it needs PostgreSQL and Redis: {exc}")
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="amends-scale-"))
    bench = None
    try:
        bench = Bench(args, workdir, scratch.database_url, scratch.queue_url, scratch.token)
        drains = [bench.drain(k, t) for t in args.threads for k in args.workers]
        webs = [bench.web(n) for n in args.web]  # last: its events stay unfinished in the store
    finally:
        if bench is not None:
            bench.close()
        scratch.drop()
    print_drains(drains, args)
    print_webs(webs)
    held, lines = verdict(drains, args.latency_ms)
    print()
    for line in lines:
        print(line)
    print(f"RESULT: {'targets met' if held else 'targets missed'}")
    if args.keep or not held:
        print(f"service logs: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
