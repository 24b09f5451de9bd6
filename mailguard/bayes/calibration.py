"""What the content model's log-odds mean: a calibration fitted on held-out folds of the learnt mail.

The log-odds rank messages well but their scale depends on the model (how much was learnt, how
long the messages are), so they are mapped to a calibrated logit `z = slope * log_odds +
intercept` (Platt scaling: a logistic regression of the label on the log-odds), fitted at
`mailguard train` time on *out-of-fold* scores: the run's messages are cut into FOLDS folds and
each is scored by the model without that fold — exact, since the model is integer counts (the
fold's counts are subtracted). A message the model memorised would teach the calibration that
everything is certain. The folds are cut by sender — the organizational domain of From — so
that every message is scored by a model that learnt nothing from its sender: mail of one list
or one shop in two folds would make the held-out scores as confident as memorised ones, and new
senders are what a filter meets (on the standard train split, interleaved folds put the 99.9th
percentile of ham at log-odds 1.3; folds by sender at 3.3). The classes are weighed equally and there is no intercept: log-odds 0
— no evidence either way, as for mail of a kind the model never saw — stays z = 0, whatever
mix was learnt (fitted with an intercept, the standard train split put such mail at p = 0.87,
since little evidence is rare for the ham of one's own folds). sigmoid(z) is the probability
shown in the symbol's detail.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import zlib
from collections import Counter

import numpy as np

from mailguard import domains

if TYPE_CHECKING:  # the model holds a Calibration
    from mailguard.bayes.model import BayesModel
    from mailguard.scan.message import ParsedMessage

FOLDS = 5
MAX_MESSAGES = 20_000  # a longer run calibrates on an even sample of this many
MIN_PER_CLASS = 20  # fewer spam or ham in a run: the model keeps its calibration
# Without a calibration (a model learnt only by autolearn or reports): the slope measured on the
# standard train split, rounded (README, "Content model").
DEFAULT_SLOPE = 0.5


@dataclass(frozen=True)
class Calibration:
    slope: float
    intercept: float
    messages: int = 0  # out-of-fold scores it was fitted on; 0: the default
    folds: int = 0

    def z(self, log_odds: float) -> float:
        return self.slope * log_odds + self.intercept


UNCALIBRATED = Calibration(DEFAULT_SLOPE, 0.0)


Learnt = tuple[np.ndarray, bool, str]  # a learnt message's slots, is_spam, sender group


def sender_group(message: ParsedMessage) -> str:
    """The fold key of a message: the organizational domain of its first From address."""
    found = message.addresses("from")
    return domains.organizational(domains.of_address(found[0].address)) if found else ""


def held_out_senders(groups: Sequence[str], folds: int = FOLDS) -> list[bool]:
    """Whether each message's sender is held out whole in one fold: not for a message without a
    sender, nor for a sender holding more than a tenth of the run (the site's own domain, a big
    list: not new to the filter, and alone it would empty a class of its fold)."""
    sizes = Counter(groups)
    big = len(groups) / (2 * folds)
    return [bool(g) and sizes[g] <= big for g in groups]


def fold_ids(groups: Sequence[str], folds: int = FOLDS) -> list[int]:
    """The fold of each message: a held-out sender's messages share one; others go by their place."""
    whole = held_out_senders(groups, folds)
    return [zlib.crc32(g.encode("utf-8", "surrogatepass")) % folds if w else i % folds
            for i, (g, w) in enumerate(zip(groups, whole))]


def out_of_fold(model: BayesModel, learnt: Sequence[Learnt], folds: int = FOLDS) -> np.ndarray:
    """Log-odds of each learnt message by `model` without the message's fold. Every message must
    be counted in `model` with its label."""
    scores = np.zeros(len(learnt))
    assigned = fold_ids([group for _, _, group in learnt], folds)
    for fold in range(folds):
        members = [i for i, f in enumerate(assigned) if f == fold]
        if not members:
            continue
        without = model.without([(learnt[i][0], learnt[i][1]) for i in members])
        for i in members:
            scores[i] = without.score(learnt[i][0]).log_odds
    return scores


def fit(model: BayesModel, learnt: Sequence[Learnt]) -> Calibration | None:
    """The calibration of `model` from out-of-fold scores of `learnt`; None when the run is too
    small (fewer than MIN_PER_CLASS of a class) or the scores do not separate the classes at all."""
    if len(learnt) > MAX_MESSAGES:
        step = len(learnt) / MAX_MESSAGES
        learnt = [learnt[int(i * step)] for i in range(MAX_MESSAGES)]
    labels = np.array([is_spam for _, is_spam, _ in learnt], dtype=int)
    if min(labels.sum(), len(labels) - labels.sum()) < MIN_PER_CLASS:
        return None
    from sklearn.linear_model import LogisticRegression

    scores = out_of_fold(model, learnt)
    regression = LogisticRegression(C=1e6, class_weight="balanced", fit_intercept=False).fit(
        scores.reshape(-1, 1), labels)
    slope, intercept = float(regression.coef_[0][0]), 0.0
    if not slope > 0:
        return None
    return Calibration(round(slope, 6), round(intercept, 6), len(learnt), FOLDS)
