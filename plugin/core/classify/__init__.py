"""The classifier: ticket text -> category, confidence, runner-up, margin, evidence, secondary. Pure.

Two layers an admin can reason about: weighted phrases (phrases.py) and a linear
model trained on the examples we wrote (model.py, examples/). Their scores add up;
a softmax turns them into probabilities, calibrated on examples the model had not
seen (calibration.py); a model of another kind (Naive Bayes, model.py) gives a second
opinion on the category, and where it disagrees the category's probability is lower.
Then the decision: no note (`none`, category `other`) for non-complaints and other
languages; the category's letter (`specific`) when the category is clear; the general
letter (`general`) for a complaint whose category is not: a wrong category's letter is
worse than a general one.

Custom categories (added by an admin, see plugin/core/rules.py) have no class in the model,
so they are scored by their phrases alone: when at least one of a custom category's
phrases is in the ticket (net weight above 0), it joins the softmax with the score of
the model's best complaint class before phrase boosts, plus its phrases' weights. It
therefore wins only when its phrases outweigh the phrases the built-in categories found,
and it must still beat `other` and clear the threshold and margin. Without one of its
phrases it is not scored at all, so it never wins without one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
from pathlib import Path

from plugin.core.classify import language
from plugin.core.classify.calibration import Calibration
from plugin.core.classify.calibration import load as load_calibration
from plugin.core.classify.model import LinearModel, fingerprint, tokens, train
from plugin.core.classify.phrases import PhraseLayer
from plugin.models import NONE, Classification

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).parent / "examples"
# Our examples hold three non-complaints for every complaint category's worth; this
# shifts the prior back so a complaint phrased as a question is not lost to `other`.
# Chosen on a held-out fifth of our own examples (other precision >= 0.90 there).
OTHER_PRIOR_SHIFT = -0.5
SECONDARY_MIN = 0.03  # the model must see the second complaint too (its probability), not only a phrase
# A ticket tag that names a category (set by a helpdesk form or trigger) is a strong nudge, as an
# admin's phrase is (DEFAULT_PHRASE_WEIGHT in plugin/core/rules.py); the words still decide against it.
TAG_WEIGHT = 2.0


def load_examples(directory: Path = EXAMPLES_DIR) -> list[tuple[str, str]]:
    """(text, category) pairs from examples/<category>.jsonl, in a stable order."""
    pairs = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                # examples/<category>.jsonl, or <category>.<topic>.jsonl for a themed supplement
                pairs.append((join(row.get("subject", ""), row.get("description", "")), path.name.split(".")[0]))
    return pairs


def join(subject: str, description: str) -> str:
    return f"{subject}\n{description}".strip()


def model_cache_dir() -> Path:
    here = Path(__file__).parent / ".model-cache"
    try:
        here.mkdir(exist_ok=True)
        if os.access(here, os.W_OK):
            return here
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / "amends-model-cache"


def base_model(examples: list[tuple[str, str]] | None = None) -> LinearModel:
    """Load the model for these examples, training it once if no cached copy exists."""
    examples = examples if examples is not None else load_examples()
    path = model_cache_dir() / f"base-{fingerprint(examples)}.npz"
    if path.is_file():
        return LinearModel.load(path)
    log.info("training the classifier on %d examples", len(examples))
    model = train(examples)
    model.save(path)
    return model


class Classifier:
    def __init__(self, model: LinearModel, phrases: PhraseLayer | None = None,
                 calibration: Calibration | None = None, other_shift: float = OTHER_PRIOR_SHIFT):
        self.model = model
        model.warm()
        self.phrases = phrases or PhraseLayer.build()
        self.calibration = calibration if calibration is not None else load_calibration()
        self.other_shift = other_shift
        self.classes = model.classes
        self.other = self.classes.index("other") if "other" in self.classes else None
        self.index = {category: i for i, category in enumerate(self.classes)}
        self._variants: dict[tuple, Classifier] = {}

    def with_phrases(self, extra: tuple) -> "Classifier":
        """This classifier with the rules' extra phrases ((category, ((phrase, weight), ...)), ...)
        added to its phrase layer; the model is shared. Cached per `extra`."""
        if not extra:
            return self
        found = self._variants.get(extra)
        if found is None:
            if len(self._variants) > 32:  # rules change rarely; old variants are dropped
                self._variants.clear()
            found = self._variants[extra] = Classifier(self.model, self.phrases.extended(extra), self.calibration,
                                                       self.other_shift)
        return found

    def classify(self, subject: str, description: str, tags: tuple[str, ...] = ()) -> Classification:
        text = join(subject, description)
        lang = language.detect(text)
        if lang != "en":
            return Classification("other", 0.9, evidence=(f"language: {language.name(lang)}",), complaint=0.0)
        words = tokens(text)
        logits, weights = self.model.scores(text, words)
        model_logits = logits.tolist()
        # Tags (e.g. set by a Zendesk form: "late_delivery") can only add phrase evidence;
        # the model sees the customer's words alone, as it was trained.
        tag_text = " ".join(t.replace("_", " ").replace("-", " ") for t in tags if not t.startswith("amends_"))
        boosts, found, other_boost = self.phrases.score(f"{text}\n{tag_text}" if tag_text else text)
        for category in _named_by_tags(tags, self.index):  # e.g. a form's "problem type" set "damaged_item"
            boosts[category] = boosts.get(category, 0.0) + TAG_WEIGHT
            found.setdefault(category, []).append(f"tag {category}")
        scores = list(model_logits)
        names = self.classes
        custom = []
        for category, boost in boosts.items():
            if (i := self.index.get(category)) is not None:
                scores[i] += boost
            elif boost > 0 and found.get(category):
                custom.append((category, boost))
        if custom:  # see the module docstring
            best_complaint = max(x for i, x in enumerate(model_logits) if i != self.other)
            names = list(self.classes) + [category for category, _ in custom]
            scores += [best_complaint + boost for _, boost in custom]
        if self.other is not None:
            scores[self.other] += other_boost + self.other_shift
        probs = softmax(scores)
        cal = self.calibration
        raw_complaint = 1.0 - (probs[self.other] if self.other is not None else 0.0)
        complaint = cal.complaint_probability(raw_complaint, len(words))
        ranked = sorted((i for i in range(len(probs)) if i != self.other), key=probs.__getitem__, reverse=True)
        best = ranked[0]
        # The second opinion only judges the model's own classes (a custom category has no class).
        disputed = best < len(self.classes) and self.model.second_opinion(weights, self.other) not in (None, best)
        candidates = tuple((names[i], round(cal.category_probability(probs[i] / raw_complaint, disputed), 3))
                           for i in ranked[:3])
        p_best = candidates[0][1]
        runner_up = candidates[1][0] if len(candidates) > 1 else ""
        margin = p_best - (candidates[1][1] if len(candidates) > 1 else 0.0)
        learned = self.model.contributions(weights, best) if best < len(self.classes) else []
        evidence = tuple(dict.fromkeys(found.get(names[best], []) + learned))[:5]
        decision = cal.decide(complaint, names[best], p_best)
        if decision == NONE:
            reads_as_other = self.other is not None and probs[self.other] >= probs[best]
            reason = "reads as a question or request" if reads_as_other else "not sure enough"
            return Classification("other", round(1.0 - complaint, 3), runner_up=names[best], margin=round(margin, 3),
                                  evidence=(reason,) + evidence[:3], decision=NONE, candidates=candidates,
                                  complaint=round(complaint, 3), disputed=disputed)
        # A second complaint: another category the phrases name outright, that the model also sees.
        named = [i for c in found if (i := self.index.get(c)) is not None and i != best]
        secondary = ""
        if named:
            model_probs = softmax(model_logits)
            named = [i for i in named if model_probs[i] >= SECONDARY_MIN]
            secondary = self.classes[max(named, key=model_probs.__getitem__)] if named else ""
        return Classification(names[best], p_best, runner_up=runner_up, margin=round(margin, 3),
                              evidence=evidence, secondary=secondary, decision=decision, candidates=candidates,
                              complaint=round(complaint, 3), disputed=disputed)


def _named_by_tags(tags: tuple[str, ...], index: dict[str, int]) -> list[str]:
    """Complaint categories a ticket tag names exactly ("damaged_item", "damaged-item")."""
    named = {tag.strip().lower().replace("-", "_") for tag in tags}
    return sorted(c for c in named if c in index and c != "other")


def softmax(scores: list[float]) -> list[float]:
    """On a list of ~18 floats plain Python beats numpy's per-call overhead."""
    high = max(scores)
    exps = [math.exp(x - high) for x in scores]
    total = sum(exps)
    return [x / total for x in exps]


_default: Classifier | None = None
_lock = threading.Lock()


def default_classifier() -> Classifier:
    global _default
    with _lock:
        if _default is None:
            _default = Classifier(base_model())
        return _default


def classify(subject: str, description: str, tags: tuple[str, ...] = ()) -> Classification:
    return default_classifier().classify(subject, description, tags)
