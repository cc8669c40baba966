"""HTTP calls bounded by one total deadline, however slowly the answer comes.

requests' timeout applies to each socket read: an answer that drips a byte every few seconds
never trips it, and a call could hold a worker (and its event) for as long as the server
pleases. Here each call gets a watchdog timer; when the deadline passes it shuts the call's
socket down, whether the call is still sending, waiting for the headers or reading the body
(which is read inside the call, under the same deadline).

The socket is found through the connection pool: `DeadlineAdapter` uses pools and connections
that tell the call running in this thread which socket it uses (a pooled connection's, or the
one a new connection opens), and forget it when the connection goes back to the pool, so a late
watchdog never touches a connection another call has taken since. The socket itself is kept,
not the connection: an answer with "Connection: close" is read from a socket the connection
has already let go of.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection

# A call's watchdog is re-armed this often while the call has no socket yet (still resolving
# or connecting), so a connection made after the deadline is shut down too.
REARM_SECONDS = 0.05

_current = threading.local()  # .watch: the _Watch of the call running in this thread


class TotalTimeout(requests.Timeout):
    """The call's total deadline passed (however the cut-off socket made it end)."""


class _Watch:
    """One call's deadline: shuts its socket down when the time is up."""

    def __init__(self, seconds: float):
        self._lock = threading.Lock()
        self._sock: Any = None
        self._done = False
        self.expired = False
        self._timer = self._arm(seconds)

    def _arm(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self._expire)
        timer.daemon = True
        timer.start()
        return timer

    def use(self, sock: Any) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                _shut(sock)

    def forget(self, sock: Any) -> None:
        with self._lock:
            if self._sock is sock:
                self._sock = None

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            if not _shut(self._sock):
                self._timer = self._arm(REARM_SECONDS)


def _shut(sock: Any) -> bool:
    """Shut the socket down (a read blocked on it then returns at once); False if there is none yet."""
    if sock is None:
        return False
    if not isinstance(sock, socket.socket):
        sock = getattr(sock, "socket", None)  # TLS inside a TLS proxy tunnel: the tunnel's socket
    try:
        # The plain socket's shutdown, also for TLS: the TLS state belongs to the reading thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, TypeError):
        pass  # already closed
    return True


def _watch() -> _Watch | None:
    return getattr(_current, "watch", None)


class _Connects:
    """Connection mix-in: a new connection's socket is the running call's."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        if (watch := _watch()) is not None:
            watch.use(self.sock)  # type: ignore[attr-defined]


class _WatchedHTTPConnection(_Connects, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Connects, HTTPSConnection):
    pass


class _Watched:
    """Pool mix-in: a pooled connection's socket is the running call's until it goes back."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        if (watch := _watch()) is not None and conn.sock is not None:
            watch.use(conn.sock)
        return conn

    def _put_conn(self, conn: Any) -> None:
        if (watch := _watch()) is not None and conn is not None:
            watch.forget(conn.sock)
        super()._put_conn(conn)  # type: ignore[misc]


class _WatchedHTTPPool(_Watched, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(_Watched, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with pools whose connections a call's watchdog can find."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):  # a SOCKS manager brings pools of its own
            manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager


def _with_deadline_adapter(session: requests.Session, url: str) -> None:
    """Mount a DeadlineAdapter for the URL's scheme unless the session has its own (a test's mock)."""
    adapter = session.get_adapter(url)
    if type(adapter) is HTTPAdapter:
        session.mount(url.split("://", 1)[0].lower() + "://", DeadlineAdapter())


def request(session: requests.Session, method: str, url: str, seconds: float, **kwargs: Any) -> requests.Response:
    """One HTTP call, body included, over within `seconds`; requests' own exceptions otherwise.

    `TotalTimeout` (a requests.Timeout) when the deadline cut the call.
    """
    _with_deadline_adapter(session, url)
    watch = _current.watch = _Watch(seconds)
    response = None
    try:
        response = session.request(method, url, timeout=(min(5.0, seconds), seconds), stream=True, **kwargs)
        response.content  # noqa: B018 - read the whole body now, under the deadline
        return response
    except Exception as exc:
        if response is not None:
            response.close()
        if watch.expired:
            raise TotalTimeout(f"no complete answer within {seconds:g} s") from exc
        raise
    finally:
        watch.finish()
        _current.watch = None
