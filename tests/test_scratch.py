"""The PostgreSQL/Redis runs work in a database and a Redis db of their own, and a reset
between tests empties only those: a benchmark or a second checkout on the same servers keeps
its data (issue 12, item 11)."""

import os

import pytest
import redis
import sqlalchemy as sa

from tests.conftest import _DISTRIBUTED_SKIP, SCRATCH, reset_distributed
from tests.scratch import SERVER_URL, redis_db_url

pytestmark = pytest.mark.skipif(_DISTRIBUTED_SKIP is not None, reason=_DISTRIBUTED_SKIP or "")


def test_the_run_has_its_own_database_and_redis_db():
    assert sa.engine.make_url(SCRATCH.database_url).database == SCRATCH.token
    assert SCRATCH.token.startswith("amends_test_") and len(SCRATCH.token) <= 63 and SCRATCH.queue_url.rsplit("/", 1)[1] not in ("0", "15")


def test_a_reset_leaves_other_databases_and_redis_dbs_alone():
    neighbour_table = f"neighbour_{SCRATCH.token}"
    server = sa.create_engine(SERVER_URL.replace("postgresql://", "postgresql+psycopg://"))
    with server.begin() as conn:
        conn.execute(sa.text(f'CREATE TABLE "{neighbour_table}" (x int)'))
    other_db = 0 if SCRATCH.queue_url.rsplit("/", 1)[1] != "0" else 1
    neighbour = redis.Redis.from_url(redis_db_url(other_db))
    neighbour.set(f"neighbour:{SCRATCH.token}", "kept")
    try:
        reset_distributed()
        with server.connect() as conn:
            assert conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": f'"{neighbour_table}"'}).scalar()
        assert neighbour.get(f"neighbour:{SCRATCH.token}") == b"kept"
    finally:
        with server.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{neighbour_table}"'))
        neighbour.delete(f"neighbour:{SCRATCH.token}")
        server.dispose()


def test_what_a_killed_run_left_behind_is_dropped_by_the_next_one():
    import subprocess
    import sys

    from tests.scratch import Scratch

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    orphan = Scratch("test")
    orphan.token = orphan.token.replace(f"_{os.getpid()}_", f"_{dead}_")  # as if made by that finished process
    orphan.create()
    number = orphan.queue_url.rsplit("/", 1)[1]
    orphan._redis = None  # it was killed: nothing dropped
    orphan.database_url = ""
    Scratch("test").create().drop()
    server = sa.create_engine(SERVER_URL.replace("postgresql://", "postgresql+psycopg://"))
    with server.connect() as conn:
        names = set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
    server.dispose()
    assert orphan.token not in names
    assert redis.Redis.from_url(redis_db_url(int(number))).get("amends:scratch-owner") != orphan.token.encode()
