import pytest

from plugin.config import load_settings
from plugin.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    import os

    for key in list(os.environ):
        if key.startswith("AMENDS_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_embedded():
    s = load_settings()
    assert s.database_url == "sqlite:///instance/amends.db"
    assert s.queue_url == "sqlite:///instance/amends-queue.db"
    assert s.webhook_tolerance_seconds == 300
    assert s.max_body_bytes == 1024 * 1024
    assert not s.zendesk_can_post


def test_reads_dotenv_and_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("AMENDS_ZENDESK_SUBDOMAIN=fromfile\nAMENDS_WEBHOOK_TOLERANCE_SECONDS=60\n")
    assert load_settings().zendesk_subdomain == "fromfile"
    monkeypatch.setenv("AMENDS_ZENDESK_SUBDOMAIN", "fromenv")
    s = load_settings()
    assert s.zendesk_subdomain == "fromenv"
    assert s.webhook_tolerance_seconds == 60


def test_api_url_defaults_to_subdomain_and_can_be_overridden(monkeypatch):
    monkeypatch.setenv("AMENDS_ZENDESK_SUBDOMAIN", "acme")
    assert load_settings().zendesk_base_url == "https://acme.zendesk.com"
    monkeypatch.setenv("AMENDS_ZENDESK_API_URL", "http://127.0.0.1:9999/")
    assert load_settings().zendesk_base_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize(
    "env, named",
    [
        ({"AMENDS_DATABASE_URL": "mysql://x/y"}, "AMENDS_DATABASE_URL"),
        ({"AMENDS_QUEUE_URL": "amqp://localhost"}, "AMENDS_QUEUE_URL"),
        ({"AMENDS_QUEUE_URL": "sqlite://relative.db"}, "AMENDS_QUEUE_URL"),
        ({"AMENDS_ZENDESK_SUBDOMAIN": "acme.zendesk.com"}, "AMENDS_ZENDESK_SUBDOMAIN"),
        ({"AMENDS_ZENDESK_SUBDOMAIN": "acme", "AMENDS_ZENDESK_EMAIL": "a@b.c"}, "AMENDS_ZENDESK_API_TOKEN"),
        ({"AMENDS_ZENDESK_SUBDOMAIN": "acme", "AMENDS_ZENDESK_API_TOKEN": "t"}, "AMENDS_ZENDESK_EMAIL"),
        ({"AMENDS_ZENDESK_WEBHOOK_SECRET": "s"}, "AMENDS_ZENDESK_SUBDOMAIN"),
        ({"AMENDS_ZENDESK_API_URL": "ftp://x"}, "AMENDS_ZENDESK_API_URL"),
        ({"AMENDS_WEBHOOK_TOLERANCE_SECONDS": "five"}, "AMENDS_WEBHOOK_TOLERANCE_SECONDS"),
        ({"AMENDS_MAX_BODY_BYTES": "0"}, "AMENDS_MAX_BODY_BYTES"),
        ({"AMENDS_LEASE_SECONDS": "5"}, "AMENDS_LEASE_SECONDS"),
        ({"AMENDS_PROXY_HOPS": "-1"}, "AMENDS_PROXY_HOPS"),
    ],
)
def test_invalid_setting_is_named(monkeypatch, env, named):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert named in str(err.value)


def test_env_example_copied_as_is_loads_once_the_console_settings_are_added(tmp_path):
    from pathlib import Path

    example = (Path(__file__).parent.parent / ".env.example").read_text()
    (tmp_path / ".env").write_text(example + "\nAMENDS_SECRET_KEY=" + "k" * 40 + "\nAMENDS_ADMIN_PASSWORD=pw\n")
    s = load_settings()
    assert s.proxy_hops == 0 and s.admin_password == "pw" and s.database_url == "sqlite:///instance/amends.db"


def test_no_proxy_is_zero_proxy_hops(monkeypatch):
    monkeypatch.setenv("AMENDS_PROXY_HOPS", "0")
    assert load_settings().proxy_hops == 0
    monkeypatch.setenv("AMENDS_PROXY_HOPS", "2")
    assert load_settings().proxy_hops == 2


def test_secrets_are_not_in_repr(monkeypatch):
    monkeypatch.setenv("AMENDS_ZENDESK_SUBDOMAIN", "acme")
    monkeypatch.setenv("AMENDS_ZENDESK_WEBHOOK_SECRET", "very-secret-value")
    monkeypatch.setenv("AMENDS_ZENDESK_OAUTH_TOKEN", "oauth-secret-value")
    text = repr(load_settings())
    assert "very-secret-value" not in text and "oauth-secret-value" not in text


def test_env_example_documents_every_setting():
    from dataclasses import fields
    from pathlib import Path

    from plugin.config import Settings, env_name

    example = (Path(__file__).parent.parent / ".env.example").read_text()
    missing = [env_name(f.name) for f in fields(Settings) if env_name(f.name) not in example]
    assert missing == []
