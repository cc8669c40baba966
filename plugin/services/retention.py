"""The retention policy: how old customer text may get (AMENDS_RETENTION_DAYS) before it goes.

The worker calls `apply` once a day; `amends purge --older-than DAYS` calls `purge` at once.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from plugin import db
from plugin.config import Settings

log = logging.getLogger(__name__)


def purge(engine: Engine, days: int) -> dict[str, int]:
    """Remove customer text older than `days` (>= 1) days; rows purged per table."""
    counts = db.purge_older_than(engine, days)
    # Counts only: the log never carries ticket text.
    log.info("retention: removed customer text older than %d day(s): %s", days, summary(counts))
    return counts


def apply(engine: Engine, settings: Settings) -> dict[str, int] | None:
    """The daily purge with AMENDS_RETENTION_DAYS; None when it is 0 (retention disabled)."""
    if settings.retention_days <= 0:
        return None
    return purge(engine, settings.retention_days)


def summary(counts: dict[str, int]) -> str:
    """e.g. "events: 120 purged, suggestions: 98, feedback: 4"."""
    parts = [f"{table}: {count}" for table, count in counts.items()]
    if parts:
        parts[0] += " purged"
    return ", ".join(parts)
