"""An account's rules as the worker, the console and the CLI see them, and the one way to
change them.

Effective rules = shipped defaults <- AMENDS_RULES_FILE <- the console document stored for
the account (`rule_documents`). The stored document holds only what differs from the first
two, so the file keeps applying underneath whatever the console did not touch.

Every change is checked in full before anything is written: the document that would be
stored is parsed back (all validation, every changed letter rendered in the sandbox) and
must give exactly the intended rules. Then the document and its audit entry (before and
after) are written in one transaction, guarded by the version read at the start; if
someone saved in between, the change is made again on the newer rules. A bad change
raises RulesError and writes nothing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

from sqlalchemy.engine import Engine

from plugin import db
from plugin.core.rules import Rules, RulesError
from plugin.core.rules_document import dump
from plugin.core.rules_layer import loads
from plugin.errors import ConfigError

log = logging.getLogger(__name__)
ATTEMPTS = 5


@dataclass(frozen=True)
class Book:
    version: int  # of the stored document; 0: none yet
    base: Rules  # defaults <- AMENDS_RULES_FILE
    rules: Rules  # base <- the console document
    problem: str = ""  # why the stored document could not be used (lenient loads only)


def source_name(helpdesk: str, account: str) -> str:
    return f"console rules for {helpdesk}/{account}"


def load(engine: Engine, base: Rules, helpdesk: str, account: str, strict: bool = True) -> Book:
    """The account's rules. Not strict: a stored document that no longer validates (the base
    changed under it) gives the base rules and the reason, so the next save can replace it."""
    row = db.rule_document(engine, helpdesk, account)
    if row is None:
        return Book(0, base, base)
    try:
        return Book(row["version"], base, loads(row["document"], base, source=source_name(helpdesk, account)))
    except RulesError as exc:
        if strict:
            raise
        return Book(row["version"], base, base, problem=str(exc))


def effective_rules(engine: Engine, base: Rules, helpdesk: str, account: str) -> Rules:
    return load(engine, base, helpdesk, account).rules


def export(book: Book) -> str:
    """The complete document: every category and field, letters only where changed."""
    return dump(book.rules, book.base, complete=True)


def change(engine: Engine, base: Rules, helpdesk: str, account: str, edit: Callable[[Rules], Rules], *,
           actor: str, action: str, target: str, describe: Callable[[Rules], str]) -> tuple[Book, bool]:
    """Apply `edit` to the account's current rules and store the result. `describe` gives the
    audit log's before/after text. Returns (the new book, whether anything changed)."""
    for _ in range(ATTEMPTS):
        book = load(engine, base, helpdesk, account, strict=False)
        new = edit(book.rules)
        if new == book.rules:
            return book, False
        document = dump(new, base, complete=False)
        if loads(document, base, source=source_name(helpdesk, account)) != new:
            raise RuntimeError("the rules document does not read back as written")  # a bug, never user input
        version = db.save_rule_document(engine, helpdesk, account, document, expect_version=book.version,
                                        actor=actor, action=action, target=target, before=describe(book.rules),
                                        after=describe(new))
        if version is not None:
            log.info("%s/%s: rules version %d (%s %s by %s)", helpdesk, account, version, action, target, actor)
            return Book(version, base, new), True
    raise RulesError("the rules kept changing under this edit; reload and try again",
                     source=source_name(helpdesk, account))


def import_document(engine: Engine, base: Rules, helpdesk: str, account: str, text: str, *, actor: str,
                    source: str = "import") -> tuple[Book, bool]:
    """Replace the account's console document with `text` (applied over the base). Atomic: a
    document with any error raises RulesError naming the line, and nothing changes."""
    imported = loads(text, base, source=source)
    return change(engine, base, helpdesk, account, lambda _current: imported, actor=actor, action="rules.import",
                  target="rules document", describe=lambda rules: dump(rules, base, complete=True))


class Rulebooks:
    """The effective rules per account for one process (the web app or a worker), cached. One
    cheap query per use (the document's version) notices a save made in the console or the CLI
    by any process, so no restart is needed."""

    def __init__(self, engine: Engine, base: Rules):
        self.engine = engine
        self.base = base  # defaults <- AMENDS_RULES_FILE: what the console's documents apply over
        self._books: dict[tuple[str, str], Book] = {}
        self._lock = threading.Lock()

    def rules_for(self, helpdesk: str, account: str) -> Rules:
        version = db.rule_document_version(self.engine, helpdesk, account)
        book = self._books.get((helpdesk, account))
        if book is None or book.version != version:
            try:
                book = load(self.engine, self.base, helpdesk, account)
            except ConfigError as exc:  # stored before a stricter check, or the base changed under it
                log.error("%s/%s: console rules unusable, using the base rules: %s", helpdesk, account, exc)
                book = Book(version, self.base, self.base)
            with self._lock:
                self._books[(helpdesk, account)] = book
        return book.rules
