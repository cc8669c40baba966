"""The long-lived parts one process shares: settings, engine, queue, tasks, connectors."""

from __future__ import annotations

from dataclasses import dataclass, field

from huey.api import Huey
from sqlalchemy.engine import Engine

from plugin import db
from plugin.config import Settings
from plugin.connectors import REGISTRY
from plugin.connectors.base import Connector
from plugin.core.rules_layer import load_rules
from plugin.queue import make_huey
from plugin.services.rulebook import Rulebooks
from plugin.tasks import Tasks


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    huey: Huey
    tasks: Tasks
    rulebooks: Rulebooks
    connectors: dict[str, Connector] = field(default_factory=dict)


def build_runtime(settings: Settings, migrate: bool = True, immediate: bool = False) -> Runtime:
    engine = db.make_engine(settings.database_url)
    if migrate:  # the process's own start-up (not a gunicorn worker of a master that did it)
        db.prepare(engine, settings.migrate_on_start)
    huey = make_huey(settings, immediate=immediate)
    rulebooks = Rulebooks(engine, load_rules(settings.rules_file))
    tasks = Tasks(settings, huey, engine, rulebooks)
    # Web-side connectors only parse and verify; the worker makes its own per thread.
    connectors = {slug: cls(settings, engine=engine) for slug, cls in REGISTRY.items()}
    return Runtime(settings, engine, huey, tasks, rulebooks, connectors)
