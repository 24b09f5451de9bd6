"""A bounded cache of DNS answers that honours TTLs (positive and negative answers alike)."""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from mailguard.dnsresolver.answer import DnsAnswer


class AnswerCache:
    def __init__(self, max_entries: int, min_ttl: int = 0, max_ttl: int = 86400,
                 clock: Callable[[], float] = time.monotonic):
        self._entries: OrderedDict[tuple[str, str], tuple[float, DnsAnswer]] = OrderedDict()
        self._max_entries = max_entries
        self._min_ttl, self._max_ttl = min_ttl, max_ttl
        self._clock = clock

    def get(self, key: tuple[str, str]) -> DnsAnswer | None:
        item = self._entries.get(key)
        if item is None:
            return None
        expires, answer = item
        if expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return answer

    def put(self, key: tuple[str, str], answer: DnsAnswer) -> None:
        ttl = min(max(answer.ttl, self._min_ttl), self._max_ttl)
        if ttl <= 0 or self._max_entries <= 0:
            return
        self._entries[key] = (self._clock() + ttl, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
