"""deploy/ read by the tools that will read it in production: `systemd-analyze verify` (the units),
`nginx -t` and a real nginx in front of a real `amends serve --no-worker` (the site), `caddy
validate` (the Caddyfile); and the units' commands and the env file agree with the code.

`make deploy-tools` (a prerequisite of `make test` and `make deploy-check`) installs Debian's nginx
and caddy where missing; what it could not install it writes to .venv/.deploy-tools-missing, and
the checks needing that tool skip with the reason.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
import requests

from tests.service import ROOT, clean_environment, free_port

DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
VENV_AMENDS = Path(sys.prefix) / "bin" / "amends"


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found:
        return found
    recorded = Path(sys.prefix, ".deploy-tools-missing")
    why = recorded.read_text().strip() if recorded.is_file() else "run `make deploy-tools`"
    pytest.skip(f"{name} is not installed ({why})")


def unit_copies(tmp_path: Path) -> list[Path]:
    """The units with their paths pointed at this checkout. systemd-analyze verify fails a unit whose
    ExecStart binary does not exist, and /opt/amends is not installed here; so the copies run this
    checkout's .venv/bin/amends from this working tree, with an empty environment file. Everything
    else is verified as shipped. The template amends-worker@.service is verified as instance 1."""
    env_file = tmp_path / "amends.env"
    env_file.write_text("")
    copies = []
    for unit in UNITS:
        text = (unit.read_text().replace("/opt/amends/.venv/bin/amends", str(VENV_AMENDS))
                .replace("/opt/amends", str(ROOT)).replace("/etc/amends/amends.env", str(env_file)))
        copy = tmp_path / unit.name.replace("@.service", "@1.service")
        copy.write_text(text)
        copies.append(copy)
    return copies


def test_the_shipped_units_are_the_ones_the_docs_name():
    assert [u.name for u in UNITS] == ["amends-migrate.service", "amends-web.service", "amends-worker@.service"]


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    analyze = tool("systemd-analyze")
    copies = unit_copies(tmp_path)
    result = subprocess.run([analyze, "verify", "--man=no", *map(str, copies)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "amends" in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr


def test_systemd_analyze_verify_does_catch_a_broken_unit(tmp_path):
    """The check above could pass by verifying nothing: the same run on a spoiled copy must fail."""
    analyze = tool("systemd-analyze")
    web = next(c for c in unit_copies(tmp_path) if c.name == "amends-web.service")
    broken = tmp_path / "amends-broken.service"
    broken.write_text(web.read_text().replace("Restart=on-failure", "Restart=sometimes")
                      .replace(str(VENV_AMENDS), "/nonexistent/amends"))
    result = subprocess.run([analyze, "verify", "--man=no", str(broken)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "sometimes" in result.stderr and "/nonexistent/amends" in result.stderr


def exec_starts() -> list[list[str]]:
    commands = []
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                args = line.split("=", 1)[1].split()
                assert args[0] == "/opt/amends/.venv/bin/amends", line
                commands.append(args[1:])
    return commands


def test_every_exec_start_is_a_real_amends_command_with_real_options():
    from plugin.cli import main

    commands = exec_starts()
    assert ["worker"] in commands and ["db", "upgrade"] in commands
    assert any(c[:2] == ["serve", "--no-worker"] for c in commands)
    for args in commands:
        command, rest = main, list(args)
        while isinstance(command, click.Group):
            command = command.commands[rest.pop(0)]
        known = {opt for param in command.params for opt in param.opts}
        for word in rest:
            if word.startswith("--"):
                assert word in known, f"{' '.join(args)}: {word} is not an option of {command.name}"


def test_serve_help_lists_no_worker():
    result = subprocess.run([str(VENV_AMENDS), "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--no-worker" in result.stdout


def test_env_file_example_holds_only_real_settings_and_loads(monkeypatch):
    from dataclasses import fields

    from plugin.config import Settings, env_name, load_settings

    example = DEPLOY / "amends.env.example"
    names = re.findall(r"^(AMENDS_[A-Z_]+)=", example.read_text(), re.M)
    real = {env_name(f.name) for f in fields(Settings)}
    assert set(names) <= real, set(names) - real
    for key in [k for k in os.environ if k.startswith("AMENDS_")]:
        monkeypatch.delenv(key)
    settings = load_settings(env_file=example)
    assert settings.migrate_on_start is False and settings.proxy_hops == 1
    assert settings.queue_url.startswith("redis://") and settings.database_url.startswith("postgresql")


def test_proxies_body_limit_matches_the_apps():
    from plugin.config import Settings

    nginx = re.search(r"client_max_body_size\s+(\d+)m;", (DEPLOY / "nginx" / "amends.conf").read_text())
    caddy = re.search(r"max_size\s+(\d+)MiB", (DEPLOY / "Caddyfile").read_text())
    assert nginx and caddy
    assert int(nginx.group(1)) * 1024 * 1024 == int(caddy.group(1)) * 1024 * 1024 == Settings().max_body_bytes


# --- nginx ------------------------------------------------------------------------------------------


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    if not openssl:
        pytest.skip("openssl is not installed (needed for a throw-away certificate)")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=amends.example.com"], check=True, capture_output=True, timeout=60)
    return cert, key


def nginx_config(tmp_path: Path, http_port: int = 80, https_port: int = 443, upstream: int = 8000) -> Path:
    """The shipped site inside a minimal nginx.conf of our own, with a throw-away certificate in
    place of certbot's. With ports given, it listens there instead of 80/443 (to run unprivileged
    beside other servers) and proxies to that upstream port; nothing else is changed."""
    cert, key = self_signed(tmp_path)
    site = (DEPLOY / "nginx" / "amends.conf").read_text()
    site = site.replace("/etc/letsencrypt/live/amends.example.com/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/amends.example.com/privkey.pem", str(key))
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};").replace("listen [::]:80;", "")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    site = site.replace("listen [::]:443 ssl http2;", "").replace("127.0.0.1:8000", f"127.0.0.1:{upstream}")
    (tmp_path / "amends.conf").write_text(site)
    (tmp_path / "temp").mkdir()
    conf = tmp_path / "nginx.conf"
    temp = tmp_path / "temp"
    conf.write_text(f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {tmp_path}/amends.conf;
}}
""")
    return conf


def test_nginx_site_passes_nginx_t(tmp_path):
    nginx = tool("nginx")
    conf = nginx_config(tmp_path)
    result = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def wait_for(url: str, procs, timeout: float = 60.0, **kwargs) -> requests.Response:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for proc in procs:
            assert proc.poll() is None, f"{proc.args[0]} exited: {proc.stderr.read() if proc.stderr else ''}"
        try:
            return requests.get(url, timeout=2, **kwargs)
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def https_get(port: int, path: str, source: str = "127.0.0.1") -> int:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # our throw-away certificate
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, source_address=(source, 0), timeout=10)
    try:
        conn.request("GET", path, headers={"Host": "amends.example.com"})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # our throw-away certificate
def test_nginx_in_front_of_the_web_tier(tmp_path):
    """The shipped site, run: HTTP goes to HTTPS; the app behind it (AMENDS_PROXY_HOPS=1) sees
    https, so the console's session cookie is Secure; /metrics only from allowed addresses; bodies
    over the app's limit stop at nginx."""
    nginx = tool("nginx")
    http_port, https_port, app_port = free_port(), free_port(), free_port()
    conf = nginx_config(tmp_path, http_port, https_port, app_port)
    env = clean_environment({"AMENDS_PROXY_HOPS": "1", "AMENDS_SECRET_KEY": "k" * 40,
                             "AMENDS_ADMIN_PASSWORD": "correct horse battery staple"})
    procs = []
    try:
        procs.append(subprocess.Popen([str(VENV_AMENDS), "serve", "--no-worker", "--host", "127.0.0.1", "--port",
                                       str(app_port)], cwd=tmp_path, env=env, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.PIPE,
                                      text=True))
        base = f"https://127.0.0.1:{https_port}"
        headers = {"Host": "amends.example.com"}
        assert wait_for(f"http://127.0.0.1:{app_port}/healthz", procs).status_code == 200

        plain = wait_for(f"http://127.0.0.1:{http_port}/admin/login", procs, headers=headers, allow_redirects=False)
        assert plain.status_code == 301
        assert plain.headers["Location"] == "https://amends.example.com/admin/login"

        login = requests.get(f"{base}/admin/login", headers=headers, verify=False, timeout=10)
        assert login.status_code == 200
        cookie = login.headers.get("Set-Cookie", "")
        assert "amends_session=" in cookie and "Secure" in cookie, cookie
        direct = requests.get(f"http://127.0.0.1:{app_port}/admin/login", timeout=10)
        assert "Secure" not in direct.headers.get("Set-Cookie", "")  # the control: plain http, no proxy

        assert https_get(https_port, "/metrics") == 200
        if _can_bind("127.0.0.2"):
            assert https_get(https_port, "/metrics", source="127.0.0.2") == 403
            assert https_get(https_port, "/healthz", source="127.0.0.2") == 200

        too_big = requests.post(f"{base}/webhooks/zendesk", headers={**headers, "Content-Type": "application/json"},
                                data=b"x" * (1024 * 1024 + 1), verify=False, timeout=10)
        assert too_big.status_code == 413 and "nginx" in too_big.text
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


def _can_bind(address: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((address, 0))
            return True
        except OSError:
            return False


# --- Caddy -----------------------------------------------------------------------------------------


def test_caddyfile_validates_and_adapts(tmp_path):
    caddy = tool("caddy")
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "PATH": "/usr/bin:/bin"}
    caddyfile = str(DEPLOY / "Caddyfile")
    valid = subprocess.run([caddy, "validate", "--config", caddyfile, "--adapter", "caddyfile"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert valid.returncode == 0 and "Valid configuration" in valid.stdout + valid.stderr, valid.stderr
    adapted = subprocess.run([caddy, "adapt", "--config", caddyfile, "--adapter", "caddyfile"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert adapted.returncode == 0, adapted.stderr
    config = json.dumps(json.loads(adapted.stdout))
    assert '"max_size": 1048576' in config and '"amends.example.com"' in config
    assert '"/metrics"' in config and '"status_code": 403' in config
