"""Letters checked before anyone uses them: every template rendered in all its variants (tone,
fault wording, repeat state, sample tickets) and linted, and a letter's source refused when it
does not compile or render in the sandbox. `amends lint`, the rules import and the console's
template check all use these. Pure: no storage, no web."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from itertools import product
from pathlib import Path

from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from plugin.core.budget import CHECK_SECONDS, CHECK_STEPS, Budget, active, metered
from plugin.core.compose import Options, compose
from plugin.core.lint import Finding, lint
from plugin.core.paths import TEMPLATES_DIR
from plugin.core.rules import CATEGORIES, GENERAL_LETTER, CategoryRule, Compensation, Incident, Rules
from plugin.errors import LetterOverBudget
from plugin.models import AUDIENCES, TONES, Classification, Person, Previous, Ticket

SAMPLE_TICKETS = (
    Ticket(id="1", subject="A problem with my order", description="Please help me with this.",
           requester=Person(id="1", name="Alex Morgan")),
    Ticket(id="2", subject="Order #A1234 from the 3rd of March",
           description="I ordered a blue kettle on March 3rd and paid $45.50 for it.",
           requester=Person(id="2", name="Jordan Lee"), organization="Lee & Partners",
           assignee=Person(name="Sam Rivera")),
)


@dataclass(frozen=True)
class Checked:
    where: str
    words: int
    findings: tuple[Finding, ...]


def lint_template(path: Path, rules: Rules) -> list[Checked]:
    """Render one template in each tone, fault wording, repeat state and sample ticket; lint each."""
    category, audience = _category_and_audience(path)
    return lint_source(path.read_text(), category, audience, rules, where=str(path))


def lint_source(source: str, category: str, audience: str, rules: Rules, where: str = "template") -> list[Checked]:
    return [Checked(f"{where} [{variant}]", len(s.letter.split()), s.lint)
            for variant, s in _variants(source, category, audience, rules)]


def _variants(source: str, category: str, audience: str, rules: Rules):
    previous = Previous("1", datetime(2026, 1, 1, tzinfo=timezone.utc), category)
    for ticket, tone, no_fault, repeat in product(SAMPLE_TICKETS, TONES, (False, True),
                                                  (False, True)):
        s = compose(ticket, Classification(category, 1.0), "lint", rules=rules, options=Options(),
                    audience=audience, tone=tone, no_fault=no_fault, previous=previous if repeat else None,
                    template_source=source)
        yield f"{tone}{', no-fault' if no_fault else ''}{', repeat' if repeat else ''}, ticket {ticket.id}", s


@dataclass(frozen=True)
class TemplateProblem:
    line: int | None  # in the template source
    message: str


def check_template(source: str, category: str, audience: str, rules: Rules | None = None) -> TemplateProblem | None:
    """Why this letter cannot be used (it does not compile, or fails to render in the sandbox in
    some variant: unknown variable, unsafe attribute, ...), or None. Lint findings are not problems.

    Every variant is rendered twice: with no facts from the rules, and with all of them (remedy,
    prevention, an active incident, compensation in the letter), so that a branch such as
    `{% if remedy %}` is checked before an admin fills the remedy in. The outcome depends only on
    the source, the category and the audience, so it is cached: a stored document is re-read
    (by every worker, after every save) without rendering its letters again.

    Each rendering has its own budget (plugin/core/sandbox.py) and all of them share CHECK_STEPS
    and CHECK_SECONDS, so a letter that loops or builds far too much is refused in well under a
    second, and one that passes renders each ticket far within its budget. The steps it took are
    then charged to the budget in force (a document's), the same whether the check was cached."""
    try:
        problem, steps = _check(source, category, audience)
        if problem is None:
            active().step(steps)
    except LetterOverBudget as exc:  # the clock ran out (not cached: another machine may be faster),
        return template_problem(exc)  # or the document's budget did
    return problem


RENDERINGS = 2 * len(SAMPLE_TICKETS) * len(TONES) * 2 * 2  # rules bare and filled, then _variants


@lru_cache(maxsize=512)
def _check(source: str, category: str, audience: str) -> tuple[TemplateProblem | None, int]:
    """(why the letter cannot be used or None, the steps its renderings took)."""
    budget = Budget(steps=CHECK_STEPS, seconds=CHECK_SECONDS, scope=f" over its {RENDERINGS} test renderings")
    try:
        with metered(budget, alone=True):
            _render_variants(source, category, audience)
    except LetterOverBudget as exc:
        if exc.timed:
            raise
        return template_problem(exc), budget.used_steps
    except Exception as exc:  # whatever the sandbox raises, the letter is refused with it
        return template_problem(exc), budget.used_steps
    return None, budget.used_steps


def _render_variants(source: str, category: str, audience: str) -> None:
    bare = CategoryRule(label="Label")
    filled = CategoryRule(label="Label", remedy="We have put it right.", prevention="We changed how we work.",
                          compensation=Compensation(kind="credit", amount=10, currency="EUR", in_letter=True))
    incident = Incident(category, "Something outside our control happened.", "Everyone affected gets a credit.")
    for rules in (Rules({category: bare}), Rules({category: filled}, (incident,))):
        for _ in _variants(source, category, audience, rules):
            pass


def template_problem(exc: Exception) -> TemplateProblem:
    """The line (of the letter's own source) and message of a compile or render error."""
    if isinstance(exc, TemplateSyntaxError):
        return TemplateProblem(exc.lineno, exc.message or str(exc))
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == "<template>"]
    plain = isinstance(exc, (SecurityError, UndefinedError, LetterOverBudget))
    message = str(exc) if plain else f"{exc.__class__.__name__}: {exc}"
    return TemplateProblem(lines[-1] if lines else None, message)


def lint_letter_file(path: Path) -> Checked:
    """A plain letter (e.g. an edited draft): 'Subject: ...' on its first line, then the letter."""
    text = path.read_text()
    first, _, rest = text.partition("\n")
    subject = first.removeprefix("Subject:").strip() if first.startswith("Subject:") else None
    letter = rest.strip() if subject is not None else text.strip()
    return Checked(str(path), len(letter.split()), tuple(lint(letter, subject=subject)))


def shipped_templates() -> list[Path]:
    """Every letter we ship, the generic one for custom categories included (not the shared frame
    and its partials: `_base`, `_asks`, ...)."""
    return sorted(p for p in (TEMPLATES_DIR / "apologies" / "en").glob("*.txt.j2") if is_letter(p))


def is_letter(path: Path) -> bool:
    """A letter template, not the shared frame or one of its partials (`_base`, `_asks`, ...);
    `_custom.*` is the letter of custom categories."""
    return not path.name.startswith("_") or path.name.startswith("_custom.")


def _category_and_audience(path: Path) -> tuple[str, str]:
    parts = path.name.split(".")
    category = (parts[0] if parts[0] in CATEGORIES or parts[0] == GENERAL_LETTER
                else "custom" if parts[0] == "_custom" else "delivery_delay")
    audience = parts[1] if len(parts) > 1 and parts[1] in AUDIENCES else "customer"
    return category, audience
