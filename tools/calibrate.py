"""Fit the classifier's calibration and default thresholds on our own held-out examples.

    .venv/bin/python tools/calibrate.py            # writes plugin/core/classify/calibration.json

Five folds over plugin/core/classify/examples/ (stratified, fixed order): each fold's model is
trained on the other four and scores the fold it never saw. On those out-of-fold scores:
- Platt scaling for "is it a complaint?" (raw 1 - P(other)) and for "which category, given it
  is one?" (raw P(best) / (1 - P(other))), each a one-feature logistic regression; the complaint
  question has a second one fitted on the short examples alone (at most SHORT_WORDS words);
- the complaint threshold: where, on calibrated probabilities, a note's expected cost equals no note's,
  with a missed complaint costing MISSED_COMPLAINT_COST times a needless note (a general letter on a
  message that needed none costs the agent a glance; a complaint with no note costs an apology);
- per category, the lowest specific threshold whose held-out precision for that category is
  >= SPECIFIC_PRECISION (never below SPECIFIC_FLOOR).
No evaluation data (../shared/eval) is read here. Rerun after changing the examples: a test
checks that calibration.json names the examples' current fingerprint.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugin.core.classify import Classifier, load_examples  # noqa: E402
from plugin.core.classify.calibration import CALIBRATION_FILE, SHORT_WORDS, Calibration, Platt, _logit  # noqa: E402
from plugin.core.classify.model import fingerprint, tokens, train  # noqa: E402

FOLDS = 5
MISSED_COMPLAINT_COST = 3.0
SPECIFIC_PRECISION = 0.90
SPECIFIC_FLOOR = 0.40
GRID = [round(0.05 * i, 2) for i in range(1, 20)]


def folds(examples: list[tuple[str, str]], k: int = FOLDS) -> list[int]:
    """Fold number per example: round-robin within each category, so every fold has each."""
    seen: dict[str, int] = defaultdict(int)
    out = []
    for _, label in examples:
        out.append(seen[label] % k)
        seen[label] += 1
    return out


def _fold_scores(args) -> list[tuple[str, float, str, float, int]]:
    examples, assigned, fold = args
    model = train([e for e, f in zip(examples, assigned) if f != fold])
    identity = Calibration(complaint_threshold=0.0, specific_threshold=0.0)
    classifier = Classifier(model, calibration=identity)
    rows = []
    for (text, label), f in zip(examples, assigned):
        if f == fold:
            c = classifier.classify("", text)
            if not c.candidates:  # not English: no scores to calibrate
                continue
            best, p_best = c.candidates[0]
            rows.append((label, c.complaint, best, p_best, len(tokens(text))))
    return rows


def out_of_fold(examples: list[tuple[str, str]]) -> list[tuple[str, float, str, float, int]]:
    """(gold, raw complaint score, best category, raw category score, words) for every example."""
    assigned = folds(examples)
    with ProcessPoolExecutor(max_workers=2) as pool:
        parts = pool.map(_fold_scores, [(examples, assigned, f) for f in range(FOLDS)])
    return [row for part in parts for row in part]


def fit_platt(raw: list[float], truth: list[bool]) -> Platt:
    from sklearn.linear_model import LogisticRegression

    x = [[_logit(r)] for r in raw]
    model = LogisticRegression(C=1.0).fit(x, truth)
    return Platt(a=round(float(model.coef_[0][0]), 4), b=round(float(model.intercept_[0]), 4))


def choose(rows, cal: Calibration) -> tuple[float, dict[str, float], float]:
    scored = [(gold, cal.complaint_probability(rc, words), best, cal.category(rb))
              for gold, rc, best, rb, words in rows]
    complaint_threshold = round(1 / (1 + MISSED_COMPLAINT_COST), 3)  # note when p * cost >= (1 - p)
    per_category: dict[str, float] = {}
    for name in sorted({best for _, _, best, _ in scored}):
        mine = [(gold == name, pb) for gold, pc, best, pb in scored if best == name and gold != "other"]
        per_category[name] = 0.95
        for t in GRID:
            if t < SPECIFIC_FLOOR:
                continue
            hits = [right for right, pb in mine if pb >= t]
            if hits and sum(hits) / len(hits) >= SPECIFIC_PRECISION:
                per_category[name] = t
                break
    return complaint_threshold, per_category, SPECIFIC_FLOOR


def reliability(rows, cal: Calibration) -> dict:
    """Held-out precision per confidence band, for each question: the calibration's evidence."""
    bands = [(0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01)]
    table = {"complaint": [], "category": [], "short_complaint": []}

    def band(flags: list[bool]) -> list:
        return [lo, min(hi, 1.0), len(flags), round(sum(flags) / len(flags), 3) if flags else None]

    for lo, hi in bands:
        complaint = [(gold != "other", words) for gold, rc, _, _, words in rows
                     if lo <= cal.complaint_probability(rc, words) < hi]
        table["complaint"].append(band([c for c, _ in complaint]))
        table["short_complaint"].append(band([c for c, words in complaint if words <= cal.short_words]))
        table["category"].append(band([gold == best for gold, _, best, rb, _ in rows
                                       if gold != "other" and lo <= cal.category(rb) < hi]))
    return table


def main() -> None:
    examples = load_examples()
    rows = out_of_fold(examples)
    complaint = fit_platt([r[1] for r in rows], [r[0] != "other" for r in rows])
    short = [r for r in rows if r[4] <= SHORT_WORDS]
    short_complaint = fit_platt([r[1] for r in short], [r[0] != "other" for r in short])
    complaints = [r for r in rows if r[0] != "other"]
    category = fit_platt([r[3] for r in complaints], [r[0] == r[2] for r in complaints])
    scalings = Calibration(complaint=complaint, category=category, short_complaint=short_complaint)
    complaint_threshold, per_category, default = choose(rows, scalings)
    cal = Calibration(complaint=complaint, category=category, complaint_threshold=complaint_threshold,
                      specific_threshold=default, specific_thresholds=tuple(sorted(per_category.items())),
                      fingerprint=fingerprint(examples), short_complaint=short_complaint)
    data = cal.to_dict()
    data["held_out"] = {"examples": len(rows), "short_examples": len(short), "folds": FOLDS,
                        "reliability": reliability(rows, cal)}
    CALIBRATION_FILE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps(data, indent=1, sort_keys=True))
    print(f"wrote {CALIBRATION_FILE}")


if __name__ == "__main__":
    sys.exit(main())
