"""The rule editor's form <-> one category's fields in the rules document's shape, the sample
tickets for the live preview, short summaries for the rules table, and the account's rules read
and changed through the rulebook. No routes here: the values go through plugin.core.rules'
validation like any imported document."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import flash

from plugin.core import compensation as comp
from plugin.core.compose import LOCALE, shipped_source, template_name
from plugin.core.paths import PROJECT_ROOT, TEMPLATES_DIR
from plugin.core.rules import LETTER_AUDIENCES, CategoryRule, is_custom
from plugin.models import Person, Ticket
from plugin.services import rulebook
from plugin.web.admin.base import actor, helpdesk_account, runtime

SAMPLES = TEMPLATES_DIR / "admin" / "samples" / "tickets.json"
PASTED_LIMIT = 20_000


def parse_phrases(text: str) -> dict[str, Any]:
    """One phrase a line, optionally "= weight" (default: the rules' default weight). A weight that
    is not a number is passed on as written, so the validator names the phrase."""
    phrases: dict[str, Any] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        phrase, equals, weight = line.rpartition("=") if "=" in line else (line, "", "")
        phrases[phrase.strip() if equals else line] = weight.strip() if equals else None
    return phrases


def phrases_text(phrases: tuple[tuple[str, float], ...]) -> str:
    return "\n".join(f"{phrase} = {weight:g}" for phrase, weight in phrases)


def form_to_rule(form: dict[str, str], category: str) -> dict[str, Any]:
    """Every field of the editor except the letters, as the document would write them."""
    raw: dict[str, Any] = {
        "enabled": bool(form.get("enabled")),
        "audience": form.get("audience", "auto"),
        "tone": form.get("tone", "warm"),
        "no_fault": bool(form.get("no_fault")),
        "threshold": form.get("threshold", "").strip() or 0.0,
        "tags": [t for t in re.split(r"[\s,]+", form.get("tags", "")) if t],
        "remedy": form.get("remedy", ""),
        "prevention": form.get("prevention", ""),
        "compensation": {
            "kind": form.get("comp_kind", "").strip(),
            "amount": form.get("comp_amount", "").strip() or None,
            "currency": form.get("comp_currency", "").strip(),
            "cap": form.get("comp_cap", "").strip() or None,
            "repeat_amount": form.get("comp_repeat_amount", "").strip() or None,
            "in_letter": bool(form.get("comp_in_letter")),
        },
        "phrases": parse_phrases(form.get("phrases", "")),
    }
    if is_custom(category):
        raw["label"] = form.get("label", "")
    return raw


def templates_from_form(form: dict[str, str], category: str) -> dict[str, str]:
    """The letters that differ from the shipped ones (those equal to it are not stored)."""
    changed = {}
    for audience in LETTER_AUDIENCES:
        source = form.get(f"template_{audience}", "").replace("\r\n", "\n")
        if source.strip() and source.strip() != shipped_source(category, audience).strip():
            changed[audience] = source
    return changed


@lru_cache(maxsize=1)
def _samples() -> dict[str, list[dict[str, str]]]:
    return {k: v for k, v in json.loads(Path(SAMPLES).read_text(encoding="utf-8")).items() if isinstance(v, list)}


def samples_for(category: str) -> list[dict[str, str]]:
    return _samples().get(category) or _samples()["_custom"]


def preview_ticket(category: str, sample: str, pasted: str) -> Ticket | None:
    """A sample ticket by its index, or the pasted text (first line: the subject)."""
    if sample == "paste":
        text = pasted.replace("\r\n", "\n").strip()[:PASTED_LIMIT]
        if not text:
            return None
        subject, _, description = text.partition("\n")
        return Ticket(id="preview", subject=subject.strip(), description=description.strip() or subject.strip(),
                      requester=Person())
    items = samples_for(category)
    try:
        chosen = items[int(sample)]
    except (ValueError, IndexError):
        return None
    return Ticket(id="preview", subject=chosen["subject"], description=chosen["description"],
                  requester=Person(name=chosen.get("requester", "")), organization=chosen.get("organization", ""))


def letters_help(category: str) -> dict:
    """Where the shipped letters really are, for the editor's help: the folder `{% extends %}`
    names resolve in (relative to the project, and in full on this server), the README listing
    the variables, and the category's shipped file per audience."""
    project = TEMPLATES_DIR.relative_to(PROJECT_ROOT) if TEMPLATES_DIR.is_relative_to(PROJECT_ROOT) else TEMPLATES_DIR
    folder = project / "apologies" / LOCALE
    return {"folder": f"{folder.as_posix()}/", "full": f"{TEMPLATES_DIR / 'apologies' / LOCALE}/",
            "base": (folder / "_base.txt.j2").as_posix(), "readme": (folder.parent / "README.md").as_posix(),
            "files": {a: (project / template_name(category, a)).as_posix() for a in LETTER_AUDIENCES}}


def compensation_summary(category: str, rule: CategoryRule) -> str:
    c = rule.compensation
    ladder = comp.LADDER.get(category)
    kind = c.kind or (f"{ladder[0]} (default)" if ladder else "none")
    money = f"{c.currency} {c.amount:g}".strip() if c.amount is not None else ""
    parts = [kind.replace("_", " ")] + ([money] if money else []) + ([f"cap {c.cap:g}"] if c.cap is not None else [])
    return ", ".join(parts) + ("; in the letter" if c.in_letter else "")


# --- the account's rules, read and changed through the rulebook (the rules pages and transfer) ---

def book() -> rulebook.Book:
    helpdesk, account = helpdesk_account()
    found = rulebook.load(runtime().engine, runtime().rulebooks.base, helpdesk, account, strict=False)
    if found.problem:
        flash(f"The stored rules could not be used, so the base rules apply until the next save: "
              f"{found.problem}", "error")
    return found


def change(edit, action: str, target: str, describe) -> bool:
    """Apply `edit` to the account's rules; RulesError (nothing stored) goes to the caller."""
    helpdesk, account = helpdesk_account()
    _, changed = rulebook.change(runtime().engine, runtime().rulebooks.base, helpdesk, account, edit, actor=actor(),
                                 action=action, target=target, describe=describe)
    return changed
