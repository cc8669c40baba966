"""Who migrates: with AMENDS_MIGRATE_ON_START=false the web and the worker never migrate and refuse
a schema that is not their code's, naming `amends db upgrade`; migrations started together (on
several machines) take turns under the lock instead of racing."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from plugin import db
from plugin.errors import SchemaNotCurrent
from tests.service import clean_environment, free_port

AMENDS = [sys.executable, "-m", "plugin.cli"]


def test_create_app_refuses_an_unmigrated_database_then_starts_after_upgrade(make_settings):
    from plugin import create_app

    settings = make_settings(migrate_on_start=False)
    engine = db.make_engine(settings.database_url)
    with pytest.raises(SchemaNotCurrent, match="amends db upgrade"):
        create_app(settings)
    assert db.current_revision(engine) is None  # it did not migrate

    db.upgrade(engine)
    app = create_app(settings)
    assert app.test_client().get("/healthz").status_code == 200
    app.extensions["amends"].engine.dispose()
    engine.dispose()


def test_a_schema_behind_the_code_names_its_revision(make_settings):
    from plugin import create_app

    settings = make_settings(migrate_on_start=False)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine, "0005")
    with pytest.raises(SchemaNotCurrent, match=r"at revision 0005.*needs revision .*amends db upgrade"):
        create_app(settings)
    assert db.current_revision(engine) == "0005"
    engine.dispose()


def test_migrate_on_start_true_still_migrates(make_settings):
    from plugin import create_app

    app = create_app(make_settings())  # the default: `make run` needs no separate step
    engine = app.extensions["amends"].engine
    assert db.current_revision(engine) == db.head_revision(engine)
    engine.dispose()


def run(args, cwd, env, timeout=60):
    return subprocess.run(AMENDS + args, cwd=cwd, env=clean_environment(env), capture_output=True, text=True,
                          timeout=timeout)


def test_serve_and_worker_refuse_an_unmigrated_database_and_start_after_upgrade(tmp_path):
    env = {"AMENDS_MIGRATE_ON_START": "false"}
    for args in (["serve", "--no-worker", "--port", str(free_port())], ["serve", "--port", str(free_port())],
                 ["worker"]):
        refused = run(args, tmp_path, env)
        assert refused.returncode != 0, args
        assert "amends db upgrade" in refused.stderr and "has no schema yet" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    engine = db.make_engine(f"sqlite:///{tmp_path / 'instance' / 'amends.db'}")
    assert db.current_revision(engine) is None

    assert run(["db", "upgrade"], tmp_path, env).returncode == 0
    port = free_port()
    web = subprocess.Popen(AMENDS + ["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)],
                           cwd=tmp_path, env=clean_environment(env), stderr=subprocess.PIPE, text=True)
    worker = None
    try:
        assert _healthy(f"http://127.0.0.1:{port}/healthz", web)
        time.sleep(1.5)  # an embedded worker would have written its first heartbeat at once
        assert db.workers_seen_since(engine, 0) == 0, "--no-worker must run no queue worker"
        worker = subprocess.Popen(AMENDS + ["worker"], cwd=tmp_path, env=clean_environment(env),
                                  stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while db.workers_seen_since(engine, 0) == 0:
            assert worker.poll() is None, worker.stderr.read()
            assert time.time() < deadline, "the worker never beat"
            time.sleep(0.1)
    finally:
        for proc in (worker, web):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
        engine.dispose()


def test_the_one_shot_commands_follow_the_setting_too(tmp_path):
    env = {"AMENDS_MIGRATE_ON_START": "false"}
    for args in (["admin", "list"], ["purge", "--older-than", "30"], ["rules", "export"]):
        refused = run(args, tmp_path, env)
        assert refused.returncode == 1, (args, refused.stderr)
        assert "amends db upgrade" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    assert db.current_revision(db.make_engine(f"sqlite:///{tmp_path / 'instance' / 'amends.db'}")) is None
    assert run(["db", "upgrade"], tmp_path, env).returncode == 0
    assert run(["admin", "list"], tmp_path, env).returncode == 0


def _healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.1)
    return False


def test_upgrades_started_together_take_turns(backend, tmp_path):
    """Four machines running `amends db upgrade` (or starting with AMENDS_MIGRATE_ON_START) at once:
    all succeed and the schema is migrated once (PostgreSQL: advisory lock; SQLite: file lock)."""
    database_url, queue_url = backend
    env = clean_environment({"AMENDS_DATABASE_URL": database_url, "AMENDS_QUEUE_URL": queue_url})
    procs = [subprocess.Popen(AMENDS + ["db", "upgrade"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(proc.wait(timeout=120), *proc.communicate()) for proc in procs]
    for code, out, err in results:
        assert code == 0, err
        assert "database at revision" in out
    engine = db.make_engine(database_url)
    assert db.current_revision(engine) == db.head_revision(engine)
    engine.dispose()


def test_the_setting_is_a_boolean(tmp_path, monkeypatch):
    from plugin.config import load_settings
    from plugin.errors import ConfigError

    absent = tmp_path / "absent.env"
    monkeypatch.delenv("AMENDS_MIGRATE_ON_START", raising=False)
    assert load_settings(env_file=absent).migrate_on_start is True
    for raw, value in (("false", False), ("0", False), ("No", False), ("true", True), ("1", True)):
        monkeypatch.setenv("AMENDS_MIGRATE_ON_START", raw)
        assert load_settings(env_file=absent).migrate_on_start is value
    monkeypatch.setenv("AMENDS_MIGRATE_ON_START", "sometimes")
    with pytest.raises(ConfigError, match="AMENDS_MIGRATE_ON_START must be true or false"):
        load_settings(env_file=absent)
