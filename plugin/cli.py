"""The `amends` command group: serve, worker, db upgrade. Calls the same functions the web uses."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

import click

from plugin.cli_admin import admin_group
from plugin.config import Settings, load_settings
from plugin.errors import ConfigError, LetterOverBudget
from plugin.models import AUDIENCES

log = logging.getLogger("amends")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


def _configure_logging(settings: Settings) -> None:
    from plugin.observability import configure_logging

    configure_logging(settings)  # AMENDS_LOG_FORMAT: text or json


@click.group()
def main() -> None:
    """Amends: apology letters for helpdesk tickets, posted as internal notes."""


main.add_command(admin_group)  # amends admin add|remove|list (plugin/cli_admin.py)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-worker", is_flag=True,
              help="Web only: no embedded worker (run `amends worker` beside it, e.g. as its own service).")
def serve(host: str, port: int, no_worker: bool) -> None:
    """Run the web app (gunicorn) and an embedded worker, in one command."""
    settings = _settings()
    _configure_logging(settings)
    _prepared_engine(settings).dispose()  # gunicorn's workers open their own connections
    _warn_if_unconfigured(settings, host, port)
    from plugin.observability import MetricsDirectory
    from plugin.worker import EmbeddedWorker

    # Before gunicorn's workers and the worker child import prometheus_client: they inherit it.
    with MetricsDirectory():
        worker = None if no_worker else EmbeddedWorker()
        if worker:
            worker.start()
        try:
            _Gunicorn(settings, f"{host}:{port}", on_stop=worker.expect_exit if worker else lambda: None).run()
        finally:
            if worker:
                worker.stop()


def _prepared_engine(settings: Settings):
    """The settings' database, migrated (AMENDS_MIGRATE_ON_START) or checked to be at this version."""
    from plugin import db

    engine = db.make_engine(settings.database_url)
    _prepare_database(lambda: db.prepare(engine, settings.migrate_on_start))
    return engine


def _prepare_database(prepare: Callable[[], None]) -> None:
    from plugin.errors import SchemaNotCurrent

    try:
        prepare()
    except SchemaNotCurrent as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
def worker() -> None:
    """Run a queue consumer only (scale-out: any number, sharing the database and queue)."""
    from plugin.worker import run_worker

    settings = _settings()
    _configure_logging(settings)
    _prepare_database(lambda: run_worker(settings))


@main.group(name="db")
def db_group() -> None:
    """Database schema."""


@db_group.command()
def upgrade() -> None:
    """Apply Alembic migrations up to the newest."""
    from plugin import db

    settings = _settings()
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    click.echo(f"database at revision {db.current_revision(engine)}")


@main.group(name="app")
def app_group() -> None:
    """The Zendesk sidebar app (manifest.json, translations/, assets/ at the project root)."""


@app_group.command(name="package")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Zip to write; default dist/amends-zendesk-app-<version>.zip.")
def app_package(output: str | None) -> None:
    """Validate the app like Zendesk does, then build the zip to upload as a private app."""
    from plugin.connectors import zendesk_app

    try:
        path, report = zendesk_app.package(Path(output) if output else None)
    except zendesk_app.InvalidAppPackage as exc:
        for error in exc.errors:
            click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None
    except OSError as exc:
        raise click.ClickException(f"cannot build the app package: {exc}") from None
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote {path}")


@main.group(name="rules")
def rules_group() -> None:
    """Mapping rules and letters as one YAML document (the console's Import / export page).

    They act on the account the console uses: AMENDS_ZENDESK_SUBDOMAIN, else the account
    connected in the console, else "default"."""


def _rules_target():
    from plugin.core.rules_layer import load_rules
    from plugin.services.accounts import settled_console_account

    settings = _settings()
    engine = _prepared_engine(settings)
    try:
        base = load_rules(settings.rules_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return engine, base, *settled_console_account(settings, engine, actor="cli")  # rules made under "default" move


@rules_group.command(name="export")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
def rules_export(file: str | None) -> None:
    """Write the complete rules document to FILE, or to standard output."""
    from plugin.services import rulebook

    engine, base, helpdesk, account = _rules_target()
    try:
        book = rulebook.load(engine, base, helpdesk, account)
    except ConfigError as exc:
        raise click.ClickException(f"the stored rules cannot be read: {exc}") from None
    finally:
        engine.dispose()
    text = rulebook.export(book)
    if not file:
        click.echo(text, nl=False)
        return
    try:
        Path(file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {file}: {exc}") from None
    click.echo(f"wrote {file}: rules of {helpdesk}/{account}, version {book.version}", err=True)


@rules_group.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def rules_import(file: str) -> None:
    """Validate FILE and make it the rules; on any error exit 1, naming the line, and change nothing."""
    from plugin.services import rulebook

    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {file}: {exc}") from None
    engine, base, helpdesk, account = _rules_target()
    try:
        book, changed = rulebook.import_document(engine, base, helpdesk, account, text, actor="cli", source=file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"imported {file} into {helpdesk}/{account}: version {book.version}" if changed
               else f"{file} matches the rules of {helpdesk}/{account} (version {book.version}); nothing changed")


@main.command()
@click.option("--ticket", "ticket_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help='Zendesk "show ticket" response with include=users,organizations.')
@click.option("--category", default=None, help="Skip the classifier and use this category id.")
@click.option("--audience", type=click.Choice(AUDIENCES), default=None,
              help="Override the rule's audience.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the note.")
def draft(ticket_file: str, category: str | None, audience: str | None, as_json: bool) -> None:
    """Draft the note for one ticket, without touching Zendesk: as the pipeline would post it for the
    console's account (its rules, corrections and repeat memory, when the database exists)."""
    import json

    from plugin.core.rules import CATEGORIES
    from plugin.services.drafting import draft as make_draft
    from plugin.services.drafting import load_ticket_file

    settings = _settings()
    if category and category not in CATEGORIES + ("other",):
        raise click.BadParameter(f"unknown category {category!r}; one of: {', '.join(CATEGORIES)}",
                                 param_hint="--category")
    try:
        data = load_ticket_file(ticket_file)
    except ValueError as exc:
        raise click.ClickException(f"{ticket_file} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("ticket"), dict):
        raise click.ClickException(f'{ticket_file}: expected a Zendesk show-ticket response {{"ticket": {{...}}}}')
    try:
        result = make_draft(data, settings, category=category, audience=audience)
    except (ConfigError, LetterOverBudget) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result, ensure_ascii=False) if as_json else result["note"])


@main.command(name="classify")
@click.argument("text", required=False)
@click.option("--jsonl", "jsonl", type=click.File("r", encoding="utf-8"), default=None,
              help='Lines {"id", "subject", "description"}; "-" reads standard input.')
def classify_command(text: str | None, jsonl) -> None:
    """Classify TEXT, or every line of a JSONL file (one JSON result per line, in order)."""
    import json

    from plugin.core.classify import default_classifier

    if (text is None) == (jsonl is None):
        raise click.UsageError('give either TEXT or --jsonl FILE')
    classifier = default_classifier()
    if text is not None:
        c = classifier.classify("", text)
        click.echo(f"{c.category} {c.confidence:.2f}")
        return
    out = click.get_text_stream("stdout")
    for number, line in enumerate(jsonl, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise click.ClickException(f"line {number}: not JSON ({exc})") from None
        c = classifier.classify(str(row.get("subject") or ""), str(row.get("description") or ""))
        out.write(json.dumps({"id": row.get("id"), "category": c.category, "confidence": c.confidence,
                              "runner_up": c.runner_up, "evidence": list(c.evidence), "decision": c.decision,
                              "candidates": [[name, score] for name, score in c.candidates]}) + "\n")


@main.command()
@click.option("--helpdesk", default="zendesk", show_default=True)
@click.option("--account", default=None, help="Account (subdomain); default AMENDS_ZENDESK_SUBDOMAIN.")
def train(helpdesk: str, account: str | None) -> None:
    """Retrain an account's classifier with its agents' corrections (also builds the base model)."""
    from plugin.core.classify import base_model
    from plugin.core.inputs import is_account, is_helpdesk
    from plugin.services import learning

    settings = _settings()
    _configure_logging(settings)
    account = account or settings.zendesk_subdomain
    if not account:
        raise click.UsageError("name the account with --account or AMENDS_ZENDESK_SUBDOMAIN")
    if not is_account(account) or not is_helpdesk(helpdesk):
        raise click.BadParameter("an account is a helpdesk subdomain: lowercase letters, digits and hyphens",
                                 param_hint="--account" if not is_account(account) else "--helpdesk")
    base_model()
    engine = _prepared_engine(settings)
    used = learning.train_account(engine, helpdesk, account)
    click.echo(f"{helpdesk}/{account}: trained with {used} correction(s)" if used
               else f"{helpdesk}/{account}: no corrections yet; the base model is ready")


@main.command()
@click.option("--older-than", "days", required=True, type=click.IntRange(min=1), metavar="DAYS",
              help="Remove customer text older than this many days (1 or more).")
def purge(days: int) -> None:
    """Remove customer text older than DAYS now (the worker does it daily with AMENDS_RETENTION_DAYS)."""
    from plugin.services import retention

    settings = _settings()
    _configure_logging(settings)
    engine = _prepared_engine(settings)
    click.echo(retention.summary(retention.purge(engine, days)))


@main.command(name="lint")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def lint_command(paths: tuple[str, ...]) -> None:
    """Lint letters: the shipped templates (no PATH), or the given templates (.j2) and letters."""
    from plugin.core.letters import lint_letter_file, lint_template, shipped_templates
    from plugin.core.rules import default_rules

    targets = [Path(p) for p in paths] or shipped_templates()
    checked = []
    for path in targets:
        checked += lint_template(path, default_rules()) if path.name.endswith(".j2") else [lint_letter_file(path)]
    bad = [c for c in checked if c.findings]
    for c in bad:
        for f in c.findings:
            click.echo(f"{c.where}: {f.code}: {f.message} (at {f.start}-{f.end})")
    words = sorted(c.words for c in checked)
    click.echo(f"{len(targets)} file(s), {len(checked)} rendering(s) checked, {len(bad)} with findings; "
               f"words min {words[0]}, median {words[len(words) // 2]}, max {words[-1]}" if words else "nothing to lint")
    if bad:
        raise SystemExit(1)


def _warn_if_unconfigured(settings: Settings, host: str, port: int) -> None:
    """The console's URL, then what the console and Zendesk still miss (plugin/services/setup_check.py)."""
    from plugin import db
    from plugin.services.setup_check import console_url, startup_report

    engine = db.make_engine(settings.database_url)
    for level, line in startup_report(settings, engine, console_url(host, port)):
        log.log(level, line)
    engine.dispose()


class _Gunicorn:
    """gunicorn's documented embedding API: https://docs.gunicorn.org/en/stable/custom.html"""

    def __init__(self, settings: Settings, bind: str, on_stop: Callable[[], None]):
        from gunicorn.app.base import BaseApplication
        from gunicorn.arbiter import Arbiter

        outer = self

        class StopTellingArbiter(Arbiter):
            def stop(self, graceful=True):  # called only when the server goes down, before it waits
                on_stop()
                super().stop(graceful)

        class App(BaseApplication):
            def run(self):  # BaseApplication.run with our arbiter
                try:
                    StopTellingArbiter(self).run()
                except RuntimeError as exc:
                    print(f"\nError: {exc}\n", file=sys.stderr)
                    sys.exit(1)

            def load_config(self):
                self.cfg.set("bind", bind)
                self.cfg.set("workers", settings.web_workers)
                self.cfg.set("threads", settings.web_threads)
                self.cfg.set("worker_class", "gthread")
                self.cfg.set("timeout", 30)
                self.cfg.set("graceful_timeout", 10)
                from plugin.observability import child_exit, gunicorn_logger_class

                self.cfg.set("accesslog", "-")  # our logger class sends it to stderr
                self.cfg.set("logger_class", gunicorn_logger_class(settings))
                self.cfg.set("child_exit", child_exit)
                # gunicorn's admin control socket is one fixed path per user: two
                # services on one machine would fight over it, and we do not use it.
                self.cfg.set("control_socket_disable", True)

            def load(self):
                from plugin import create_app

                # The master migrated already; workers only open connections.
                return create_app(outer.settings, migrate=False)

        self.settings = settings
        self.app = App()

    def run(self) -> None:
        self.app.run()


if __name__ == "__main__":
    main()
