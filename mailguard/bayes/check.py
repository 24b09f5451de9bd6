"""The BAYES check: the content model's spam probability as BAYES_SPAM / BAYES_UNSURE / BAYES_HAM.

No symbol at all while the model has learnt fewer than `min_spam` spam or `min_ham` ham (an
untrained model must not cause false positives), nor without a model. The work is CPU only
(tokenize, hash, score: about 1.2 ms for an average message, measured) and pure Python holding
the GIL, so it runs inline: handing it to the worker threads would add a hop and free the
event loop of nothing. Its CPU is bounded by the tokenizer's caps.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from mailguard.bayes.holder import ModelHolder
from mailguard.bayes.tokenizer import tokens
from mailguard.bayes.spec import DESCRIPTIONS, BayesSettings
from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Symbol

if TYPE_CHECKING:
    from mailguard.bayes.model import Score

MIN_CONFIDENCE = 0.2  # a symbol past a cut-off weighs at least this share of its full score


def symbol_for(score: Score, settings: BayesSettings) -> Symbol:
    p = score.probability
    detail = f"p={p:.4f} logodds={score.log_odds:.2f} clues={score.clues}"
    if p >= settings.spam_probability:
        confidence = (p - settings.spam_probability) / max(1e-9, 1.0 - settings.spam_probability)
        return Symbol("BAYES_SPAM", round(settings.spam_score * _clip(confidence), 2), detail,
                      description=DESCRIPTIONS["BAYES_SPAM"])
    if p <= settings.ham_probability:
        confidence = (settings.ham_probability - p) / max(1e-9, settings.ham_probability)
        return Symbol("BAYES_HAM", round(settings.ham_score * _clip(confidence), 2), detail,
                      description=DESCRIPTIONS["BAYES_HAM"])
    return Symbol("BAYES_UNSURE", 0.0, detail, description=DESCRIPTIONS["BAYES_UNSURE"])


def _clip(confidence: float) -> float:
    return min(1.0, max(MIN_CONFIDENCE, confidence))


class BayesCheck:
    def __init__(self, settings: BayesSettings, holder: ModelHolder) -> None:
        self.settings = settings
        self.holder = holder

    @property
    def budget(self) -> float:
        return self.settings.budget_ms / 1000

    async def __call__(self, ctx: ScanContext) -> list[Symbol]:
        model, hasher = self.holder.model, self.holder.hasher
        if model is None or hasher is None:
            return []
        if model.nspam < self.settings.min_spam or model.nham < self.settings.min_ham:
            return []
        return [symbol_for(model.score(hasher.slots(tokens(ctx.message))), self.settings)]
