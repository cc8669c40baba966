"""The statistical layer: TF-IDF word n-grams + multinomial logistic regression.

Trained with scikit-learn on the examples we wrote (plugin/classify/examples/), then
exported to plain arrays, so classifying needs only numpy: no scikit-learn import,
small memory, and one ticket in tens of microseconds.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
HANDLE = re.compile(r"@\w+")
URL = re.compile(r"https?://\S+")


# Words that carry no evidence on their own; a bigram of only these is skipped too.
FUNCTION_WORDS = frozenset(
    "a an the i me my we our you your it its is are was were be been am to of in on at for with and or but "
    "so this that these those have has had do does did not no just s t".split()
)


def tokens(text: str) -> list[str]:
    text = URL.sub(" ", HANDLE.sub(" ", text.lower().replace("’", "'")))
    return TOKEN.findall(text)


def features(text: str) -> list[str]:
    """Unigrams and bigrams; the same analyzer at training and at prediction."""
    words = tokens(text)
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


@dataclass
class LinearModel:
    classes: list[str]
    vocabulary: dict[str, int]
    idf: np.ndarray  # (n_features,)
    coef: np.ndarray  # (n_features, n_classes)
    intercept: np.ndarray  # (n_classes,)

    def scores(self, text: str) -> tuple[np.ndarray, dict[str, float]]:
        """Logits per class, and each known feature's tf-idf weight (for evidence)."""
        counts: dict[int, int] = {}
        for feature in features(text):
            index = self.vocabulary.get(feature)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        if not counts:
            return self.intercept.copy(), {}
        indices = np.fromiter(counts, dtype=np.int64, count=len(counts))
        # sublinear tf, then l2 normalisation, as TfidfVectorizer(sublinear_tf=True) does
        weights = np.array([1.0 + math.log(c) for c in counts.values()]) * self.idf[indices]
        weights /= np.linalg.norm(weights) or 1.0
        logits = weights @ self.coef[indices] + self.intercept
        return logits, dict(zip(indices.tolist(), weights.tolist()))

    def contributions(self, weights: dict[int, float], class_index: int, top: int = 4) -> list[str]:
        """The features that pushed most towards one class: the evidence an admin can read."""
        if not weights:
            return []
        inverse = self._inverse()
        scored = sorted(((w * self.coef[i, class_index], inverse[i]) for i, w in weights.items()
                         if not set(inverse[i].split()) <= FUNCTION_WORDS), reverse=True)
        return [name for value, name in scored[:top] if value > 0.05]

    def _inverse(self) -> dict[int, str]:
        if not hasattr(self, "_inv"):
            self._inv = {i: f for f, i in self.vocabulary.items()}
        return self._inv

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        vocab = json.dumps(self.vocabulary)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, classes=np.array(self.classes), vocabulary=np.array(vocab), idf=self.idf,
                            coef=self.coef.astype(np.float32), intercept=self.intercept)
        tmp.replace(path)  # atomic: a reader never sees half a model

    @classmethod
    def load(cls, path: Path) -> "LinearModel":
        with np.load(path, allow_pickle=False) as data:
            return cls(classes=[str(c) for c in data["classes"]], vocabulary=json.loads(str(data["vocabulary"])),
                       idf=data["idf"], coef=data["coef"].astype(np.float64), intercept=data["intercept"])


def train(examples: Iterable[tuple[str, str]], c: float = 30.0) -> LinearModel:
    """Fit on (text, category) pairs. Imports scikit-learn only here."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts, labels = zip(*examples)
    vectorizer = TfidfVectorizer(analyzer=features, sublinear_tf=True, min_df=1)
    matrix = vectorizer.fit_transform(texts)
    classifier = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    classifier.fit(matrix, labels)
    classes = [str(x) for x in classifier.classes_]
    coef = classifier.coef_.T if len(classes) > 2 else np.hstack([-classifier.coef_.T, classifier.coef_.T])
    intercept = classifier.intercept_ if len(classes) > 2 else np.array([-classifier.intercept_[0],
                                                                          classifier.intercept_[0]])
    return LinearModel(classes=classes, vocabulary={k: int(v) for k, v in vectorizer.vocabulary_.items()},
                       idf=vectorizer.idf_.astype(np.float64), coef=np.asarray(coef, dtype=np.float64),
                       intercept=np.asarray(intercept, dtype=np.float64))


def fingerprint(examples: Iterable[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for text, label in examples:
        digest.update(label.encode() + b"\0" + text.encode() + b"\n")
    return digest.hexdigest()[:16]
