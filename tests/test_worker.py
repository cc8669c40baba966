"""The queue worker stays up and is seen: `amends serve` restarts its embedded worker whatever
the exit (even one gunicorn's arbiter reaped, which Popen reports as 0), workers beat, and
/healthz names a dead worker in the split shape too."""

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import requests

from plugin import db
from plugin.worker import EmbeddedWorker, HeartbeatWriter
from tests.conftest import wait_until
from tests.service import Service
from tests.test_e2e import deliver, env, event_status, notes  # noqa: F401 (env is a fixture)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_child_reaped_by_someone_else_is_restarted(caplog):
    """gunicorn's arbiter reaps every child with waitpid(-1): after that Popen.poll() says 0."""
    supervisor = EmbeddedWorker(SLEEPER)
    supervisor.start()
    try:
        first = supervisor.child.pid
        os.kill(first, signal.SIGKILL)
        os.waitpid(first, 0)  # as the arbiter would
        assert supervisor.child.proc.poll() == 0  # the lie the old supervisor believed
        with caplog.at_level(logging.INFO, logger="amends.worker"):
            wait_until(lambda: supervisor.child.pid != first, timeout=5, what="a new worker")
        assert not supervisor.child.gone()
        assert f"embedded worker (pid {first}) exited" in caplog.text and "restarting it" in caplog.text
    finally:
        supervisor.stop()
    assert supervisor.child.gone()


def test_a_clean_exit_is_restarted_too(caplog):
    supervisor = EmbeddedWorker([sys.executable, "-c", "import time; time.sleep(0.2)"])
    supervisor.start()
    try:
        first = supervisor.child.pid
        with caplog.at_level(logging.INFO, logger="amends.worker"):
            wait_until(lambda: supervisor.child.pid != first, timeout=5, what="a new worker")
        assert f"embedded worker (pid {first}) exited with code 0" in caplog.text
    finally:
        supervisor.stop()


def test_no_restart_once_the_server_is_stopping():
    supervisor = EmbeddedWorker(SLEEPER)
    supervisor.start()
    try:
        first = supervisor.child.pid
        supervisor.expect_exit()  # gunicorn's arbiter got the stop signal
        os.kill(first, signal.SIGTERM)
        time.sleep(1.5)
        assert supervisor.child.pid == first and supervisor.child.gone()
    finally:
        supervisor.stop()


def test_heartbeat_is_withheld_while_the_consumer_is_not_running(engine):
    running = threading.Event()
    running.set()
    writer = HeartbeatWriter(engine, 0.05, running.is_set)
    writer.start()
    try:
        first = db.latest_heartbeat(engine)
        assert first.worker == writer.identity.worker and first.pid == os.getpid()
        wait_until(lambda: db.latest_heartbeat(engine).beat_at > first.beat_at, timeout=5, what="a second beat")
        running.clear()
        time.sleep(0.2)
        withheld = db.latest_heartbeat(engine).beat_at
        time.sleep(0.3)
        assert db.latest_heartbeat(engine).beat_at == withheld
    finally:
        writer.stop()


def latest_heartbeat(service_env):
    engine = db.make_engine(service_env["AMENDS_DATABASE_URL"])
    try:
        return db.latest_heartbeat(engine)
    finally:
        engine.dispose()


def test_serve_restarts_its_worker_after_kill_9(env, tmp_path, fake_zendesk):  # noqa: F811
    with Service(tmp_path, env) as svc:
        first = wait_until(lambda: latest_heartbeat(env), what="the embedded worker's heartbeat")
        os.kill(first.pid, signal.SIGKILL)
        assert deliver(svc).status_code == 202
        wait_until(lambda: event_status(env) == "posted", timeout=30, what="note posted by the restarted worker")
        assert len(notes(fake_zendesk)) == 1
        assert latest_heartbeat(env).pid != first.pid
        worker = requests.get(svc.url + "/healthz", timeout=5).json()["worker"]
        assert worker["status"] == "ok" and worker["queue_depth"] == 0
    log = Path(svc.log.name).read_text(errors="replace")
    assert f"embedded worker (pid {first.pid}) exited" in log and "embedded worker restarted" in log


def test_split_shape_healthz_names_a_dead_worker(env, tmp_path, fake_zendesk):  # noqa: F811
    env = {**env, "AMENDS_WORKER_STALE_SECONDS": "2"}
    with Service(tmp_path, env, mode="split") as svc:
        worker_proc = svc.procs[-1]
        beat = wait_until(lambda: latest_heartbeat(env), what="the worker's heartbeat")
        assert beat.pid == worker_proc.pid
        assert requests.get(svc.url + "/healthz", timeout=5).json()["worker"]["name"] == beat.worker
        os.kill(worker_proc.pid, signal.SIGKILL)
        worker_proc.wait(timeout=10)
        svc.procs.remove(worker_proc)
        assert deliver(svc).status_code == 202

        def unhealthy():
            response = requests.get(svc.url + "/healthz", timeout=5)
            return response.status_code == 503 and response.json()

        body = wait_until(unhealthy, timeout=10, what="/healthz 503")
        assert body["worker"]["status"] == "stale" and body["worker"]["name"] == beat.worker
        assert beat.worker in body["worker"]["error"] and body["worker"]["queue_depth"] == 1
        svc.start_worker()
        wait_until(lambda: event_status(env) == "posted", timeout=30, what="note posted by the new worker")
        wait_until(lambda: requests.get(svc.url + "/healthz", timeout=5).status_code == 200, what="healthy again")
