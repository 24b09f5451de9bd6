"""The naive Bayes content model: hashed token counts per class, learnt and unlearnt exactly.

Features are the message's tokens hashed as scikit-learn's FeatureHasher does (MurmurHash3,
stable across processes and versions) into `2**bits` slots. The model keeps, per slot, in how many
learnt spam and ham messages the slot occurs (each message counts a token once), plus the
message counts: integers, so that unlearning a message undoes its learning exactly.

A message's evidence is its log-odds: naive Bayes over the seen slots in its binary,
present-tokens-only form, ln((spam_i + a) / (nspam + 2a)) - ln((ham_i + a) / (nham + 2a)) summed,
no class prior (the ratio of spam to ham learnt says what users reported, not what arrives),
divided by sqrt(slots + 1), since summed evidence grows with the length of the message and
overstates correlated tokens (length normalisation, after Rennie et al. 2003). The model's
calibration (calibration.py, fitted at `train` time on held-out folds) maps it to a calibrated
logit z; sigmoid(z) is the spam probability. The log-odds form and its constants measured best
on a development split carved from the train split (README, "Content model (Bayes)").
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import mmh3
import numpy as np

from mailguard.bayes.calibration import UNCALIBRATED, Calibration

DEFAULT_BITS = 22
HASHER_NAME = "sklearn-featurehasher-murmur3-32"  # in the file metadata: how tokens map to slots (Hasher)

ALPHA = 0.05  # additive smoothing of the per-class document frequencies (log-odds)


@dataclass(frozen=True)
class Score:
    log_odds: float  # length-normalised naive Bayes log-odds
    z: float  # the calibrated logit: z = 0 as likely spam as ham, each unit e times likelier
    clues: int  # slots of the message the model had seen

    @property
    def probability(self) -> float:
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, self.z))))


class Hasher:
    """Tokens → unique slot indices: signed MurmurHash3 (32-bit, seed 0) of the token's UTF-8
    bytes, |h| mod 2**bits — the mapping of scikit-learn's FeatureHasher(alternate_sign=False),
    which model files name (HASHER_NAME). Computed by the small `mmh3` library, which gives the
    same values (tested against FeatureHasher), so that scoring never imports scikit-learn
    (measured: ~1.5 s and ~60 MB a process); scikit-learn stays for fitting."""

    def __init__(self, bits: int = DEFAULT_BITS) -> None:
        self.bits = bits
        self._size = 2 ** bits

    def slots(self, tokens: Iterable[str]) -> np.ndarray:
        murmur, size = mmh3.hash, self._size
        hashes = [murmur(token, 0) for token in dict.fromkeys(tokens)]
        index = np.abs(np.array(hashes, dtype=np.int64)) % size
        return np.unique(index)

    def slots_many(self, token_lists: Sequence[Sequence[str]]) -> list[np.ndarray]:
        return [self.slots(tokens) for tokens in token_lists]


class BayesModel:
    """Counts per slot and class. Not thread-safe: one learner owns a model; scoring reads it."""

    def __init__(self, bits: int = DEFAULT_BITS, spam: np.ndarray | None = None, ham: np.ndarray | None = None,
                 nspam: int = 0, nham: int = 0, calibration: Calibration = UNCALIBRATED) -> None:
        size = 2 ** bits
        self.bits = bits
        self.spam = np.zeros(size, np.uint32) if spam is None else spam
        self.ham = np.zeros(size, np.uint32) if ham is None else ham
        if self.spam.shape != (size,) or self.ham.shape != (size,):
            raise ValueError(f"count arrays must have {size} entries")
        self.nspam = nspam
        self.nham = nham
        self.calibration = calibration

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

    def without(self, learnt: Sequence[tuple[np.ndarray, bool]]) -> BayesModel:
        """A copy of the model with the (slots, is_spam) messages unlearnt (each counted in it)."""
        size = 2 ** self.bits
        out = BayesModel(self.bits, self.spam.copy(), self.ham.copy(), self.nspam, self.nham, self.calibration)
        for is_spam, counts in ((True, out.spam), (False, out.ham)):
            group = [slots for slots, label in learnt if label is is_spam]
            if group:
                held = np.bincount(np.concatenate(group), minlength=size).astype(np.uint32)
                np.subtract(counts, np.minimum(held, counts), out=counts)
            if is_spam:
                out.nspam = max(0, out.nspam - len(group))
            else:
                out.nham = max(0, out.nham - len(group))
        return out

    # -- scoring ----------------------------------------------------------------------------
    def score(self, slots: np.ndarray) -> Score:
        if self.nspam == 0 or self.nham == 0 or len(slots) == 0:
            return Score(0.0, 0.0, 0)
        s = self.spam[slots].astype(np.float64)
        h = self.ham[slots].astype(np.float64)
        seen = (s + h) > 0
        s, h = s[seen], h[seen]
        if len(s) == 0:
            return Score(0.0, 0.0, 0)
        evidence = float(np.log((s + ALPHA) / (self.nspam + 2 * ALPHA)).sum()
                         - np.log((h + ALPHA) / (self.nham + 2 * ALPHA)).sum())
        log_odds = evidence / math.sqrt(len(s) + 1)
        return Score(log_odds, self.calibration.z(log_odds), len(s))
