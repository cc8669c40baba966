"""Settings from the environment and `.env`; the only module that reads os.environ.

Every setting is named `AMENDS_*` (see `.env.example`). `load_settings()` validates
all of them at once and raises `ConfigError` naming the first bad one, so a
misconfigured service stops at start-up instead of failing on the first webhook.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlparse

from dotenv import dotenv_values

from plugin.core.sidebar_auth import load_public_key
from plugin.errors import ConfigError

SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///instance/amends.db"
    queue_url: str = "sqlite:///instance/amends-queue.db"
    secret_key: str = ""
    admin_password: str = ""
    log_level: str = "INFO"
    # text: one readable line per record; json: one JSON object per line, for log shippers.
    log_format: str = "text"
    # Bearer token GET /metrics requires; empty: /metrics is open (like /healthz).
    metrics_token: str = field(default="", repr=False)

    zendesk_subdomain: str = ""
    zendesk_webhook_secret: str = field(default="", repr=False)
    zendesk_email: str = ""
    zendesk_api_token: str = field(default="", repr=False)
    zendesk_oauth_token: str = field(default="", repr=False)
    zendesk_api_url: str = ""
    # The sidebar app's public key (PEM text or a PEM file's path): checks Zendesk's signed-URL tokens.
    zendesk_app_public_key: str = field(default="", repr=False)
    # Or the app's id (digits): the sidebar then fetches the public key from Zendesk, once per process.
    zendesk_app_id: str = ""

    company_name: str = ""
    sign_off: str = ""
    order_field_id: str = ""
    rules_file: str = ""
    repeat_window_days: int = 30
    api_token: str = field(default="", repr=False)
    retrain_after: int = 10

    webhook_tolerance_seconds: int = 300
    max_body_bytes: int = 1024 * 1024

    http_timeout_seconds: float = 10.0
    retry_max_attempts: int = 10
    retry_base_seconds: float = 5.0
    retry_max_delay_seconds: float = 900.0
    # The running attempt renews its lease every third of it: short, so a dead worker's events are taken up soon.
    lease_seconds: float = 30.0

    # Reverse proxies in front of us whose X-Forwarded-For/-Proto/-Host to trust (0: none).
    proxy_hops: int = 0

    web_workers: int = 2
    web_threads: int = 8
    worker_threads: int = 4
    # /healthz answers 503 when events wait and no worker has beaten for this long.
    worker_stale_seconds: float = 60.0
    # Customer text (ticket payloads, letters, feedback) older than this many days is removed
    # by the worker once a day; counts and outcomes stay. 0: keep it (no daily purge).
    retention_days: int = 90
    # Whether `amends serve`, `amends worker` and create_app() migrate the database at start-up
    # (under a lock). False in production: `amends db upgrade` once per release, and a process
    # finding the schema behind refuses to start, naming that command.
    migrate_on_start: bool = True

    @property
    def zendesk_base_url(self) -> str:
        """Where Zendesk's API lives; overridable for tests and proxies."""
        if self.zendesk_api_url:
            return self.zendesk_api_url.rstrip("/")
        if self.zendesk_subdomain:
            return f"https://{self.zendesk_subdomain}.zendesk.com"
        return ""

    @property
    def zendesk_can_post(self) -> bool:
        return bool(self.zendesk_base_url and (self.zendesk_oauth_token or self.zendesk_api_token))


# Name of each field's environment variable, e.g. database_url -> AMENDS_DATABASE_URL.
def env_name(field_name: str) -> str:
    return "AMENDS_" + field_name.upper()


def _read_environment(env_file: str | os.PathLike | None) -> dict[str, str]:
    """The process environment wins over `.env`, as with every twelve-factor tool."""
    values: dict[str, str] = {}
    path = Path(env_file) if env_file else Path.cwd() / ".env"
    if path.is_file():
        values.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    values.update({k: v for k, v in os.environ.items() if k.startswith("AMENDS_")})
    return values


# Numbers for which 0 means something (no proxy to trust); every other number must be above 0.
ZERO_ALLOWED = frozenset({"AMENDS_PROXY_HOPS", "AMENDS_RETENTION_DAYS"})  # retention: 0 keeps all


def _coerce(name: str, raw: str, kind: type) -> object:
    raw = raw.strip()
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if name in ZERO_ALLOWED and value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {raw!r}")
    if name not in ZERO_ALLOWED and value <= 0:
        raise ConfigError(f"{name} must be greater than zero, got {raw!r}")
    return value


def _boolean(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw.strip()!r}")


def load_settings(env_file: str | os.PathLike | None = None, **overrides: object) -> Settings:
    """Build and validate Settings; raise ConfigError naming the setting at fault."""
    raw = _read_environment(env_file)
    kwargs: dict[str, object] = {}
    for f in fields(Settings):
        name = env_name(f.name)
        if name not in raw or raw[name] == "":
            continue
        default = f.default
        if isinstance(default, bool):
            kwargs[f.name] = _boolean(name, raw[name])
        elif not isinstance(default, (int, float)):
            kwargs[f.name] = raw[name].strip()
        else:
            kwargs[f.name] = _coerce(name, raw[name], type(default))
    kwargs.update(overrides)
    settings = Settings(**kwargs)
    validate(settings)
    return settings


def validate(s: Settings) -> None:
    _check_url("AMENDS_DATABASE_URL", s.database_url, ("sqlite", "postgresql", "postgresql+psycopg"))
    _check_url("AMENDS_QUEUE_URL", s.queue_url, ("sqlite", "redis", "rediss"))
    if s.zendesk_subdomain and not SUBDOMAIN_RE.match(s.zendesk_subdomain):
        raise ConfigError(
            "AMENDS_ZENDESK_SUBDOMAIN must be the subdomain only (e.g. 'acme' for "
            f"acme.zendesk.com), got {s.zendesk_subdomain!r}"
        )
    if s.zendesk_api_url:
        parsed = urlparse(s.zendesk_api_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"AMENDS_ZENDESK_API_URL must be an http(s) URL, got {s.zendesk_api_url!r}")
    if s.zendesk_email and not s.zendesk_api_token:
        raise ConfigError("AMENDS_ZENDESK_API_TOKEN is missing: it is required with AMENDS_ZENDESK_EMAIL")
    if s.zendesk_api_token and not s.zendesk_email:
        raise ConfigError("AMENDS_ZENDESK_EMAIL is missing: it is required with AMENDS_ZENDESK_API_TOKEN")
    needs_account = s.zendesk_webhook_secret or s.zendesk_api_token or s.zendesk_oauth_token
    if needs_account and not s.zendesk_subdomain:
        raise ConfigError(
            "AMENDS_ZENDESK_SUBDOMAIN is missing: it names the Zendesk account the other "
            "AMENDS_ZENDESK_* settings belong to"
        )
    if s.zendesk_app_public_key:
        _check_app_public_key(s)
    if s.zendesk_app_id:
        _check_app_id(s)
    if s.order_field_id and not s.order_field_id.isdigit():
        raise ConfigError(f"AMENDS_ORDER_FIELD_ID must be a Zendesk ticket field id (digits), got {s.order_field_id!r}")
    if s.rules_file and not Path(s.rules_file).is_file():
        raise ConfigError(f"AMENDS_RULES_FILE {s.rules_file!r} does not exist")
    if s.proxy_hops < 0:
        raise ConfigError(f"AMENDS_PROXY_HOPS must be 0 or more, got {s.proxy_hops}")
    if s.retention_days < 0:
        raise ConfigError(f"AMENDS_RETENTION_DAYS must be 0 (keep everything) or more, got {s.retention_days}")
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"AMENDS_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {s.log_level!r}")
    if s.log_format not in ("text", "json"):
        raise ConfigError(f"AMENDS_LOG_FORMAT must be text or json, got {s.log_format!r}")
    # The post starts with a renewed lease and is bounded by the HTTP deadline: it must be over
    # before that lease can run out, or a second attempt could post while the first still is.
    post_budget = 2 * s.http_timeout_seconds
    if s.lease_seconds < post_budget:
        raise ConfigError(
            f"AMENDS_LEASE_SECONDS must be at least 2 x AMENDS_HTTP_TIMEOUT_SECONDS "
            f"({post_budget:g}), got {s.lease_seconds:g}"
        )


def _check_app_public_key(s: Settings) -> None:
    """The sidebar refuses every token it cannot check, so a bad key must stop start-up instead."""
    try:
        load_public_key(s.zendesk_app_public_key)
    except ValueError as exc:
        raise ConfigError(f"AMENDS_ZENDESK_APP_PUBLIC_KEY {exc}") from None
    if not s.secret_key:
        raise ConfigError("AMENDS_SECRET_KEY is missing: the Zendesk sidebar (AMENDS_ZENDESK_APP_PUBLIC_KEY) "
                          "signs its sessions with it")


def _check_app_id(s: Settings) -> None:
    """The id goes into Zendesk's URL /api/v2/apps/{id}/public_key.pem: digits only."""
    if not re.fullmatch(r"[0-9]{1,20}", s.zendesk_app_id):
        raise ConfigError("AMENDS_ZENDESK_APP_ID must be the Zendesk app's id (digits, Admin Center > Apps and "
                          f"integrations > Zendesk Support apps), got {s.zendesk_app_id[:40]!r}")
    if not s.secret_key:
        raise ConfigError("AMENDS_SECRET_KEY is missing: the Zendesk sidebar (AMENDS_ZENDESK_APP_ID) "
                          "signs its sessions with it")


def _check_url(name: str, url: str, schemes: tuple[str, ...]) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in schemes:
        raise ConfigError(f"{name} must start with one of {', '.join(s + '://' for s in schemes)}; got {url!r}")
    if parsed.scheme == "sqlite" and not url.startswith("sqlite:///"):
        raise ConfigError(f"{name} must look like sqlite:///path/to/file.db, got {url!r}")
    if parsed.scheme != "sqlite" and not parsed.hostname:
        raise ConfigError(f"{name} has no host: {url!r}")


def sqlite_path(url: str) -> Path | None:
    """The file behind a sqlite:/// URL, made absolute against the working directory."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url[len("sqlite:///"):]).expanduser().resolve()
