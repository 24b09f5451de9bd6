"""The learned port: the messages the Bayes model learnt, by digest (mailguard/bayes/digest.py)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class LearnedPort(Protocol):
    """Each operation is atomic in itself; callers never read-then-write across calls."""

    async def learned_labels(self, digests: Sequence[str]) -> dict[str, str]:
        """The label ("spam" / "ham") each digest was learnt with; unknown ones absent."""

    async def set_learned(self, changes: Mapping[str, str | None], now: float | None = None) -> None:
        """Record digests as learnt with a label (replacing the one before: a relearn moves the
        message), or as no longer learnt (None); all in one transaction."""
