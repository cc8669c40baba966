"""The queue worker process (`amends worker`), its heartbeat, and the supervisor that keeps the
embedded worker of `amends serve` running.

A worker beats (`db.beat`) every few seconds while its consumer's threads run, so /healthz can
tell a dead or wedged worker from an idle one, in either shape (serve, or web + `amends worker`).
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from huey.consumer import Consumer
from sqlalchemy.engine import Engine

from plugin import db
from plugin.config import Settings

log = logging.getLogger("amends.worker")

FORGET_WORKERS_AFTER = 7 * 86400.0  # heartbeats of workers silent this long are deleted
RESTART_DELAY = 1.0  # seconds before the first restart of a dead embedded worker
MAX_RESTART_DELAY = 30.0  # a worker that keeps dying at once is restarted at most this often
SETTLED_AFTER = 30.0  # a worker that ran this long before dying counts as a fresh failure


def beat_interval(settings: Settings) -> float:
    """Several beats per stale period, so one slow write never makes a live worker look dead."""
    return max(0.25, min(10.0, settings.worker_stale_seconds / 4))


def run_worker(settings: Settings) -> None:
    """`amends worker`: a Huey consumer that beats while its threads run."""
    from plugin.core.classify import default_classifier
    from plugin.runtime import build_runtime

    runtime = build_runtime(settings)
    consumer = _Consumer(
        runtime.huey,
        workers=settings.worker_threads,
        worker_type="thread",
        periodic=True,
        initial_delay=0.05,  # SQLite is polled: keep idle polls short so notes go out fast
        backoff=1.15,
        max_delay=0.5,
        check_worker_health=True,
    )
    # Beat from the start: a worker loading its model is alive, and a restarted one shows at once.
    heartbeat = HeartbeatWriter(runtime.engine, beat_interval(settings), consumer.running)
    heartbeat.start()
    try:
        default_classifier()  # train or load the model now, not on the first ticket
        runtime.tasks.recover()
        consumer.run()
    finally:
        heartbeat.stop()


class _Consumer(Consumer):
    def running(self) -> bool:
        """Not started yet (starting up), or the scheduler and at least one worker thread alive."""
        if self.scheduler.ident is None:
            return True
        return self.scheduler.is_alive() and any(t.is_alive() for _, t in self.worker_threads)


class HeartbeatWriter:
    """This process's row in `heartbeats`, renewed every `interval` seconds while `healthy()`."""

    def __init__(self, engine: Engine, interval: float, healthy: Callable[[], bool]):
        host, pid, now = socket.gethostname(), os.getpid(), time.time()
        name = f"{host}:{pid}:{uuid.uuid4().hex[:8]}"[-128:]  # unique per start, even if a pid is reused
        self.identity = db.Heartbeat(worker=name, host=host[:255], pid=pid, started_at=now, beat_at=now)
        self.engine = engine
        self.interval = interval
        self.healthy = healthy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        db.forget_workers(self.engine, silent_since=time.time() - FORGET_WORKERS_AFTER)
        self._beat()
        self._thread.start()
        log.info("worker %s beats every %g s", self.identity.worker, self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        withheld = False
        while not self._stop.wait(self.interval):
            if self.healthy():
                withheld = False
                self._beat()
            elif not withheld:  # say it once; /healthz shows the rest
                withheld = True
                log.error("the queue consumer's threads are not running: no heartbeat until they are")

    def _beat(self) -> None:
        try:
            db.beat(self.engine, replace(self.identity, beat_at=time.time()))
        except Exception as exc:  # the database may be away for a moment; the next beat tries again
            log.warning("heartbeat not written: %s", exc.__class__.__name__)


class EmbeddedWorker:
    """`amends worker` as a child process, restarted whatever its exit, stopped with us.

    Its exit status cannot be trusted: gunicorn's arbiter runs in this process and reaps every
    child with waitpid(-1), after which Popen.poll() says 0 even for a worker killed with -9. So
    any exit we did not ask for is a crash, seen through a pidfd (the process itself, whoever
    reaps it), and only `expect_exit()` or `stop()` ends the supervision.
    """

    def __init__(self, args: list[str] | None = None) -> None:
        self.args = args or [sys.executable, "-m", "plugin.cli", "worker"]
        self.child: _Child | None = None
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()  # a restart and stop() never cross
        self._quick_deaths = 0
        self._watch = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self.child = _Child(self.args)
        self._watch.start()

    def expect_exit(self) -> None:
        """We are shutting down (the signal reached the whole group): the worker's exit is no crash."""
        self._stopping.set()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            child = self.child
        try:
            if child:
                child.stop(graceful_timeout=15)
        finally:
            self._stopped.set()

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            try:
                if self.child.gone():
                    self._restart()
            except Exception:  # supervision must outlive any one failure; the next round tries again
                log.exception("supervising the embedded worker failed")
        # PR_SET_PDEATHSIG fires when the thread that spawned a child ends: stay until stop() is done.
        self._stopped.wait()

    def _restart(self) -> None:
        dead = self.child
        delay = self._delay(time.monotonic() - dead.started)
        if self._stopping.wait(min(delay, 0.5)):  # the group's stop signal may reach the worker first
            return
        log.error("embedded worker (pid %d) %s; restarting it in %g s", dead.pid, dead.reap(), delay)
        if self._stopping.wait(max(delay - 0.5, 0)):
            return
        with self._lock:
            if self._stopping.is_set():
                return
            try:
                self.child = _Child(self.args)
            except OSError as exc:  # e.g. out of processes: the dead child stays, so we try again
                log.error("cannot start the embedded worker: %s", exc)
                return
        log.warning("embedded worker restarted: pid %d (was %d)", self.child.pid, dead.pid)

    def _delay(self, lived: float) -> float:
        """1 s, then doubling up to MAX_RESTART_DELAY while workers keep dying soon after start."""
        self._quick_deaths = self._quick_deaths + 1 if lived < SETTLED_AFTER else 1
        return min(MAX_RESTART_DELAY, RESTART_DELAY * 2 ** (self._quick_deaths - 1))


class _Child:
    """One worker process, watched through a pidfd where Linux has one (else Popen.poll())."""

    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen(args, preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        self.started = time.monotonic()
        self.pidfd: int | None = None
        self._vanished = False
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:  # it died and was reaped already
            self._vanished = True
            self.proc.returncode = 0  # so Popen never waits for a pid that may be someone else's
        except (AttributeError, OSError):  # no pidfd here: fall back to poll()
            pass

    def gone(self) -> bool:
        if self._vanished:
            return True
        if self.pidfd is not None:
            return bool(select.select([self.pidfd], [], [], 0)[0])  # readable once the process exits
        return self.proc.poll() is not None

    def reap(self) -> str:
        """Collect the exit of a gone child and say how it ended (gunicorn's arbiter may have
        collected it first: then nobody can tell)."""
        if self.pidfd is None:
            return "exited" if self._vanished else f"exited with {self.proc.poll()}"
        try:
            # By pidfd, not pid: never another process that reused the number.
            result = os.waitid(os.P_PIDFD, self.pidfd, os.WEXITED | os.WNOHANG)
        except ChildProcessError:
            result = None
        # Popen must never waitpid() this pid again: it may belong to someone else by then.
        self.proc.returncode = 0 if result is None else _exit_code(result)
        self.close()
        if result is None:
            return "exited (status unknown: gunicorn's arbiter reaped it)"
        code = self.proc.returncode
        return f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"

    def stop(self, graceful_timeout: float) -> None:
        """SIGINT (Huey finishes running tasks), then SIGKILL after `graceful_timeout`."""
        for signum, timeout in ((signal.SIGINT, graceful_timeout), (signal.SIGKILL, 5.0)):
            if self.gone():
                break
            self._signal(signum)
            deadline = time.monotonic() + timeout
            while not self.gone() and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.gone():
            self.reap()

    def _signal(self, signum: int) -> None:
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signum)
            else:
                self.proc.send_signal(signum)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
            self._vanished = True


def _exit_code(result: os.waitid_result) -> int:
    """Popen's convention: the exit code, or minus the signal that killed it."""
    return result.si_status if result.si_code == os.CLD_EXITED else -result.si_status


def _load_prctl():
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except OSError:  # not Linux
        return None


# Looked up here, not in the forked child: a child of a threaded process must not dlopen().
_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if `amends serve` dies, even by kill -9."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
