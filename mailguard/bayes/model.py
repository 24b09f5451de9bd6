"""The naive Bayes content model: hashed token counts per class, learnt and unlearnt exactly.

Features are the message's tokens hashed by scikit-learn's FeatureHasher (MurmurHash3, stable
across processes and versions) into `2**bits` slots. The model keeps, per slot, in how many
learnt spam and ham messages the slot occurs (each message counts a token once), plus the
message counts: integers, so that unlearning a message undoes its learning exactly.

Scoring is naive Bayes over the slots of the message that the model has seen (the binary,
"present tokens only" form that suits mail): the evidence of slot i is
ln((spam_i + a) / (nspam + 2a)) - ln((ham_i + a) / (nham + 2a)), with no class prior (the ratio
of spam to ham learnt says what users reported, not what arrives). Summed evidence grows with
the length of the message and overstates correlated tokens, so the sum is divided by
sqrt(slots + 1) (length normalisation, after Rennie et al., "Tackling the poor assumptions of
naive Bayes text classifiers", 2003). That normalised log-odds is the model's score: it keeps
ranking messages where the probability, sigmoid(score), saturates at 0 or 1. Form and
constants measured best on a development split carved from the train split (README, "Content
model (Bayes)"), ahead of Robinson/Fisher chi-squared combining and unnormalised sums.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_BITS = 22
HASHER_NAME = "sklearn-featurehasher-murmur3-32"  # part of the file metadata: how tokens map to slots

ALPHA = 0.05  # additive smoothing of the per-class document frequencies


@dataclass(frozen=True)
class Score:
    probability: float  # spam probability, 0..1
    log_odds: float  # length-normalised log-odds, the logit of `probability`: ranks messages
    #                  where the probability saturates at 0 or 1
    clues: int  # slots of the message the model had seen


class Hasher:
    """Tokens → unique slot indices (one hasher per process; FeatureHasher is stateless)."""

    def __init__(self, bits: int = DEFAULT_BITS) -> None:
        from sklearn.feature_extraction import FeatureHasher  # a 2 s import: only once a model is in use

        self.bits = bits
        self._hasher = FeatureHasher(n_features=2 ** bits, input_type="string", alternate_sign=False)

    def slots(self, tokens: Iterable[str]) -> np.ndarray:
        matrix = self._hasher.transform([list(dict.fromkeys(tokens))])
        return np.unique(matrix.indices).astype(np.int64)

    def slots_many(self, token_lists: Sequence[Sequence[str]]) -> list[np.ndarray]:
        if not token_lists:
            return []
        matrix = self._hasher.transform(list(dict.fromkeys(t)) for t in token_lists).tocsr()
        return [np.unique(matrix.indices[matrix.indptr[i]:matrix.indptr[i + 1]]).astype(np.int64)
                for i in range(matrix.shape[0])]


class BayesModel:
    """Counts per slot and class. Not thread-safe: one learner owns a model; scoring reads it."""

    def __init__(self, bits: int = DEFAULT_BITS, spam: np.ndarray | None = None, ham: np.ndarray | None = None,
                 nspam: int = 0, nham: int = 0) -> None:
        size = 2 ** bits
        self.bits = bits
        self.spam = np.zeros(size, np.uint32) if spam is None else spam
        self.ham = np.zeros(size, np.uint32) if ham is None else ham
        if self.spam.shape != (size,) or self.ham.shape != (size,):
            raise ValueError(f"count arrays must have {size} entries")
        self.nspam = nspam
        self.nham = nham

    # -- learning ---------------------------------------------------------------------------
    def learn(self, slots: np.ndarray, is_spam: bool) -> None:
        """Count a message: `slots` unique, as Hasher gives them."""
        counts = self.spam if is_spam else self.ham
        counts[slots] += np.uint32(1)
        if is_spam:
            self.nspam += 1
        else:
            self.nham += 1

    def unlearn(self, slots: np.ndarray, is_spam: bool) -> None:
        """Undo `learn(slots, is_spam)`; a message never learnt must not be unlearnt (the caller
        keeps that record: the store's `learned` table)."""
        counts = self.spam if is_spam else self.ham
        present = slots[counts[slots] > 0]  # never below zero, whatever the caller did
        counts[present] -= np.uint32(1)
        if is_spam:
            self.nspam = max(0, self.nspam - 1)
        else:
            self.nham = max(0, self.nham - 1)

    # -- scoring ----------------------------------------------------------------------------
    def score(self, slots: np.ndarray) -> Score:
        if self.nspam == 0 or self.nham == 0 or len(slots) == 0:
            return Score(0.5, 0.0, 0)
        s = self.spam[slots].astype(np.float64)
        h = self.ham[slots].astype(np.float64)
        seen = (s + h) > 0
        s, h = s[seen], h[seen]
        if len(s) == 0:
            return Score(0.5, 0.0, 0)
        evidence = float(np.log((s + ALPHA) / (self.nspam + 2 * ALPHA)).sum()
                         - np.log((h + ALPHA) / (self.nham + 2 * ALPHA)).sum())
        log_odds = evidence / math.sqrt(len(s) + 1)
        return Score(_sigmoid(log_odds), log_odds, len(s))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
