"""What `mailguard tune` fits on: per message, the strength of every symbol that could be re-scored.

Each message is scanned offline by the proxy's own flow (scan_cmd.scan_one) with the Bayes check
off; its Bayes evidence is added from models that did not learn it: the tune mail is cut into
folds, each scored by a model learnt from the others and calibrated the way `mailguard train`
calibrates (calibration.py: folds by sender). Scores of mail a model memorised would make the content model look
infallible and the fit would trust it blindly.

Left out of the features, their scores kept: symbols forcing an action (GTUBE), neutral ones
(zeroed by their check on purpose), ones a meta rule replaced, and the reserved families whose
score is 0 by contract (CHECK_ERROR_*, CHECK_TIMEOUT_*, RBL_BLOCKED), and the informative
advertising symbols (AD_DETECTED, AD_LABELLED: advertising is lawful mail under Decree 91; only
its compliance symbols weigh, and only inside `[advertising] domains`).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from mailguard.bayes import calibration
from mailguard.bayes.check import symbol_for
from mailguard.bayes.model import BayesModel, Hasher, Score
from mailguard.bayes.tokenizer import tokens
from mailguard.scan.message import ParsedMessage
from mailguard.scan.verdict import Symbol, Verdict

RESERVED_PREFIXES = ("CHECK_ERROR_", "CHECK_TIMEOUT_")
RESERVED = ("RBL_BLOCKED", "AD_DETECTED", "AD_LABELLED")


@dataclass
class Sample:
    label: str  # source label, for messages
    is_spam: bool
    strengths: dict[str, float] = field(default_factory=dict)  # symbol → strength (1.0 for a rule)
    fixed: float = 0.0  # the score of what is not fitted
    new_sender: bool = True  # its Bayes score came from a model that learnt nothing of its sender


def fittable(sym: Symbol) -> bool:
    return not (sym.force is not None or sym.neutral or "replaced by" in sym.detail
                or sym.name.startswith(RESERVED_PREFIXES) or sym.name in RESERVED)


def sample_of(label: str, is_spam: bool, verdict: Verdict) -> Sample:
    out = Sample(label, is_spam)
    for sym in verdict.symbols:
        if sym.name.startswith("BAYES_"):
            continue
        if fittable(sym):
            out.strengths[sym.name] = sym.strength
        else:
            out.fixed += sym.score
    return out


def add_bayes(samples: list[Sample], raws: Iterable[bytes], bits: int, settings) -> calibration.Calibration | None:
    """Add each sample's out-of-fold Bayes symbol; the calibration fitted (None: too few of a class,
    and no Bayes features are added)."""
    hasher = Hasher(bits)
    learnt = []
    for raw, sample in zip(raws, samples):
        message = ParsedMessage.from_bytes(raw)
        learnt.append((hasher.slots(tokens(message)), sample.is_spam, calibration.sender_group(message)))
    model = BayesModel(bits)
    for slots, is_spam, _ in learnt:
        model.learn(slots, is_spam)
    fitted = calibration.fit(model, learnt)
    if fitted is None:
        return None
    oof = calibration.out_of_fold(model, learnt)
    for sample, whole in zip(samples, calibration.held_out_senders([g for _, _, g in learnt])):
        sample.new_sender = whole
    for sample, log_odds, (slots, _, _) in zip(samples, oof, learnt):
        sym = symbol_for(Score(float(log_odds), fitted.z(float(log_odds)), len(slots)), settings)
        sample.strengths[sym.name] = sym.strength
    return fitted


def matrix(samples: list[Sample], names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (samples × names strengths), y (1 spam), fixed scores."""
    col = {n: i for i, n in enumerate(names)}
    x = np.zeros((len(samples), len(names)))
    for r, s in enumerate(samples):
        for name, strength in s.strengths.items():
            if name in col:
                x[r, col[name]] = strength
    y = np.array([1 if s.is_spam else 0 for s in samples])
    fixed = np.array([s.fixed for s in samples])
    return x, y, fixed

