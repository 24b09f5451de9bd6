"""A regression guard on a fixed sample of the spamassassin corpus (not the benchmark: that is
benchmarks/bayes_accuracy on the whole split)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from mailguard.bayes.model import BayesModel, Hasher
from mailguard.bayes.tokenizer import tokens
from mailguard.scan.message import ParsedMessage

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "spamassassin"


def sample(folder: str, n: int) -> list[np.ndarray]:
    files = sorted(p for p in (CORPUS / folder).iterdir() if p.is_file())[:n]
    return HASHER.slots_many([tokens(ParsedMessage.from_bytes(p.read_bytes())) for p in files])


HASHER = Hasher(20)


def test_accuracy_floor_on_a_corpus_sample():
    model = BayesModel(20)
    for slots in sample("spam", 150):
        model.learn(slots, True)
    for slots in sample("easy_ham", 150):
        model.learn(slots, False)
    spam = [model.score(s) for s in sample("spam_2", 100)]
    ham = [model.score(s) for s in sample("easy_ham_2", 100)]
    labels = [1] * len(spam) + [0] * len(ham)
    auc = roc_auc_score(labels, [s.log_odds for s in spam + ham])
    false_positives = sum(s.probability >= 0.9 for s in ham)
    caught = sum(s.probability >= 0.9 for s in spam)
    print(f"AUC {auc:.4f}, false positives {false_positives}/100, spam caught {caught}/100")
    assert auc >= 0.99
    assert false_positives <= 2
    assert caught >= 80
