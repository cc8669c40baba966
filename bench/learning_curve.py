"""What agents' corrections buy: one account's ticket stream, corrected as an agent would.

    .venv/bin/python bench/learning_curve.py [FILE] [--checkpoints 0,100,200,300] [--examples DIR] [--seed N]
                                             [--ceiling]

FILE (default ../shared/eval/dev2.jsonl) is walked in a fixed order (a seeded shuffle, seed 10
unless --seed gives another: the rest of the stream is small, so other orders show the spread) as
one account's stream. Each message is classified by the account's current model, as the pipeline
would (rules' thresholds applied); every suggestion an agent would correct — a wrong category's
letter, a general letter, a note on a non-complaint, or a complaint with no note — becomes a
correction through the same code path as the product: POST /api/feedback (bearer token) on a
real Flask app with its own temporary SQLite database. At each checkpoint the account's model
is retrained as the worker does (plugin.services.learning.train_account). Once the last checkpoint is
reached, every checkpoint's model is measured on the same rest of the stream (the messages after
that point): coverage, noise, specific precision, right-specific (as bench/classify_eval.py), and
"best guess right": complaints whose best-guess category is right, whatever the decision (what the
corrections taught the model, before the thresholds decide which letter is posted).

--ceiling adds one more model: the base examples plus *every* message before the rest with its
true label, weighted as corrections are (plugin.services.learning) — as if the agents had labelled
the whole stream, right suggestions included. It bounds what any retraining on this stream can buy:
if even that model gains little on the rest, fewer and harder corrections cannot gain more.

Only a temporary account model inside this run is trained; nothing shipped changes.
Target (issue #10): right-specific on the rest at least +0.10 after 300 corrections.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from classify_eval import note_figures  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "eval" / "dev2.jsonl"
HELPDESK, ACCOUNT, TOKEN = "zendesk", "learning-bench", "bench-token"


def needs_correction(gold: str, c) -> bool:
    """What an agent would change: the wrong letter, a general one, a note on a non-complaint,
    or no note on a complaint."""
    if gold == "other":
        return c.decision != "none"
    return c.decision != "specific" or c.category != gold


def run(rows: list[dict], checkpoints: list[int], examples: list[tuple[str, str]] | None = None,
        seed: int = 10, out=print, ceiling: bool = False) -> dict[int | str, dict[str, float]]:
    """Figures per checkpoint (corrections -> figures on the rest), and under "ceiling" those of
    the model trained on every message before the rest, when `ceiling` is set."""
    from plugin import create_app
    from plugin.config import load_settings
    from plugin.core.classify import Classifier, base_model, join
    from plugin.core.classify.model import train
    from plugin.core.decision import with_rules
    from plugin.core.rules import default_rules
    from plugin.services import learning

    stream = list(rows)
    random.Random(seed).shuffle(stream)
    rules = default_rules()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env_file=Path(tmp) / "absent.env", database_url=f"sqlite:///{tmp}/amends.db",
                                 queue_url=f"sqlite:///{tmp}/queue.db", api_token=TOKEN,
                                 zendesk_subdomain=ACCOUNT, retrain_after=max(1, min(c for c in checkpoints if c)))
        app = create_app(settings)
        engine = app.extensions["amends"].engine
        client = app.test_client()
        base = Classifier(base_model(examples))
        models = {0: base}
        current, corrections, position = base, 0, len(stream)
        targets = [c for c in sorted(checkpoints) if c > 0]
        for i, row in enumerate(stream):
            if not targets:
                position = i
                break
            c = with_rules(current.classify(row.get("subject") or "", row["description"]), rules)
            if not needs_correction(row["category"], c):
                continue
            answer = client.post("/api/feedback", headers={"Authorization": f"Bearer {TOKEN}"}, json={
                "kind": "correction", "ticket_id": str(100000 + i), "account": ACCOUNT,
                "from_category": c.category, "category": row["category"],
                "subject": row.get("subject") or "", "description": row["description"]})
            if answer.status_code != 201:
                raise SystemExit(f"feedback refused: {answer.status_code} {answer.get_json()}")
            corrections += 1
            if corrections == targets[0]:
                learning.train_account(engine, HELPDESK, ACCOUNT, base_examples=examples)
                current = models[corrections] = learning.account_classifier(engine, HELPDESK, ACCOUNT, base)
                targets.pop(0)
                out(f"{corrections} corrections after {i + 1} messages; retrained")
        if targets:
            out(f"the stream ran out at {corrections} corrections; checkpoints {targets} not reached")
        rest = stream[position:]
        app.extensions["amends"].engine.dispose()
    out(f"measured on the rest of the stream: {len(rest)} messages "
        f"({sum(r['category'] != 'other' for r in rest)} complaints)")
    figures: dict[int | str, dict[str, float]] = {}
    for count, classifier in sorted(models.items()):
        figures[count] = _measure(classifier, rest, rules)
        out(f"after {count:>4} corrections: " + _line(figures[count]))
    if len(figures) > 1:
        first, last = min(figures), max(figures)
        gain = figures[last]["right-specific"] - figures[first]["right-specific"]
        out(f"right-specific gain after {last} corrections: {gain:+.3f}   (target >= +0.10 after 300)")
    if ceiling:
        labelled = [(join(r.get("subject") or "", r["description"]), r["category"]) for r in stream[:position]]
        model = train(learning.training_set(labelled, examples))
        figures["ceiling"] = _measure(Classifier(model, base.phrases, base.calibration, base.other_shift), rest, rules)
        out(f"ceiling, all {position} messages before the rest labelled: " + _line(figures["ceiling"]))
        gain = figures["ceiling"]["right-specific"] - figures[0]["right-specific"]
        out(f"right-specific gain with every one of them labelled: {gain:+.3f}")
    return figures


def _measure(classifier, rest: list[dict], rules) -> dict[str, float]:
    from plugin.core.decision import with_rules

    readings = [with_rules(classifier.classify(r.get("subject") or "", r["description"]), rules) for r in rest]
    figures = note_figures([r["category"] for r in rest], [c.category for c in readings],
                           [c.decision for c in readings])
    # What the corrections taught, whatever the decision: the best guess right on a complaint.
    guesses = [c.candidates[0][0] if c.candidates else c.category for c in readings]
    complaints = [g == r["category"] for g, r in zip(guesses, rest) if r["category"] != "other"]
    figures["best guess right"] = sum(complaints) / len(complaints) if complaints else 0.0
    return figures


def _line(figures: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.3f}" for k, v in figures.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(DEFAULT))
    parser.add_argument("--checkpoints", default="0,100,200,300")
    parser.add_argument("--examples", default=None, help="train the base model on this examples folder instead")
    parser.add_argument("--seed", type=int, default=10, help="the stream's order (a seeded shuffle)")
    parser.add_argument("--ceiling", action="store_true",
                        help="also train on every message before the rest, labelled: the most retraining could buy")
    args = parser.parse_args()
    from plugin.core.classify import load_examples

    rows = [json.loads(line) for line in Path(args.file).read_text().splitlines() if line.strip()]
    examples = load_examples(Path(args.examples)) if args.examples else None
    run(rows, [int(x) for x in args.checkpoints.split(",")], examples, seed=args.seed, ceiling=args.ceiling)


if __name__ == "__main__":
    main()
