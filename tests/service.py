"""Run the real service as a subprocess (`amends serve`, or gunicorn + `amends worker`) for
end-to-end tests and benchmarks, and kill it the hard way when a test asks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMENDS_")}
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT)
    return env


class Service:
    """`amends serve` in its own process group, so kill() takes web and worker down at once."""

    def __init__(self, workdir: Path, env: dict[str, str], mode: str = "serve"):
        self.workdir = workdir
        self.env = clean_environment(env)
        self.mode = mode
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.log = open(workdir / f"service-{self.port}.log", "ab")

    def _spawn(self, args: list[str]) -> None:
        self.procs.append(subprocess.Popen(args, cwd=self.workdir, env=self.env, stdout=self.log,
                                           stderr=subprocess.STDOUT, start_new_session=True))

    def start(self, timeout: float = 30.0) -> "Service":
        amends = [sys.executable, "-m", "plugin.cli"]
        if self.mode == "serve":
            self._spawn(amends + ["serve", "--host", "127.0.0.1", "--port", str(self.port)])
        else:  # scale-out shape: plain gunicorn for the web ("web"), plus a separate worker ("split")
            self._spawn(amends + ["db", "upgrade"])
            self.procs.pop().wait(timeout=timeout)
            self._spawn([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{self.port}", "-k", "gthread",
                         "-w", self.env.get("AMENDS_WEB_WORKERS", "1"),
                         "--threads", self.env.get("AMENDS_WEB_THREADS", "4"), "plugin:create_app()"])
            if self.mode == "split":
                self.start_worker()
        self.wait_healthy(timeout)
        return self

    def start_worker(self) -> None:
        self._spawn([sys.executable, "-m", "plugin.cli", "worker"])

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"service exited early with {proc.returncode}; see {self.log.name}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"service not healthy after {timeout}s; see {self.log.name}")

    def kill(self) -> None:
        """kill -9 of every process, as a crash or an OOM kill would."""
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        self.procs.clear()

    def stop(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()

    def restart(self) -> "Service":
        return self.start()

    def __enter__(self) -> "Service":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.log.close()
