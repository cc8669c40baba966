"""The helpdesk registry: one slug, one connector module."""

from __future__ import annotations

import requests
from sqlalchemy.engine import Engine

from plugin.config import Settings
from plugin.connectors.base import Connector
from plugin.connectors.zendesk import ZendeskConnector

REGISTRY: dict[str, type[Connector]] = {ZendeskConnector.slug: ZendeskConnector}


def get_connector(slug: str, settings: Settings, session: requests.Session | None = None,
                  engine: Engine | None = None) -> Connector | None:
    """`engine` lets a connector use credentials stored by the admin console."""
    cls = REGISTRY.get(slug)
    return cls(settings, session, engine=engine) if cls else None
