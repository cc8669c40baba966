"""What our classifier examples cover: per file, and per category by kind of company.

    .venv/bin/python tools/examples_coverage.py           # print the coverage table
    .venv/bin/python tools/examples_coverage.py --write   # also refresh examples/README.md

The kind of company is read from each example's words by the keyword lists below (the first
list that matches wins, most specific first), so it is an approximation a reader can check, not
a label. `--write` refreshes the README's example counts (per category and per file) and the
coverage table between its markers; a test fails when the README is out of date.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugin.core.classify import EXAMPLES_DIR, load_examples  # noqa: E402

# (column, words): most specific first; a message matching none is "general".
KINDS: tuple[tuple[str, str], ...] = (
    ("airline & travel", r"flights?|airlines?|airport|boarding|luggage|baggage|layover|cabin crew|pilot|"
                         r"trains?|railway|rail|bus|coach|route|lounge|hotel|check-in|booking ref"),
    ("rides", r"rides?|cab|taxi|uber|lyft|chauffeur"),
    ("food delivery", r"restaurant|food|meal|pizza|burger|fries|takeaway|delivery partner|rider|grocer(?:y|ies)|"
                      r"curry|biryani|sushi|coffee|dinner|lunch|breakfast"),
    ("telecom & internet", r"internet|wi-?fi|broadband|signal|mobile data|sim|router|modem|[45]g|"
                           r"network|carrier|data plan|fibre|fiber|landline"),
    ("streaming & games", r"stream(?:ing)?|episode|series|movie|film|playlist|podcast|games?|gaming|console|"
                          r"player|level|season pass|in-game|channels?|cable|dvr"),
    ("banks, cards & loans", r"bank|card|loan|mortgage|credit|debit|transfer|atm|overdraft|interest|"
                             r"statement|deposit|cheque|check|lender|collector|pin"),
    ("insurance & utilities", r"insurance|insurer|premium|electricity|electric|gas|water|energy|meter|utility|"
                              r"heating|boiler"),
    ("devices & software", r"phone|laptop|tablet|speaker|device|update|battery|screen|charger|headphones|"
                           r"earbuds|tv|smart|alexa|echo|camera|printer|software|firmware|remote|appliance|fridge|washer|"
                           r"dishwasher|purifier|vacuum|tracker|watch"),
    ("B2B services", r"project|deadline|milestone|contract|agency|vendor|deliverables?|scope|client|"
                     r"statement of work|sla|retainer|invoice|seats|audit|consultant|our team"),
    ("shops & couriers", r"parcel|package|courier|shipment|shipping|tracking|store|shop|item|order|"
                         r"delivery|delivered|purchase"),
    ("apps & websites", r"website|site|app|apps|login|log in|sign in|password|checkout|browser|online"),
)
_PATTERNS = tuple((name, re.compile(rf"\b(?:{words})\b")) for name, words in KINDS)
GENERAL = "general"
COLUMNS = tuple(name for name, _ in KINDS) + (GENERAL,)
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"


def kind_of_company(text: str) -> str:
    lowered = text.lower()
    return next((name for name, pattern in _PATTERNS if pattern.search(lowered)), GENERAL)


def coverage(examples: list[tuple[str, str]]) -> dict[str, Counter]:
    table: dict[str, Counter] = {}
    for text, category in examples:
        table.setdefault(category, Counter())[kind_of_company(text)] += 1
    return table


def markdown(table: dict[str, Counter]) -> str:
    lines = ["| category | " + " | ".join(COLUMNS) + " | all |",
             "|---|" + "---:|" * (len(COLUMNS) + 1)]
    for category in sorted(table):
        row = table[category]
        lines.append(f"| {category} | " + " | ".join(str(row[c]) for c in COLUMNS) + f" | {sum(row.values())} |")
    totals = Counter()
    for row in table.values():
        totals.update(row)
    lines.append("| **all** | " + " | ".join(str(totals[c]) for c in COLUMNS) + f" | {sum(totals.values())} |")
    return "\n".join(lines)


def refreshed_readme(readme: str, directory: Path = EXAMPLES_DIR) -> str:
    """The README with today's counts: the total and per category line, each file's count, the table."""
    examples = load_examples(directory)
    per_category = Counter(category for _, category in examples)
    summary = f"{len(examples):,} examples; per category: " + ", ".join(
        f"{c} {n}" for c, n in sorted(per_category.items(), key=lambda kv: (-kv[1], kv[0]))) + "."
    readme = re.sub(r"^[\d,]+ examples; per category: .*\.$", summary, readme, count=1, flags=re.M)
    for path in sorted(directory.glob("*.jsonl")):
        count = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        readme = re.sub(rf"^\| `{re.escape(path.name)}` \| \d+ \|", f"| `{path.name}` | {count} |", readme,
                        flags=re.M)
    table = markdown(coverage(examples))
    before, _, rest = readme.partition(START)
    _, _, after = rest.partition(END)
    return f"{before}{START}\n{table}\n{END}{after}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="refresh examples/README.md")
    args = parser.parse_args()
    print(markdown(coverage(load_examples())))
    if args.write:
        path = EXAMPLES_DIR / "README.md"
        path.write_text(refreshed_readme(path.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
