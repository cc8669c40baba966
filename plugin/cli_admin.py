"""`amends admin add|remove|list`: the named admins of the console (plugin.services.admins).

Passwords come on standard input only (never an argument, which `ps` and shell history would
show) and are never printed or logged. plugin.cli registers the group."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from plugin.errors import ConfigError


def _engine():
    """The settings' database, migrated first like the other commands do (or, with
    AMENDS_MIGRATE_ON_START=false, checked to be at this version's schema)."""
    from plugin import db
    from plugin.config import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    engine = db.make_engine(settings.database_url)
    try:
        db.prepare(engine, settings.migrate_on_start)
    except ConfigError as exc:  # SchemaNotCurrent: the message names `amends db upgrade`
        raise click.ClickException(str(exc)) from None
    return settings, engine


def _read_password() -> str:
    """One line of standard input, without its line ending; typed at a terminal, not echoed."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, err=True)
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


def _when(at: float | None) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if at else "never"


@click.group(name="admin")
def admin_group() -> None:
    """Named admins of the console, each signing in with their own name and password.

    Once one exists, the shared AMENDS_ADMIN_PASSWORD no longer opens the console: it is only
    the bootstrap while there is no named admin."""


@admin_group.command(name="add")
@click.argument("name")
@click.option("--password-stdin", "password_stdin", is_flag=True,
              help="Read the password from standard input (one line).")
def admin_add(name: str, password_stdin: bool) -> None:
    """Add the admin NAME; the password (12 characters or more) comes on standard input."""
    from plugin.services import admins

    if not password_stdin:
        raise click.UsageError("give the password on standard input with --password-stdin, "
                               "e.g. `amends admin add NAME --password-stdin < file`")
    password = _read_password()
    problem = admins.name_problem(name)
    if problem:
        raise click.ClickException(problem)
    settings, engine = _engine()
    try:
        admins.add(engine, settings, name, password)
    except admins.AdminRefused as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"added admin {name}; the shared AMENDS_ADMIN_PASSWORD no longer opens the console")


@admin_group.command(name="remove")
@click.argument("name")
def admin_remove(name: str) -> None:
    """Remove the admin NAME and end their open sessions at once."""
    from plugin.services import admins

    settings, engine = _engine()
    try:
        name, ended = admins.remove(engine, settings, name)
        left = admins.listing(engine)
    except admins.AdminRefused as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"removed admin {name}; {ended} open session(s) ended")
    if not left:
        click.echo("no named admin is left: the console takes AMENDS_ADMIN_PASSWORD again"
                   + ("" if settings.admin_password else " (unset, so the console is off)"))


@admin_group.command(name="list")
def admin_list() -> None:
    """The named admins: name, when added, last sign-in (never their password hashes)."""
    from plugin.services import admins

    _settings, engine = _engine()
    try:
        rows = admins.listing(engine)
    finally:
        engine.dispose()
    if not rows:
        click.echo("no named admins: the console takes the shared AMENDS_ADMIN_PASSWORD (bootstrap)")
        return
    width = max(len("NAME"), *(len(row["name"]) for row in rows))
    click.echo(f"{'NAME':<{width}}  {'ADDED':<20}  LAST SIGN-IN")
    for row in rows:
        click.echo(f"{row['name']:<{width}}  {_when(row['created_at']):<20}  {_when(row['last_sign_in_at'])}")
