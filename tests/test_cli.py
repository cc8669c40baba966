"""The `amends` command: start-up refuses bad settings by name; db upgrade migrates."""


import subprocess
import sys

from tests.service import clean_environment


def amends(args, cwd, **env):
    return subprocess.run([sys.executable, "-m", "plugin.cli", *args], cwd=cwd, env=clean_environment(env),
                          capture_output=True, text=True, timeout=60)


def test_serve_stops_on_invalid_setting_and_names_it(tmp_path):
    result = amends(["serve", "--port", "0"], tmp_path, AMENDS_QUEUE_URL="amqp://nope")
    assert result.returncode != 0
    assert "AMENDS_QUEUE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_stops_on_missing_paired_setting(tmp_path):
    result = amends(["worker"], tmp_path, AMENDS_ZENDESK_SUBDOMAIN="acme", AMENDS_ZENDESK_EMAIL="a@b.c")
    assert result.returncode != 0 and "AMENDS_ZENDESK_API_TOKEN" in result.stderr


def test_dotenv_in_working_directory_is_read(tmp_path):
    (tmp_path / ".env").write_text("AMENDS_DATABASE_URL=oracle://x\n")
    result = amends(["db", "upgrade"], tmp_path)
    assert result.returncode != 0 and "AMENDS_DATABASE_URL" in result.stderr


def test_db_upgrade_creates_the_embedded_database(tmp_path):
    result = amends(["db", "upgrade"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "revision 0001" in result.stdout
    assert (tmp_path / "instance" / "amends.db").is_file()
