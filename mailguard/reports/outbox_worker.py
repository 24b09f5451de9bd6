"""The outbox worker: sends what mailguard itself queued (store/outbox.py) through a relay.

One background task per `serve` process. Each pass takes the due items (oldest first), claims
each one (so a second worker, in this process or another sharing the store, never sends it at
the same time) and makes one attempt, with one deadline for the whole of it (connect, greeting,
EHLO, MAIL, RCPT, DATA and the answer to the final dot). The outcome is recorded with
`record_attempt`:

- the relay accepted the message (250 to the final dot): sent;
- a 5xx to MAIL or DATA, or to every RCPT: failed at once, never retried;
- a 4xx anywhere (a 4xx to one RCPT too: nothing is sent, so nothing goes twice), any refusal of
  the greeting or EHLO (our own relay turning us away is a fault to mend), no connection,
  a timeout or a lost connection: retried after `first_retry` seconds, doubling each try up to
  `max_retry`; the first such failure `give_up_after` seconds or more after the item was queued
  fails it for good.

Some recipients refused with 5xx and the others accepted: the message goes to those accepted and
the item is sent (the refusals are in its last reply).

`wake()` makes the worker look at the outbox at once (call it after `enqueue`); otherwise it
looks again when the earliest retry it scheduled is due, and at least every `idle_poll` seconds
(another process sharing the store may have queued something). `stop()` lets an attempt in
progress finish (bounded), then ends the task; a claimed item whose attempt was cut short is
tried again when its claim lapses (after attempt_timeout + CLAIM_MARGIN), after a restart too.

The relay is whatever the caller names: it must take mail from mailguard itself for every
recipient (ARF reports go to outside abuse addresses). In front mode Postfix judges mailguard's
own address there (no XCLIENT is sent for our own mail), which must not be in `mynetworks`; so
point the worker at a Postfix port that lets mailguard relay (or the after-filter smtpd in
behind mode).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from mailguard.config import HostPort
from mailguard.smtp.client import ClientError, SmtpClient, UnsafeCommand
from mailguard.smtp.replies import Reply
from mailguard.store.outbox import OutboxItem, OutboxPort

log = logging.getLogger("mailguard.outbox")

CLAIM_MARGIN = 60.0  # seconds a claim outlives the attempt's deadline


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    reply: str  # for the record: the reply that decided, with what it answered ("RCPT <a>: 550 ...")
    sent: bool = False
    permanent: bool = False  # 5xx (or a message the relay can never take): do not retry


class OutboxWorker:
    def __init__(self, store: OutboxPort, relay: HostPort, hostname: str, *,
                 attempt_timeout: float = 300.0, first_retry: float = 60.0, max_retry: float = 6 * 3600.0,
                 give_up_after: float = 5 * 86400.0, idle_poll: float = 60.0, batch: int = 100,
                 clock: Callable[[], float] = time.time) -> None:
        if min(attempt_timeout, first_retry, max_retry, give_up_after, idle_poll) <= 0 or batch < 1:
            raise ValueError("outbox worker: every delay must be above 0 and batch at least 1")
        self.store = store
        self.relay = relay
        self.hostname = hostname
        self.attempt_timeout = attempt_timeout
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.give_up_after = give_up_after
        self.idle_poll = idle_poll
        self.batch = batch
        self.clock = clock
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._next_retry: float | None = None  # the earliest retry this worker scheduled

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> asyncio.Task:
        """Run the worker as a task of the running loop (once)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="outbox-worker")
        return self._task

    def wake(self) -> None:
        """Look at the outbox now (an item was queued)."""
        self._wakeup.set()

    async def stop(self, grace: float = 10.0) -> None:
        """No new attempt; the one in progress gets up to `grace` seconds, then is cut short."""
        self._stopping = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is None or task.done():
            return
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), grace)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        """Pass after pass until stopped; a failing store is logged and retried next pass."""
        while not self._stopping:
            self._wakeup.clear()  # before the pass: a wake() during it gives one more pass
            try:
                await self.send_due()
            except Exception:
                log.exception("outbox: a pass over the outbox failed; trying again later")
            if self._stopping:
                break
            wait = self.idle_poll
            if self._next_retry is not None:
                wait = min(wait, max(self._next_retry - self.clock(), 0.0))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), wait)

    # --- one pass -------------------------------------------------------------------------------

    async def send_due(self) -> int:
        """One attempt for each item due now; the number sent."""
        self._next_retry = None
        sent = 0
        seen: set[str] = set()
        while not self._stopping:
            items = [i for i in await self.store.due(self.clock(), self.batch) if i.id not in seen]
            if not items:
                break
            for item in items:
                if self._stopping:
                    break
                seen.add(item.id)
                sent += await self._attempt(item)
        return sent

    async def _attempt(self, item: OutboxItem) -> bool:
        now = self.clock()
        if not await self.store.claim(item.id, now, now + self.attempt_timeout + CLAIM_MARGIN):
            return False  # another worker has it, or it is done
        outcome = await self.deliver(item)
        now = self.clock()
        if outcome.sent:
            await self.store.record_attempt(item.id, outcome.reply, now, None, sent=True)
            log.info("outbox: %s (%s) sent to %s: %s", item.id, item.purpose or "mail", ",".join(item.rcpts),
                     outcome.reply)
            return True
        if outcome.permanent or now - item.created >= self.give_up_after:
            await self.store.record_attempt(item.id, outcome.reply, now, None, sent=False)
            why = "refused" if outcome.permanent else f"still undelivered after {self.give_up_after:g}s"
            log.warning("outbox: %s (%s) to %s failed, %s: %s", item.id, item.purpose or "mail",
                        ",".join(item.rcpts), why, outcome.reply)
            return False
        delay = min(self.first_retry * 2 ** item.tries, self.max_retry)  # item.tries: before this one
        next_try = now + delay
        await self.store.record_attempt(item.id, outcome.reply, now, next_try, sent=False)
        self._next_retry = next_try if self._next_retry is None else min(self._next_retry, next_try)
        log.info("outbox: %s (%s) deferred, retry in %gs: %s", item.id, item.purpose or "mail", delay,
                 outcome.reply)
        return False

    # --- one attempt ----------------------------------------------------------------------------

    async def deliver(self, item: OutboxItem) -> Outcome:
        """One SMTP conversation with the relay, within attempt_timeout; never raises for what the
        relay or the network does."""
        smtp: SmtpClient | None = None
        try:
            async with asyncio.timeout(self.attempt_timeout):
                smtp, greeting = await SmtpClient.connect(self.relay.host, self.relay.port, self.attempt_timeout)
                if greeting.code != 220:  # our own relay turning us away: a fault to mend, not a refusal
                    return Outcome(f"greeting: {_one_line(greeting)}")
                return await self._transaction(smtp, item)
        except TimeoutError:
            return Outcome(f"no answer from {self.relay} within {self.attempt_timeout:g}s")
        except ClientError as exc:
            return Outcome(f"no connection to {self.relay}: {exc.why}")
        except UnsafeCommand as exc:
            return Outcome(f"not sendable: {exc}", permanent=True)
        finally:
            if smtp is not None:
                await _quit(smtp)

    async def _transaction(self, smtp: SmtpClient, item: OutboxItem) -> Outcome:
        t = self.attempt_timeout  # each wait is bounded by the attempt's deadline around it
        reply = await smtp.ehlo(self.hostname, timeout=t)
        if not reply.ok:
            return Outcome(f"EHLO: {_one_line(reply)}")
        params: list[bytes] = []
        if any(b > 127 for b in item.raw) and smtp.supports("8bitmime"):
            params.append(b"BODY=8BITMIME")
        if not (item.sender + "".join(item.rcpts)).isascii():
            if not smtp.supports("smtputf8"):
                return Outcome(f"{self.relay} does not offer SMTPUTF8, which the addresses need", permanent=True)
            params.append(b"SMTPUTF8")
        reply = await smtp.command(b"MAIL", f"FROM:<{item.sender}>".encode(), *params, timeout=t)
        if not reply.ok:
            return _outcome("MAIL", reply)
        refused: list[str] = []
        accepted = 0
        for rcpt in item.rcpts:
            reply = await smtp.command(b"RCPT", f"TO:<{rcpt}>".encode(), timeout=t)
            if reply.ok:
                accepted += 1
            elif reply.code >= 500:
                refused.append(f"RCPT <{rcpt}>: {_one_line(reply)}")
            else:  # a 4xx for one recipient: try the whole message again later, none sent twice
                await smtp.command(b"RSET", timeout=t)
                return _outcome(f"RCPT <{rcpt}>", reply)
        if not accepted:
            return Outcome("; ".join(refused), permanent=True)
        reply = await smtp.command(b"DATA", timeout=t)
        if reply.code != 354:
            return _outcome("DATA", reply)
        reply = await smtp.send_message((item.raw,), timeout=t)
        outcome = _outcome("DATA", reply)
        if outcome.sent and refused:
            return Outcome("; ".join([outcome.reply, *refused]), sent=True)
        return outcome


def _one_line(reply: Reply) -> str:
    return f"{reply.code} {' / '.join(reply.text.splitlines())}".rstrip()


def _outcome(step: str, reply: Reply) -> Outcome:
    text = f"{step}: {_one_line(reply)}"
    if reply.ok:
        return Outcome(text, sent=True)
    return Outcome(text, permanent=reply.code >= 500)


async def _quit(smtp: SmtpClient) -> None:
    if smtp.is_connected:
        with contextlib.suppress(ClientError):
            await smtp.command(b"QUIT", timeout=5.0)
    smtp.close()
