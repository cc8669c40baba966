"""Keeping an attempt's lease for as long as the attempt runs.

An attempt holds its event under a short lease (AMENDS_LEASE_SECONDS). A `LeaseKeeper`
renews it from a background thread every third of a lease while the attempt works, so a
slow helpdesk never makes a live attempt lose its event, while a dead worker (whose keeper
dies with it) leaves its event free one short lease later.

Renewals are fenced like every other write of the attempt: once another claim has taken
the event, a renewal fails and the keeper stops, and the attempt's own fenced writes
(`mark_post_started` first of all) refuse too, so it cannot post.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from plugin import db

log = logging.getLogger(__name__)

RENEWALS_PER_LEASE = 3  # two missed renewals in a row still leave a third of the lease


class LeaseKeeper:
    """A context manager: renews `claim`'s lease in the background until the block ends."""

    def __init__(self, engine: Engine, claim: db.Claim):
        self.engine, self.claim = engine, claim
        self.interval = claim.lease_seconds / RENEWALS_PER_LEASE
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"lease-{claim.event_id}-{claim.attempt}")

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        # Stops at the first renewal that is fenced off: the lease is another claim's now.
        while not self._stop.wait(self.interval) and self._renew():
            pass

    def _renew(self) -> bool:
        """False once the claim is fenced off (finished, or taken over after a missed renewal)."""
        try:
            return db.renew_lease(self.engine, self.claim)
        except SQLAlchemyError as exc:
            # The database is away: try again next time; if it stays away, the lease runs out
            # and the attempt's fenced writes fail with it.
            log.warning("event %s attempt %s: could not renew the lease: %s",
                        self.claim.event_id, self.claim.attempt, exc.__class__.__name__)
            return True
