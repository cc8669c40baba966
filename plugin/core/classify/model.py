"""The statistical layer: TF-IDF word n-grams + multinomial logistic regression.

Trained with scikit-learn on the examples we wrote (plugin/core/classify/examples/), then
exported to plain arrays, so classifying needs only numpy: no scikit-learn import,
small memory, and one ticket in tens of microseconds.

Beside it, a second opinion: Complement Naive Bayes on the same word features, a model of
another kind (counts per class rather than a fitted boundary). It does not vote on the
category; where it picks another category, the logistic model's category is right far less
often on our held-out examples (about 0.6 against 0.96), so the calibration lowers its
confidence there (calibration.py). It is linear too: one more matrix row lookup per ticket.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
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


def _word_grams(word: str) -> list[str]:
    padded = f" {word} "
    return [padded[i:i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1)]


def char_features(text: str) -> list[str]:
    """Character 3- to 5-grams inside each word (padded with spaces): they survive typos
    ("recieved", "cancelled flightled") that word features miss."""
    return [gram for word in tokens(text) for gram in _word_grams(word)]


_EMPTY_INDEX = np.empty(0, dtype=np.intp)
_EMPTY_WEIGHT = np.empty(0)


@dataclass
class LinearModel:
    """Two blocks of tf-idf features, each l2-normalised on its own (as two TfidfVectorizers
    side by side), then one linear layer. Char-block indices follow the word block's."""

    classes: list[str]
    vocabulary: dict[str, int]  # word n-grams
    idf: np.ndarray  # (n_features,) both blocks
    coef: np.ndarray  # (n_features, n_classes)
    intercept: np.ndarray  # (n_classes,)
    char_vocabulary: dict[str, int] = field(default_factory=dict)
    # (n_word_features, n_classes): Complement Naive Bayes's weights on the word block, if trained
    second_coef: np.ndarray | None = None
    _char_cache: dict[str, list[int]] = field(default_factory=dict, repr=False, compare=False)

    def _char_indices(self, word: str) -> list[int]:
        """A word's known character n-grams, cached: most words recur, so the slicing and
        lookups happen once per word rather than once per ticket."""
        found = self._char_cache.get(word)
        if found is None:
            get = self.char_vocabulary.get
            found = [i for gram in _word_grams(word) if (i := get(gram)) is not None]
            if len(self._char_cache) > 200_000:  # bound the memory on endless new words
                self._char_cache.clear()
            self._char_cache[word] = found
        return found

    def scores(self, text: str, words: list[str] | None = None) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Logits per class, and the known word features with their tf-idf weights (for evidence
        and for `second_opinion`).

        Both blocks (word n-grams, character n-grams) go through numpy together: sublinear tf
        times idf, then each block l2-normalised on its own, as two TfidfVectorizers side by side."""
        words = tokens(text) if words is None else words  # the caller may have tokenised already
        get = self.vocabulary.get
        word_counts = Counter([i for f in words if (i := get(f)) is not None])
        word_counts.update([i for a, b in zip(words, words[1:]) if (i := get(f"{a} {b}")) is not None])
        counts = dict(word_counts)
        split = len(counts)  # word features first, then character features (disjoint indices)
        if self.char_vocabulary:
            counts.update(Counter([i for word in words for i in self._char_indices(word)]))
        if not counts:
            return self.intercept.copy(), (_EMPTY_INDEX, _EMPTY_WEIGHT)
        index = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        weight = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        weight = (1.0 + np.log(weight)) * self.idf[index]
        word_w, char_w = weight[:split], weight[split:]
        word_w /= np.sqrt(word_w @ word_w) or 1.0  # views: normalises `weight` in place
        char_w /= np.sqrt(char_w @ char_w) or 1.0
        return self.intercept + weight @ self.coef[index], (index[:split], word_w)

    def second_opinion(self, weights: tuple[np.ndarray, np.ndarray], exclude: int | None = None) -> int | None:
        """The class the Naive Bayes second opinion picks (never `exclude`, e.g. `other`), from the
        word weights `scores` returned; None without a second model or without known words."""
        index, values = weights
        if self.second_coef is None or not len(index):
            return None
        votes = values @ self.second_coef[index]
        if exclude is not None:
            votes[exclude] = -np.inf
        return int(votes.argmax())

    def contributions(self, weights: tuple[np.ndarray, np.ndarray], class_index: int, top: int = 4) -> list[str]:
        """The features that pushed most towards one class: the evidence an admin can read."""
        index, values = weights
        if not len(index):
            return []
        pushes = (values * self.coef[index, class_index]).tolist()
        inverse = self._inverse()
        names = []
        for push, i in sorted(zip(pushes, index.tolist()), reverse=True):
            if push <= 0.05 or len(names) == top:
                break
            name = inverse[i]
            if not set(name.split()) <= FUNCTION_WORDS:
                names.append(name)
        return names

    def warm(self) -> None:
        """Fill the caches before the first ticket (about 30 ms): the known words' character
        n-grams and the index -> feature names used for evidence."""
        for feature in self.vocabulary:
            if " " not in feature:
                self._char_indices(feature)
        self._inverse()

    def _inverse(self) -> dict[int, str]:
        if not hasattr(self, "_inv"):
            self._inv = {i: f for f, i in self.vocabulary.items()}
        return self._inv

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")  # one per writer
        np.savez_compressed(tmp, classes=np.array(self.classes), vocabulary=np.array(json.dumps(self.vocabulary)),
                            char_vocabulary=np.array(json.dumps(self.char_vocabulary)), idf=self.idf,
                            coef=self.coef.astype(np.float32), intercept=self.intercept,
                            **({} if self.second_coef is None else {"second_coef": self.second_coef}))
        tmp.replace(path)  # atomic: a reader never sees half a model

    @classmethod
    def load(cls, path: Path) -> "LinearModel":
        with np.load(path, allow_pickle=False) as data:
            return cls(classes=[str(c) for c in data["classes"]], vocabulary=json.loads(str(data["vocabulary"])),
                       idf=data["idf"], coef=data["coef"].astype(np.float64), intercept=data["intercept"],
                       char_vocabulary=json.loads(str(data["char_vocabulary"])),
                       second_coef=data["second_coef"] if "second_coef" in data.files else None)


def train(examples: Iterable[tuple[str, str]], c: float = 30.0) -> LinearModel:
    """Fit on (text, category) pairs. Imports scikit-learn only here."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import ComplementNB

    texts, labels = zip(*examples)
    words = TfidfVectorizer(analyzer=features, sublinear_tf=True)
    chars = TfidfVectorizer(analyzer=char_features, sublinear_tf=True, min_df=2)
    word_matrix = words.fit_transform(texts)
    matrix = hstack([word_matrix, chars.fit_transform(texts)]).tocsr()
    second = ComplementNB(alpha=SECOND_ALPHA).fit(word_matrix, labels)
    classifier = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    classifier.fit(matrix, labels)
    classes = [str(x) for x in classifier.classes_]
    coef = classifier.coef_.T if len(classes) > 2 else np.hstack([-classifier.coef_.T, classifier.coef_.T])
    intercept = classifier.intercept_ if len(classes) > 2 else np.array([-classifier.intercept_[0],
                                                                          classifier.intercept_[0]])
    offset = len(words.vocabulary_)
    return LinearModel(classes=classes, vocabulary={k: int(v) for k, v in words.vocabulary_.items()},
                       idf=np.concatenate([words.idf_, chars.idf_]).astype(np.float64),
                       coef=np.asarray(coef, dtype=np.float64), intercept=np.asarray(intercept, dtype=np.float64),
                       char_vocabulary={k: int(v) + offset for k, v in chars.vocabulary_.items()},
                       second_coef=second.feature_log_prob_.T.astype(np.float32))


# Complement Naive Bayes smoothing: the value with the best accuracy on a held-out fifth of our
# examples among 0.1, 0.3 and 1.0 (0.874, 0.884, 0.873 on the complaints).
SECOND_ALPHA = 0.3
# Bump when features, training settings or the file layout change: cached models then retrain.
FORMAT = "3-word12-char345-c30-cnb03"


def fingerprint(examples: Iterable[tuple[str, str]]) -> str:
    digest = hashlib.sha256(FORMAT.encode())
    for text, label in examples:
        digest.update(label.encode() + b"\0" + text.encode() + b"\n")
    return digest.hexdigest()[:16]
