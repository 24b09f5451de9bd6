"""Symbols, actions and the Verdict that the pipeline hands to the session."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # config.py imports the checks, which import this module
    from mailguard.config import ActionSettings


class Action(str, enum.Enum):
    """The six actions, weakest first; these literal values are the contract."""

    ACCEPT = "accept"
    ADD_HEADER = "add_header"
    REWRITE_SUBJECT = "rewrite_subject"
    QUARANTINE = "quarantine"
    TEMPFAIL = "tempfail"
    REJECT = "reject"

    @property
    def strength(self) -> int:
        return _ORDER.index(self)

    def __str__(self) -> str:
        return self.value


_ORDER = list(Action)


@dataclass(frozen=True)
class Symbol:
    name: str
    score: float = 0.0
    detail: str = ""
    force: Action | None = None  # a symbol may force an action (GTUBE → reject)
    description: str = ""
    # Zeroed on purpose by its check (a DMARC failure overridden by ARC): kept at 0 whatever
    # score the rules give the name.
    neutral: bool = False
    # The share of its full score this hit carries (0..1): 1 for a rule; the content model's
    # confidence for BAYES_*. A [scores] override sets the full score and keeps the share.
    strength: float = 1.0


@dataclass(frozen=True)
class Verdict:
    symbols: tuple[Symbol, ...]
    score: float
    required: float  # the add_header threshold: "spam" from here up
    action: Action
    forced: Action | None = None
    queue_id: str = ""
    headers: tuple[str, ...] = ()  # fields checks add to the forwarded message (Authentication-Results)

    @property
    def is_spam(self) -> bool:
        return self.action is not Action.ACCEPT

    def symbol(self, name: str) -> Symbol | None:
        return next((s for s in self.symbols if s.name == name), None)

    def reasons(self, limit: int = 3) -> list[str]:
        """Names of the symbols that weigh most toward the action (for a reject text)."""
        forcing = [s for s in self.symbols if s.force is not None and s.force is self.action]
        rest = sorted((s for s in self.symbols if s.score > 0 and s not in forcing), key=lambda s: -s.score)
        return [s.name for s in (forcing + rest)[:limit]]


def merge_symbols(symbols: list[Symbol]) -> tuple[Symbol, ...]:
    """One symbol per name: scores of repeats are not added twice, details are joined (a part
    already there is not repeated: two stages of one check may both say `zone=x`)."""
    by_name: dict[str, Symbol] = {}
    for sym in symbols:
        prior = by_name.get(sym.name)
        if prior is None:
            by_name[sym.name] = sym
            continue
        parts = prior.detail.split("; ") if prior.detail else []
        detail = "; ".join([*parts, *(p for p in (sym.detail.split("; ") if sym.detail else []) if p not in parts)])
        force = max((f for f in (prior.force, sym.force) if f), key=lambda a: a.strength, default=None)
        score = max(prior.score, sym.score, key=abs)
        by_name[sym.name] = Symbol(sym.name, score, detail, force, prior.description or sym.description,
                                   strength=max(prior.strength, sym.strength))
    return tuple(by_name.values())


def decide(symbols: list[Symbol], thresholds: ActionSettings, queue_id: str = "") -> Verdict:
    """Sum the scores, map the sum to an action; the strongest forced action wins.

    `tempfail` is never reached by score, only forced. A forced action weaker than what the
    score reached does not lower it.
    """
    merged = merge_symbols(symbols)
    score = round(sum((s.score for s in merged), 0.0), 2)  # 0.0, not 0, with no symbols
    if score >= thresholds.reject:
        by_score = Action.REJECT
    elif score >= thresholds.quarantine:
        by_score = Action.QUARANTINE
    elif score >= thresholds.rewrite_subject:
        by_score = Action.REWRITE_SUBJECT
    elif score >= thresholds.add_header:
        by_score = Action.ADD_HEADER
    else:
        by_score = Action.ACCEPT
    forced = max((s.force for s in merged if s.force), key=lambda a: a.strength, default=None)
    action = by_score if forced is None or by_score.strength > forced.strength else forced
    return Verdict(merged, score, thresholds.add_header, action, forced, queue_id)
