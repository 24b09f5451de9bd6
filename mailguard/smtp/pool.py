"""Idle downstream connections, kept for the next client session instead of QUIT and reconnect.

A connection is parked only between transactions (the downstream holds no MAIL), and only while
it is young: it leaves after `idle_timeout` seconds (closed with QUIT), after MAX_TRANSACTIONS
transactions, and at shutdown. The session that takes one hands its own client over again
(relay.py), and one found closed by the downstream meanwhile is replaced before its transaction
starts. The pool is the server's (ServerState), bounded by the size its callers give.
"""
from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field

from mailguard.config import HostPort
from mailguard.smtp.client import SmtpClient

# Postfix counts some commands per connection (smtpd_junk_command_limit counts RSETs, 100 by
# default), not per client: a connection that has carried this many transactions is retired.
MAX_TRANSACTIONS = 50


@dataclass(eq=False)  # one connection is equal only to itself
class Parked:
    smtp: SmtpClient
    transactions: int  # MAIL commands the connection has carried
    expiry: asyncio.TimerHandle | None = None


@dataclass
class DownstreamPool:
    _idle: dict[HostPort, collections.deque[Parked]] = field(default_factory=dict)
    closed: bool = False

    def __len__(self) -> int:
        return sum(len(parked) for parked in self._idle.values())

    def take(self, target: HostPort) -> Parked | None:
        """The most recently parked live connection to `target`, if any (older ones are the
        likelier to have been closed by the downstream)."""
        queue = self._idle.get(target)
        while queue:
            parked = queue.pop()
            if parked.expiry is not None:
                parked.expiry.cancel()
                parked.expiry = None
            if parked.smtp.reusable:
                return parked
            parked.smtp.close()
        return None

    def park(self, target: HostPort, parked: Parked, size: int, idle_timeout: float) -> bool:
        """Keep a connection (the caller ended its transaction); False when it is not wanted
        (pool full or closed, worn out, or dead): the caller ends it then."""
        if self.closed or len(self) >= size or parked.transactions >= MAX_TRANSACTIONS or not parked.smtp.reusable:
            return False
        queue = self._idle.setdefault(target, collections.deque())
        queue.append(parked)
        parked.expiry = asyncio.get_running_loop().call_later(idle_timeout, self._expire, target, parked)
        return True

    def discard(self, target: HostPort) -> None:
        """Close every idle connection to `target` (one was found closed: the downstream may
        have restarted, and the others with it)."""
        for parked in self._idle.pop(target, ()):
            _quit(parked)

    def close(self) -> None:
        """At shutdown: every idle connection is closed, none is parked any more."""
        self.closed = True
        for target in list(self._idle):
            self.discard(target)

    def _expire(self, target: HostPort, parked: Parked) -> None:
        queue = self._idle.get(target)
        if queue is not None and parked in queue:
            queue.remove(parked)
            _quit(parked)


def _quit(parked: Parked) -> None:
    """QUIT without waiting for the 221: the transport sends it, then closes."""
    if parked.expiry is not None:
        parked.expiry.cancel()
        parked.expiry = None
    smtp = parked.smtp
    if smtp.is_connected:
        smtp.writer.write(b"QUIT\r\n")
    smtp.close()
