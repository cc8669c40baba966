"""Per-account learning: agents' corrections retrain that account's classifier.

The base examples plus the account's corrections (each counted several times, so a
handful of them outweigh our generic wording) train a model that only that account
uses. Training runs in the worker (`amends.train`, queued after enough new
corrections) or from `amends train`; classifying only loads the result.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

from plugin import db
from plugin.core import inputs
from plugin.core.classify import Classifier, default_classifier, load_examples, model_cache_dir
from plugin.core.classify.model import LinearModel, fingerprint, train

log = logging.getLogger(__name__)
CORRECTION_WEIGHT = 3
_loaded: dict[tuple[str, str, str], Classifier] = {}
_lock = threading.Lock()


def _path(helpdesk: str, account: str, fp: str):
    """The account's model file. The names go into a file name, so only the strict patterns
    pass: an account of `../` segments would otherwise put the file outside the cache folder."""
    if not (inputs.is_helpdesk(helpdesk) and inputs.is_account(account)):
        raise ValueError(f"not a helpdesk account name: {helpdesk[:40]!r}/{account[:70]!r}")
    return model_cache_dir() / f"account-{helpdesk}-{account}-{fp}.npz"


def training_set(corrections: list[tuple[str, str]],
                  base: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """The base examples (ours unless `base` is given) plus each correction CORRECTION_WEIGHT times."""
    return (load_examples() if base is None else base) + [pair for pair in corrections
                                                          for _ in range(CORRECTION_WEIGHT)]


def train_account(engine: Engine, helpdesk: str, account: str,
                  base_examples: list[tuple[str, str]] | None = None) -> int:
    """Retrain one account's model from its corrections; returns how many were used.
    `base_examples` replaces the shipped examples (bench/learning_curve.py on a small fixture)."""
    corrections = db.corrections(engine, helpdesk, account)
    if not corrections:
        return 0
    examples = training_set(corrections, base_examples)
    fp = fingerprint(examples)
    path = _path(helpdesk, account, fp)
    if not path.is_file():
        train(examples).save(path)
    db.record_account_model(engine, helpdesk, account, fp, len(corrections))
    log.info("%s/%s: classifier retrained with %d correction(s)", helpdesk, account, len(corrections))
    return len(corrections)


def pending(engine: Engine, helpdesk: str, account: str) -> int:
    """Corrections not yet in the account's model."""
    record = db.account_model(engine, helpdesk, account)
    return len(db.corrections(engine, helpdesk, account)) - (record["corrections"] if record else 0)


def classifier_for(engine: Engine, helpdesk: str, account: str, phrases: tuple = ()) -> Classifier:
    """The account's classifier; `phrases` (Rules.classifier_phrases()) adds the rules' extra
    phrases and custom categories to its phrase layer."""
    return _account_classifier(engine, helpdesk, account).with_phrases(phrases)


def _account_classifier(engine: Engine, helpdesk: str, account: str) -> Classifier:
    record = db.account_model(engine, helpdesk, account)
    if record is None:
        return default_classifier()
    key = (helpdesk, account, record["fingerprint"])
    with _lock:
        if key not in _loaded:
            _loaded[key] = account_classifier(engine, helpdesk, account, default_classifier(), record)
        return _loaded[key]


def account_classifier(engine: Engine, helpdesk: str, account: str, base: Classifier,
                       record: dict | None = None) -> Classifier:
    """The account's model as last recorded, sharing `base`'s phrases and calibration. Not cached
    (`classifier_for` caches); bench/learning_curve.py passes a base trained on a small fixture."""
    record = record or db.account_model(engine, helpdesk, account)
    path = _path(helpdesk, account, record["fingerprint"])
    if not path.is_file():  # trained on another machine: rebuild it here once
        train(training_set(db.corrections(engine, helpdesk, account))).save(path)
    return Classifier(LinearModel.load(path), base.phrases, base.calibration, base.other_shift)
