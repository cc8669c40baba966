"""The PostgreSQL pool keeps a connection per busy thread: a web process's 8 threads (AMENDS_WEB_THREADS)
under steady load must not close and reopen connections (each one a PostgreSQL fork; bench/scale.py saw
hundreds per 3,000 webhooks with a pool of 5)."""

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from plugin import db
from tests.scratch import Scratch, Unavailable

THREADS, BURSTS = 8, 5


@pytest.fixture(scope="module")
def database_url():
    try:
        scratch = Scratch("pool").create()
    except Unavailable as exc:
        pytest.skip(str(exc))
    yield scratch.database_url
    scratch.drop()


def test_bursts_of_busy_threads_reuse_their_connections(database_url):
    engine = db.make_engine(database_url)
    opened = []
    sa_event.listen(engine, "connect", lambda *_: opened.append(1))
    together = threading.Barrier(THREADS, timeout=10)

    def work() -> None:  # every thread in a transaction at once, then all of them done, again and again
        for _ in range(BURSTS):
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                together.wait()
            together.wait()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert len(opened) == THREADS, f"{len(opened)} connections opened for {THREADS} threads in {BURSTS} bursts"
