"""The advertising ledger port: ads counted per (advertiser, recipient) over a sliding 24 hours
(Decree 91/2020 Art. 13(5): at most 3 per recipient per advertiser in 24 hours unless agreed).

A slot is reserved when the verdict is taken (pending), confirmed once the downstream accepted
the message, released when it did not or the session failed. Pending slots count against the
limit (two sessions cannot both take the last slot) and lapse after PENDING_SECONDS when neither
confirm nor release came (a process that died). Keys are normalised by the caller
(advertising/identity.py): the advertiser an organizational domain, the recipient a mailbox key.

The window is half-open: a slot taken at `t` counts at `now` while `now - WINDOW_SECONDS < t`, so
an ad exactly WINDOW_SECONDS old no longer counts (one second younger still does). A pending slot
is live while `now - PENDING_SECONDS < t`. Slots older than WINDOW_SECONDS + PENDING_SECONDS are
dropped by `purge_ledger` (where the history purge runs); until then they are merely not counted.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

WINDOW_SECONDS = 24 * 3600  # an ad sent at t counts while now - t < WINDOW_SECONDS
PENDING_SECONDS = 3600  # longer than any session waits for the downstream


@dataclass(frozen=True)
class Slot:
    recipient: str
    granted: bool  # False: the recipient's limit is reached; nothing was reserved
    place: int  # this ad's place in the recipient's 24 hours (count before it + 1)
    limit: int | None  # the limit applied; None: no limit (an agreement)
    id: int | None = None  # the reservation, for confirm/release; None when not granted


@dataclass(frozen=True)
class LedgerEntry:
    advertiser: str
    recipient: str
    at: float  # when the slot was reserved (epoch seconds)
    state: Literal["pending", "confirmed"]


class LedgerPort(Protocol):
    """Each operation is atomic in itself, across processes sharing the store."""

    async def reserve(self, advertiser: str, limits: Mapping[str, int | None], now: float) -> list[Slot]:
        """For each recipient (the keys of `limits`, with its limit), in one transaction: count the
        confirmed and live pending slots of (advertiser, recipient) in the window ending at `now`;
        below the limit (or no limit), add a pending slot. One Slot per recipient, in order.

        `place` is the count + 1 whether granted or not (the 4th ad against a limit of 3 is refused
        with place 4). A limit of 0 grants nothing; None grants always."""

    async def confirm(self, ids: Sequence[int]) -> None:
        """Pending slots become confirmed (the downstream accepted the message). A slot that had
        lapsed meanwhile is confirmed all the same (the message was delivered, so it counts);
        unknown ids and confirmed slots are left as they are."""

    async def release(self, ids: Sequence[int]) -> None:
        """Pending slots go (the message was not delivered to their recipients). Confirmed slots
        and unknown ids are left as they are: a delivered ad is never uncounted."""

    async def ledger_entries(self, recipient: str, now: float) -> list[LedgerEntry]:
        """The recipient's slots in the window ending at `now` (live pending ones too), oldest first."""

    async def purge_ledger(self, now: float | None = None) -> int:
        """Drop the slots taken before now - (WINDOW_SECONDS + PENDING_SECONDS), which count no
        more; the number dropped. `now` defaults to the current time."""
