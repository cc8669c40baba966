"""What the console made under the account "default" moves to the real account once there is one.

Until AMENDS_ZENDESK_SUBDOMAIN is set or an account is connected, the console and `amends rules`
work on ("zendesk", "default"). Of the tables with an account, only two are written there: the
rules document (`rule_documents`, which also holds the incidents and commitments) and the audit log.
Events, deliveries, suggestions, feedback, outcomes and account models come from webhooks and the
sidebar, whose account is the connector's (the subdomain, else the connected one, else empty), never
"default"; connections are keyed by the subdomain being connected.

Every change here is one transaction that first takes the carry-over lock (an advisory lock on
PostgreSQL; on SQLite a write, which makes other writers wait), so two processes doing it at once
move everything once: the second finds nothing left. Nothing is deleted without a copy: a rules
document replaced or discarded is kept whole in the audit entry's `before`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from plugin.db.console import add_audit, rule_document
from plugin.db.engine import writing
from plugin.db.schema import audit_log, rule_documents

DEFAULT_ACCOUNT = "default"
_PG_LOCK_KEY = 727275  # pg_advisory_xact_lock key of the carry-over (727274 is the migrations')
# What the admin may choose when both accounts have rules.
REPLACE, DISCARD = "replace", "discard"


@dataclass(frozen=True)
class Leftovers:
    """What lies under "default" that the real account does not see."""

    rules: dict | None  # the default's rules document row (version, document, updated_at, updated_by)
    audit_entries: int
    own_rules: dict | None  # the real account's own rules document row, if any

    @property
    def any(self) -> bool:
        return self.rules is not None or self.audit_entries > 0

    @property
    def conflict(self) -> bool:
        """Both have rules: carrying over would overwrite the account's, so the admin chooses."""
        return self.rules is not None and self.own_rules is not None


@dataclass(frozen=True)
class CarriedOver:
    rules_version: int | None = None  # the moved document's version under the real account
    audit_entries: int = 0
    discarded_version: int | None = None  # the default document dropped (kept in the audit entry)
    conflict: bool = False  # nothing moved: the account has rules of its own (the admin chooses)

    @property
    def moved(self) -> bool:
        return self.rules_version is not None or self.audit_entries > 0 or self.discarded_version is not None


def _default_audit_count(conn: sa.Connection, helpdesk: str) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(
        audit_log.c.helpdesk == helpdesk, audit_log.c.account == DEFAULT_ACCOUNT)).scalar_one()


def has_default_leftovers(engine: Engine, helpdesk: str) -> bool:
    """The cheap check made on console requests: two primary-key/index lookups, no write."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(sa.literal(1)).where(sa.or_(
            sa.exists().where(rule_documents.c.helpdesk == helpdesk, rule_documents.c.account == DEFAULT_ACCOUNT),
            sa.exists().where(audit_log.c.helpdesk == helpdesk, audit_log.c.account == DEFAULT_ACCOUNT),
        ))).first()
    return found is not None


def default_leftovers(engine: Engine, helpdesk: str, account: str) -> Leftovers:
    with engine.connect() as conn:
        return Leftovers(rule_document(engine, helpdesk, DEFAULT_ACCOUNT, conn), _default_audit_count(conn, helpdesk),
                         rule_document(engine, helpdesk, account, conn) if account != DEFAULT_ACCOUNT else None)


def _lock(conn: sa.Connection, helpdesk: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    else:  # a write as the first statement: SQLite gives it the one write lock, with a fresh snapshot
        conn.execute(rule_documents.update().where(rule_documents.c.helpdesk == helpdesk,
                                                   rule_documents.c.account == DEFAULT_ACCOUNT)
                     .values(version=rule_documents.c.version))


def carry_over_default(engine: Engine, helpdesk: str, account: str, actor: str, choice: str = "",
                       now: float | None = None) -> CarriedOver:
    """Move the default's rules document and audit entries to `account`, in one transaction.

    With no `choice`, only when `account` has no rules of its own (else nothing moves and the
    result says `conflict`). `choice` REPLACE puts the default's document in place of the account's;
    DISCARD drops the default's document; either way the audit entries move and the document that
    goes is kept whole in the audit entry. Running it again finds nothing left and does nothing."""
    if account == DEFAULT_ACCOUNT or choice not in ("", REPLACE, DISCARD):
        raise ValueError(f"cannot carry over to {account!r} with choice {choice!r}")
    now = now or time.time()
    try:
        with writing(engine) as conn:
            _lock(conn, helpdesk)
            theirs = rule_document(engine, helpdesk, DEFAULT_ACCOUNT, conn)
            own = rule_document(engine, helpdesk, account, conn)
            if theirs is not None and own is not None and not choice:
                return CarriedOver(conflict=True)
            if theirs is None and choice:
                return CarriedOver()  # someone decided first
            moved_version = discarded = None
            before: dict = {"account": DEFAULT_ACCOUNT}
            default_row = (rule_documents.c.helpdesk == helpdesk, rule_documents.c.account == DEFAULT_ACCOUNT)
            if theirs is not None and choice == DISCARD:
                conn.execute(rule_documents.delete().where(*default_row))
                discarded, before["discarded_document"] = theirs["version"], theirs["document"]
            elif theirs is not None:
                if own is not None:  # REPLACE: the account's document goes, kept in the audit entry
                    conn.execute(rule_documents.delete().where(rule_documents.c.helpdesk == helpdesk,
                                                               rule_documents.c.account == account))
                    before["replaced_document"] = own["document"]
                # A version the account never had, so every process's cached rules reload.
                moved_version = max(theirs["version"], own["version"] if own else 0) + (1 if own else 0)
                conn.execute(rule_documents.update().where(*default_row).values(account=account,
                                                                               version=moved_version))
            audit_moved = conn.execute(audit_log.update().where(
                audit_log.c.helpdesk == helpdesk, audit_log.c.account == DEFAULT_ACCOUNT,
            ).values(account=account)).rowcount
            result = CarriedOver(moved_version, audit_moved, discarded)
            if result.moved:
                after = {"account": account, "rules_document_version": moved_version,
                         "audit_entries": audit_moved, "discarded_default_rules_version": discarded}
                add_audit(engine, helpdesk, account, actor[:255], "account.carried_over", account,
                          json.dumps(before), json.dumps(after), now=now, conn=conn)
            return result
    except IntegrityError:
        # The account's first rules were saved between our read and our move: ask the admin.
        return CarriedOver(conflict=True)
