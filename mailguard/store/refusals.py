"""The refusals port: a recipient refused an advertiser (a spam report, an admin command, or a
mailto: unsubscribe seen in outbound mode). Decree 91/2020 Art. 20(3): honoured at once, so every
later ad from that advertiser to that recipient is refused. Keys as in ledger.py."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Source = Literal["command", "report", "unsubscribe"]
UNSUBSCRIBE_DAYS = 400  # how long the unsubscribe address of a delivered ad is remembered


@dataclass(frozen=True)
class Refusal:
    recipient: str
    advertiser: str
    at: float
    source: Source


class RefusalsPort(Protocol):
    """Each operation is atomic in itself; a change is durable (committed and synced) on return.
    Refusals never expire: one stays until `remove_refusal`."""

    async def add_refusal(self, refusal: Refusal) -> bool:
        """Record it (durably); False when the pair was refused already (the first one stays)."""

    async def remove_refusal(self, recipient: str, advertiser: str) -> bool:
        """True if there was such a refusal."""

    async def refused(self, recipient: str, advertisers: Sequence[str]) -> set[str]:
        """Which of `advertisers` the recipient refused."""

    async def refusals(self, recipient: str | None = None) -> list[Refusal]:
        """All refusals (of one recipient), oldest first."""

    async def remember_unsubscribe(self, address: str, recipient: str, advertiser: str, at: float) -> None:
        """An ad of `advertiser` reached `recipient` with `mailto:address` in its List-Unsubscribe
        (the newest ad wins; kept UNSUBSCRIBE_DAYS). Not durable at return, like history."""

    async def unsubscribe_advertiser(self, address: str, recipient: str) -> str | None:
        """The advertiser whose ad gave `recipient` the unsubscribe address `address`, if any: a
        message the recipient sends there (outbound mode) is their refusal (source "unsubscribe")."""
