"""Every shipped letter: exact output for a realistic ticket, and clean lint in every variant.

Fixtures: tests/fixtures/tickets/<category>.<audience>.json is a Zendesk "show ticket"
response (include=users,organizations); <category>.<audience>.letter.txt is the expected
"Subject: ..." line and letter. `python tests/fixtures/tickets/regen.py` rewrites the
expected files after a deliberate wording change (read the diff before committing).
"""

from datetime import datetime, timezone
from pathlib import Path

import pytest

from plugin.connectors.zendesk import ticket_from_show_response
from plugin.core.compose import Options, compose, environment
from plugin.core.rules import CATEGORIES
from plugin.models import Classification
from tests.fixtures.tickets.regen import CASES, FIXTURES, draft_letter

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "apologies" / "en"
PAIRS = [(c, a) for c in CATEGORIES for a in ("customer", "client")]


def test_a_letter_exists_for_every_category_and_audience():
    missing = [f"{c}.{a}" for c, a in PAIRS if not (TEMPLATES / f"{c}.{a}.txt.j2").is_file()]
    assert missing == []


def test_every_pair_has_an_exact_output_fixture():
    assert sorted(CASES) == sorted(PAIRS)


@pytest.mark.parametrize("category, audience", sorted(CASES))
def test_exact_letter(category, audience):
    expected = (FIXTURES / f"{category}.{audience}.letter.txt").read_text()
    assert draft_letter(category, audience) == expected


@pytest.mark.parametrize("category, audience", PAIRS)
@pytest.mark.parametrize("tone", ["warm", "formal"])
@pytest.mark.parametrize("no_fault", [False, True])
@pytest.mark.parametrize("repeat", [False, True])
def test_every_variant_lints_clean(category, audience, tone, no_fault, repeat):
    from plugin.models import Previous

    ticket = ticket_from_show_response(CASES.get((category, audience)) or CASES[("delivery_delay", audience)])
    previous = Previous("1", datetime(2026, 11, 1, tzinfo=timezone.utc), category) if repeat else None
    s = compose(ticket, Classification(category, 0.9), "m", audience=audience, tone=tone, no_fault=no_fault,
                previous=previous, options=Options(company_name="Northwind Goods"))
    assert s.lint == (), [f.message for f in s.lint]
    words = len(s.letter.split())
    assert 60 <= words <= 250
    if repeat:
        assert "won't happen again" not in s.letter.lower() and "will not happen again" not in s.letter.lower()


def test_templates_compile_in_the_sandbox():
    env = environment()
    for path in TEMPLATES.glob("*.txt.j2"):
        env.get_template(f"apologies/en/{path.name}")


def test_no_sentence_copied_from_the_seeds():
    seeds = Path(__file__).resolve().parents[2] / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip(f"guidance not found at {seeds}")
    import re

    seed_text = " ".join(p.read_text() for p in seeds.glob("*.txt")).lower()
    seed_text = re.sub(r"[’']", "'", seed_text)
    copied = []
    for path in TEMPLATES.glob("*.txt.j2"):
        text = re.sub(r"\{[{%#].*?[}%#]\}", " ", path.read_text())
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            words = re.findall(r"[a-z']+", sentence.lower().replace("’", "'"))
            # any run of eight words in a row found in the seeds counts as copying
            for i in range(len(words) - 7):
                if " ".join(words[i:i + 8]) in " ".join(re.findall(r"[a-z']+", seed_text)):
                    copied.append(f"{path.name}: {' '.join(words[i:i + 8])}")
                    break
    assert copied == []


def test_lint_is_clean_for_shipped_templates_via_cli():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "plugin.cli", "lint"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
