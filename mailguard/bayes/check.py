"""The BAYES check: the content model's calibrated evidence as BAYES_SPAM or BAYES_HAM.

One symbol, continuous: z > 0 (spam likelier than ham) gives BAYES_SPAM, z < 0 BAYES_HAM, each
with the share min(1, |z| / FULL_Z) of its full score (`[bayes] spam_score` / `ham_score`, or a
[scores] override): so every unit of evidence the model has moves the verdict, and none is
thrown away in an "unsure" band. FULL_Z = 8 is p = 0.9997.

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

FULL_Z = 8.0


def symbol_for(score: Score, settings: BayesSettings) -> Symbol:
    detail = f"p={score.probability:.4f} z={score.z:.2f} logodds={score.log_odds:.2f} clues={score.clues}"
    strength = round(min(1.0, abs(score.z) / FULL_Z), 4)
    name, full = ("BAYES_SPAM", settings.spam_score) if score.z > 0 else ("BAYES_HAM", settings.ham_score)
    return Symbol(name, round(full * strength, 2), detail, description=DESCRIPTIONS[name], strength=strength)


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
