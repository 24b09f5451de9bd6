"""The Bayes content model's spec: `[bayes]`, and BAYES_SPAM / BAYES_HAM."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailguard.checks.spec import CheckSpec, Stage, SymbolFamily, SymbolSpec

if TYPE_CHECKING:
    from mailguard.checks.registry import CheckServices
    from mailguard.config import Config, Fail
    from mailguard.scan.pipeline import Check


@dataclass(frozen=True)
class BayesSettings:
    """The naive Bayes content model (README, "Content model (Bayes)")."""

    enabled: bool = True
    budget_ms: int = 500
    model_file: str = "bayes.model"  # relative to [store] state_dir
    min_spam: int = 200  # no Bayes symbol until this many spam and ham were learnt
    min_ham: int = 200
    # Full scores, at |z| >= 8 (check.py); less evidence weighs its share. The shipped rules'
    # fitted [scores] (rules/90-fitted-scores.toml) override these.
    spam_score: float = 5.5
    ham_score: float = -3.0
    autolearn: bool = False
    autolearn_spam: float = 12.0  # learn as spam a verdict scoring this or more (Bayes symbols left out)
    autolearn_ham: float = -1.0  # learn as ham a verdict scoring this or less (Bayes symbols left out)


DESCRIPTIONS = {"BAYES_SPAM": "content model: spam likelier than ham (scaled by its evidence)",
                "BAYES_HAM": "content model: ham likelier than spam (scaled by its evidence)"}
STAGE = Stage("BAYES")


def symbols(settings: BayesSettings) -> tuple[SymbolSpec, ...]:
    """The scores are those at full confidence: less sure, a symbol weighs less."""
    scores = {"BAYES_SPAM": settings.spam_score, "BAYES_HAM": settings.ham_score}
    return tuple(SymbolSpec(name, scores[name], text) for name, text in DESCRIPTIONS.items())


def validate(b: BayesSettings, fail: Fail) -> None:
    if b.budget_ms <= 0:
        fail("bayes", "budget_ms", "must be greater than 0")
    for key in ("min_spam", "min_ham"):
        if getattr(b, key) < 0:
            fail("bayes", key, "must be 0 or more")
    if b.spam_score < 0:
        fail("bayes", "spam_score", "must be 0 or more")
    if b.ham_score > 0:
        fail("bayes", "ham_score", "must be 0 or less")
    if b.autolearn_ham >= b.autolearn_spam:
        fail("bayes", "autolearn_ham", "must be below autolearn_spam")
    if not b.model_file.strip():
        fail("bayes", "model_file", "a file name is required")


def build(config: Config, services: CheckServices, offline: bool) -> list[Check]:
    if services.bayes is None:  # [bayes] is off
        return []
    from mailguard.bayes.check import BayesCheck

    bayes = BayesCheck(config.bayes, services.bayes)
    return [STAGE.check(bayes, budget=bayes.budget)]  # needs no network: offline too


SPEC = CheckSpec(
    name="BAYES", stages=(STAGE,), build=build, configured=lambda config: symbols(config.bayes),
    families=(SymbolFamily("BAYES_", "the content model's symbols", open=True),),
    section="bayes", settings=BayesSettings, validate=validate,
)
