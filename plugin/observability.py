"""Process wiring for logs and metrics: the log format (AMENDS_LOG_FORMAT), gunicorn's logs, and
the directory where every process of `amends serve` writes its Prometheus samples.

Metric names and counters live in plugin/metrics.py; this module only prepares processes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from plugin.config import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's name; read when it is first imported
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
# Fields a record may carry in `extra={"amends": {...}}` (event id, ticket, account, outcome, duration).
EXTRA_KEY = "amends"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process, message, and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        fields = getattr(record, EXTRA_KEY, None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def formatter(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings) -> None:
    """Root logging to stderr in the chosen format (basicConfig's stream), for every process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])
    logging.getLogger("alembic").setLevel(logging.WARNING)


def gunicorn_logger_class(settings: Settings) -> type:
    """gunicorn's logger with the access log on stderr (gunicorn's "-" means stdout) and both of its
    logs in our format when it is json, so a log shipper reads one format."""
    from gunicorn.glogging import Logger

    class AmendsGunicornLogger(Logger):
        def setup(self, cfg):
            super().setup(cfg)
            access = logging.StreamHandler(sys.stderr)
            access.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter("%(message)s"))
            self.access_log.handlers = [access]
            if settings.log_format == "json":
                for handler in self.error_log.handlers:
                    handler.setFormatter(JsonFormatter())

    return AmendsGunicornLogger


def child_exit(_server, worker) -> None:
    """gunicorn hook: a web worker's samples stay counted, its live gauges are dropped."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class MetricsDirectory:
    """The per-run directory of `amends serve`'s Prometheus samples: PROMETHEUS_MULTIPROC_DIR if the
    operator set one (emptied: a previous run's files would inflate the counters), else a temporary
    one removed at exit. Entered before any process imports prometheus_client; children inherit it."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self._created = False

    def __enter__(self) -> Path:
        given = os.environ.get(MULTIPROC_ENV)
        if given:
            self.path = Path(given)
            self.path.mkdir(parents=True, exist_ok=True)
            for stale in self.path.glob("*.db"):
                stale.unlink()
        else:
            self.path = Path(tempfile.mkdtemp(prefix="amends-metrics-"))
            self._created = True
            os.environ[MULTIPROC_ENV] = str(self.path)
        return self.path

    def __exit__(self, *_exc) -> None:
        if self._created and self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
