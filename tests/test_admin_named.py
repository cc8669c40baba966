"""Named admins (issue 14): `amends admin add|remove|list`, scrypt hashes, sign-in with name and
password, the shared AMENDS_ADMIN_PASSWORD only as the bootstrap while no named admin exists,
removal ending sessions at once, the audit log naming who, and migration 0008 both ways."""

from __future__ import annotations

import base64
import hashlib
import html
import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from plugin import db
from plugin.core import passwords
from plugin.services import admins
from tests.conftest import ADMIN_PASSWORD, csrf_token
from tests.service import clean_environment

ADA_PASSWORD = "ada's own long passphrase"


def amends_admin(args, database_url, cwd, stdin=""):
    """The real command, in its own process, with only these settings."""
    env = clean_environment({"AMENDS_DATABASE_URL": database_url, "AMENDS_ZENDESK_SUBDOMAIN": "acme"})
    return subprocess.run([sys.executable, "-m", "plugin.cli", "admin", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def amends_admin_here(args, database_url, monkeypatch, cwd, stdin=""):
    """The same command run in this process (click's runner): the refusals need no process of their own."""
    from click.testing import CliRunner

    from plugin.cli import main

    for name in [n for n in os.environ if n.startswith("AMENDS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AMENDS_DATABASE_URL", database_url)
    monkeypatch.setenv("AMENDS_ZENDESK_SUBDOMAIN", "acme")
    monkeypatch.chdir(cwd)  # no .env of the project's
    result = CliRunner().invoke(main, ["admin", *args], input=stdin)
    result.returncode = result.exit_code  # the subprocess' name, so the checks read the same
    return result


def engine_of(app):
    return app.extensions["amends"].engine


def add_ada(app, name="Ada", password=ADA_PASSWORD):
    admins.add(engine_of(app), app.extensions["amends"].settings, name, password)


def sign_in(client, name, password, **kwargs):
    return client.post("/admin/login", data={"name": name, "password": password,
                                             "csrf_token": csrf_token(client)}, **kwargs)


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- the hash -------------------------------------------------------------------------

def test_the_hash_is_scrypt_with_its_parameters_and_verifies():
    stored = passwords.hash_password("a long enough password")
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")  # 128 * 8 * 2**14 bytes: 16 MiB per hash
    expected = hashlib.scrypt(b"a long enough password", salt=base64.b64decode(salt), n=16384, r=8, p=1, dklen=32)
    assert base64.b64decode(key) == expected
    assert passwords.verify_password("a long enough password", stored)
    assert not passwords.verify_password("a long enough passwore", stored)
    assert passwords.hash_password("a long enough password") != stored  # a new salt each time


@pytest.mark.parametrize("stored", [
    "", "not a hash", "bcrypt$12$8$1$c2FsdA==$a2V5",
    "scrypt$16384$8$1$c2FsdA==",  # cut short
    "scrypt$1000$8$1$c2FsdA==$a2V5",  # N not a power of two
    "scrypt$1048576$64$16$c2FsdA==$a2V5",  # would take gigabytes: a tampered row must not
    "scrypt$16384$8$1$not base64!$a2V5",
])
def test_a_malformed_or_tampered_hash_never_verifies(stored):
    assert passwords.verify_password("anything at all", stored) is False


def test_new_passwords_must_be_long_enough():
    assert passwords.password_problem("") == "the password is empty"
    assert "shorter than 12" in passwords.password_problem("eleven char")
    assert passwords.password_problem("twelve chars") is None


def test_an_unknown_name_costs_the_same_scrypt_work_as_a_wrong_password(admin_app, monkeypatch):
    add_ada(admin_app)
    calls = []
    real = hashlib.scrypt

    def counted(password, **params):
        calls.append((params["n"], params["r"], params["p"]))
        return real(password, **params)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    engine = engine_of(admin_app)
    assert admins.signing_in(engine, "Ada", "wrong password here") is None
    wrong_password = list(calls)
    calls.clear()
    assert admins.signing_in(engine, "Nobody", "wrong password here") is None
    assert calls == wrong_password == [(16384, 8, 1)]
    calls.clear()
    assert admins.signing_in(engine, "Ada", ADA_PASSWORD)["name"] == "Ada"


# --- the commands -----------------------------------------------------------------------

def test_add_list_remove_with_the_real_command(settings, tmp_path):
    url = settings.database_url
    added = amends_admin(["add", "Ada", "--password-stdin"], url, tmp_path, ADA_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert "added admin Ada" in added.stdout and ADA_PASSWORD not in added.stdout + added.stderr
    windows = amends_admin(["add", "bob.lee", "--password-stdin"], url, tmp_path, "bob's long password\r\n")
    assert windows.returncode == 0, windows.stderr

    listed = amends_admin(["list"], url, tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ADDED", "LAST", "SIGN-IN"]
    assert [line.split()[0] for line in lines[1:]] == ["Ada", "bob.lee"]
    assert all(line.endswith("never") for line in lines[1:])
    assert "scrypt" not in listed.stdout and "$" not in listed.stdout

    engine = db.make_engine(url)
    try:
        stored = {a["name"]: a for a in (db.find_admin(engine, n) for n in ("ada", "BOB.LEE"))}
        assert passwords.verify_password(ADA_PASSWORD, stored["Ada"]["password_hash"])
        # The line ending (\r\n too) is not part of the password.
        assert passwords.verify_password("bob's long password", stored["bob.lee"]["password_hash"])

        removed = amends_admin(["remove", "ADA"], url, tmp_path)
        assert removed.returncode == 0, removed.stderr
        assert "removed admin Ada; 0 open session(s) ended" in removed.stdout
        assert [a["name"] for a in db.list_admins(engine)] == ["bob.lee"]
        entries = db.list_audit(engine, "zendesk", "acme")
        assert [(e["actor"], e["action"], e["target"]) for e in reversed(entries)] == [
            ("cli", "admin.add", "Ada"), ("cli", "admin.add", "bob.lee"), ("cli", "admin.remove", "Ada")]
        assert not any(ADA_PASSWORD in str(e) for e in entries)
    finally:
        engine.dispose()


@pytest.mark.parametrize("args, stdin, message", [
    (["add", "Ada", "--password-stdin"], "\n", "the password is empty"),
    (["add", "Ada", "--password-stdin"], "short pass\n", "shorter than 12 characters"),
    (["add", "Ada Lovelace", "--password-stdin"], ADA_PASSWORD, "a name is 1 to 64 letters"),
    (["add", "ADA", "--password-stdin"], ADA_PASSWORD, "an admin called 'ADA' exists already"),
    (["remove", "nobody"], "", "no admin called 'nobody'"),
])
def test_the_commands_refuse_with_a_clear_error_and_exit_1(settings, tmp_path, monkeypatch, args, stdin, message):
    first = amends_admin_here(["add", "Ada", "--password-stdin"], settings.database_url, monkeypatch, tmp_path,
                              ADA_PASSWORD)
    assert first.returncode == 0, first.stderr
    result = amends_admin_here(args, settings.database_url, monkeypatch, tmp_path, stdin)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    listed = amends_admin_here(["list"], settings.database_url, monkeypatch, tmp_path).stdout
    assert [line.split()[0] for line in listed.splitlines()[1:]] == ["Ada"]  # nothing changed


def test_add_wants_the_password_on_standard_input(tmp_path):
    result = amends_admin(["add", "Ada"], f"sqlite:///{tmp_path / 'a.db'}", tmp_path, ADA_PASSWORD)
    assert result.returncode == 2 and "--password-stdin" in result.stderr


# --- signing in -------------------------------------------------------------------------

def test_a_named_admin_signs_in_with_name_and_password(admin_app):
    add_ada(admin_app)
    client = admin_app.test_client()
    form = page(client.get("/admin/login"))
    assert 'name="name" autocomplete="username" maxlength="80" required' in form
    assert "amends admin add" not in form  # the bootstrap hint is gone
    response = sign_in(client, "ada", ADA_PASSWORD)  # names match ignoring case
    assert response.status_code == 302
    overview = page(client.get("/admin/"))
    assert "Signed in as Ada" in overview
    with engine_of(admin_app).connect() as conn:
        [row] = conn.execute(sa.select(db.admin_sessions)).mappings().all()
    ada = db.find_admin(engine_of(admin_app), "Ada")
    assert row["name"] == "Ada" and row["admin_id"] == ada["id"]
    assert time.time() - ada["last_sign_in_at"] < 60


def test_wrong_password_and_unknown_name_are_refused_and_counted(admin_app):
    add_ada(admin_app)
    client = admin_app.test_client()
    for name, password in [("Ada", "not her password"), ("Nobody", ADA_PASSWORD), ("", ADA_PASSWORD),
                           ("Ada", ""), ("Nobody", "whatever you like")]:
        response = sign_in(client, name, password)
        assert response.status_code == 401, (name, password)
        assert "Wrong name or password." in page(response)  # the same for both: no name is confirmed
    # Five failures from this address: now even the right name and password wait.
    assert sign_in(client, "Ada", ADA_PASSWORD).status_code == 429
    assert client.get("/admin/").status_code == 302
    other = admin_app.test_client()
    assert sign_in(other, "Ada", ADA_PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 302


def test_once_an_admin_exists_the_shared_password_opens_nothing(admin_app):
    client = admin_app.test_client()
    assert "amends admin add NAME --password-stdin" in page(client.get("/admin/login"))  # the bootstrap hint
    add_ada(admin_app)
    for name in ("Ada", "", "admin", "Nobody"):
        response = sign_in(client, name, ADMIN_PASSWORD)
        assert response.status_code == 401, name
    assert client.get("/admin/").status_code == 302


def test_adding_the_first_admin_ends_the_bootstrap_sessions(admin_client):
    assert admin_client.get("/admin/").status_code == 200
    add_ada(admin_client.application)
    assert admin_client.get("/admin/").status_code == 302
    with engine_of(admin_client.application).connect() as conn:
        assert conn.execute(sa.select(db.admin_sessions.c.revoked_at)).scalar() is not None


def test_removing_an_admin_ends_their_open_session_at_once(admin_app, tmp_path):
    add_ada(admin_app)
    add_ada(admin_app, "bob", "bob's long password")
    ada, bob = admin_app.test_client(), admin_app.test_client()
    assert sign_in(ada, "Ada", ADA_PASSWORD).status_code == 302
    assert sign_in(bob, "bob", "bob's long password").status_code == 302
    kept = ada.get_cookie("amends_session").value
    removed = amends_admin(["remove", "Ada"], admin_app.extensions["amends"].settings.database_url, tmp_path)
    assert removed.returncode == 0 and "1 open session(s) ended" in removed.stdout, removed.stderr
    response = ada.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    ada.set_cookie("amends_session", kept)
    assert ada.get("/admin/").status_code == 302
    assert ada.post("/admin/logout", data={"csrf_token": csrf_token(ada)}).status_code == 401  # no action either
    assert sign_in(ada, "Ada", ADA_PASSWORD).status_code == 401
    assert bob.get("/admin/").status_code == 200  # the other admin carries on


def test_a_session_whose_admin_is_gone_opens_nothing_even_unrevoked(admin_app):
    # A sign-in that raced with the removal: its session row outlived the admin.
    add_ada(admin_app)
    client = admin_app.test_client()
    assert sign_in(client, "Ada", ADA_PASSWORD).status_code == 302
    with engine_of(admin_app).begin() as conn:
        conn.execute(db.admins.delete())
        conn.execute(db.admins.insert().values(name="Eve", password_hash="x", created_at=time.time()))
    with engine_of(admin_app).connect() as conn:
        assert conn.execute(sa.select(db.admin_sessions.c.revoked_at)).scalar() is None
    assert client.get("/admin/").status_code == 302


def test_the_audit_log_names_the_admin_for_every_action(admin_app):
    add_ada(admin_app)
    client = admin_app.test_client()
    assert sign_in(client, "ADA", ADA_PASSWORD).status_code == 302
    response = client.post("/admin/rules", data={"csrf_token": csrf_token(client, "/admin/rules"),
                                                 "id": "loyalty_points", "label": "Loyalty points missing",
                                                 "phrases": "loyalty points"})
    assert response.status_code == 302
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    entries = db.list_audit(engine_of(admin_app), "zendesk", "acme")
    assert [(e["actor"], e["action"]) for e in reversed(entries)] == [
        ("cli", "admin.add"), ("Ada (127.0.0.1)", "admin.sign_in"), ("Ada (127.0.0.1)", "rule.add"),
        ("Ada (127.0.0.1)", "admin.sign_out")]


# --- the console without AMENDS_ADMIN_PASSWORD ----------------------------------------

def test_the_console_opens_without_the_shared_password_once_a_named_admin_exists(app_factory):
    app = app_factory(secret_key="s" * 40)
    client = app.test_client()
    off = client.get("/admin/login")
    assert off.status_code == 503 and "<code>AMENDS_ADMIN_PASSWORD</code>" in page(off)
    add_ada(app)
    assert client.get("/admin/login").status_code == 200
    assert sign_in(client, "Ada", ADA_PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_without_a_secret_key_the_console_stays_off_even_with_admins(app_factory):
    app = app_factory()
    add_ada(app)
    response = app.test_client().get("/admin/login")
    assert response.status_code == 503
    assert "<code>AMENDS_SECRET_KEY</code>" in page(response) and "AMENDS_ADMIN_PASSWORD" not in page(response)


def test_removing_the_last_admin_brings_the_bootstrap_back(admin_app):
    add_ada(admin_app)
    admins.remove(engine_of(admin_app), admin_app.extensions["amends"].settings, "Ada")
    client = admin_app.test_client()
    assert sign_in(client, "Ada", ADA_PASSWORD).status_code == 401
    assert sign_in(client, "Ada", ADMIN_PASSWORD).status_code == 302


# --- migration 0008 ---------------------------------------------------------------------

def test_migration_0008_up_and_down_keeps_the_sessions(settings):
    from alembic import command

    engine = db.make_engine(settings.database_url)
    try:
        db.upgrade(engine, "0007")
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO admin_sessions (id, name, remote, created_at, last_seen_at, expires_at)"
                                 " VALUES ('s1', 'Ada', '127.0.0.1', 1, 1, 9999999999)"))
        db.upgrade(engine)
        assert db.current_revision(engine) == "0008"
        with engine.begin() as conn:
            assert conn.execute(sa.select(db.admin_sessions.c.name, db.admin_sessions.c.admin_id)).all() == [
                ("Ada", None)]  # signed in with the shared password
            conn.execute(db.admins.insert().values(name="Ada", password_hash="scrypt$x", created_at=1))
            with pytest.raises(sa.exc.IntegrityError):
                with conn.begin_nested():
                    conn.execute(db.admins.insert().values(name="Ada", password_hash="y", created_at=2))
        command.downgrade(db.alembic_config(engine), "0007")
        assert db.current_revision(engine) == "0007"
        inspector = sa.inspect(engine)
        assert "admins" not in inspector.get_table_names()
        assert "admin_id" not in {c["name"] for c in inspector.get_columns("admin_sessions")}
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM admin_sessions")).scalars().all() == ["Ada"]
        db.upgrade(engine)
        assert db.current_revision(engine) == "0008" and db.list_admins(engine) == []
    finally:
        engine.dispose()


def test_concurrent_guesses_at_a_name_get_no_more_scrypt_checks_than_the_limit(admin_app, monkeypatch):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from plugin.web.admin import auth

    add_ada(admin_app)
    checks, lock, guesses, real = [], threading.Lock(), 12, hashlib.scrypt

    def counted(password, **params):
        with lock:
            checks.append(password)
        return real(password, **params)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    clients = [admin_app.test_client() for _ in range(guesses)]
    tokens = [csrf_token(client) for client in clients]
    start = threading.Barrier(guesses)

    def guess(n):
        start.wait()
        return clients[n].post("/admin/login", data={"name": "Ada", "password": f"guess number {n}",
                                                     "csrf_token": tokens[n]}).status_code

    with ThreadPoolExecutor(guesses) as pool:
        statuses = sorted(pool.map(guess, range(guesses)))
    assert len(checks) == auth.MAX_FAILURES, checks
    assert statuses == [401] * auth.MAX_FAILURES + [429] * (guesses - auth.MAX_FAILURES)
