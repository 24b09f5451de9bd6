"""The trip of one message, protocol-neutral: connect → mail → a decision per recipient →
an outcome for the data → recorded once the answer is given.

Every front end drives it: the SMTP proxy session (which adds the downstream in lock-step),
the milter (Postfix is the SMTP server there), and `mailguard scan` (no downstream, nothing
recorded). A front end knows its protocol; this module knows the order of a message's life;
the pipeline knows mail. So scan and serve cannot drift: they run the same code.

What a front end does with the answers:
- `rcpt()` → None: go on (relay the RCPT, or let Postfix decide), then `accepted(rcpt)` if the
  downstream took it; a Reply: say that instead, for this recipient only.
- `data()` → an Outcome: DELIVER with `headers` (and the Subject tag) → relay or tell Postfix;
  QUARANTINE (already durable) / REJECT / TEMPFAIL → answer `outcome.reply`, relay nothing.
- `finished(outcome, reply)` once the client has its answer: history, autolearn (and, with the
  next issues, the ad ledger and reports). Never before the answer, never changing it.
"""
from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from mailguard.config import Config
from mailguard.scan import headers
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.pipeline import Pipeline, ScanContext
from mailguard.scan.verdict import Action, Symbol, Verdict
from mailguard.smtp.replies import Reply
from mailguard.store.base import DuplicateId
from mailguard.store.records import QuarantineEntry
from mailguard.store.summary import message_record

log = logging.getLogger("mailguard.flow")

RECORD_TIMEOUT = 60.0  # seconds for one history row; it is written after the client's answer
QUARANTINE_ID_TRIES = 3  # new ids for a quarantine write whose id is taken (48 random bits each)


def new_queue_id() -> str:
    return secrets.token_hex(6).upper()


class FlowServices(Protocol):
    """What the flow needs of the running configuration (the server's Runtime is one)."""

    config: Config
    pipeline: Pipeline
    store: object  # quarantine and history ports; unused when nothing is recorded
    hostname: str
    autolearn: object | None


@dataclass(frozen=True)
class ScanServices:
    """FlowServices for `mailguard scan`: no store, no learning."""

    config: Config
    pipeline: Pipeline
    store: object = None
    hostname: str = "localhost"
    autolearn: object | None = None


class Kind(enum.Enum):
    DELIVER = "deliver"
    QUARANTINE = "quarantine"
    REJECT = "reject"
    TEMPFAIL = "tempfail"


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    verdict: Verdict | None  # None when the scan itself failed (a TEMPFAIL of ours)
    reply: Reply | None = None  # ours, for every kind but DELIVER
    headers: tuple[str, ...] = ()  # DELIVER: fields to add before the message, in order
    subject_tag: str = ""  # DELIVER: prefix the Subject with this ("" leaves it)
    ctx: ScanContext | None = field(default=None, repr=False, compare=False)


@dataclass
class Transaction:
    sender: str
    smtputf8: bool
    rcpts: list[str] = field(default_factory=list)
    early: list[Symbol] = field(default_factory=list)  # symbols of the connect/mail/rcpt phases
    policy: str | None = None  # the policy group, fixed by the first accepted recipient
    refused: Verdict | None = None  # the last early refusal (what `scan` shows when all were refused)


class MessageFlow:
    """The messages of one client connection. `record=False` (scan) writes nothing anywhere."""

    def __init__(self, services: FlowServices, client: ClientFacts,
                 spawn: Callable[[Awaitable[None]], None] | None = None, record: bool = True) -> None:
        self.services = services
        self.client = client
        self.txn: Transaction | None = None
        self._spawn = spawn
        self._record = record
        self._connect: asyncio.Future[list[Symbol]] | None = None
        self._pending_rcpt: tuple[str, str, list[Symbol]] | None = None  # let go on by rcpt()

    # --- the connection -----------------------------------------------------------------------

    def connected(self) -> None:
        """Start the connect-phase checks: they run while the client says EHLO."""
        self._start_connect_checks()

    def client_changed(self, client: ClientFacts) -> None:
        """New client facts (XFORWARD, STARTTLS): connect-phase results of another address go."""
        if client.ip != self.client.ip and self._connect is not None:
            self._connect.cancel()
            self._connect = None
        self.client = client

    def _start_connect_checks(self) -> None:
        pipeline = self.services.pipeline
        if pipeline.has_phase("connect"):
            facts = MessageFacts(client=self.client, mail_from="", rcpts=(), queue_id="")
            self._connect = asyncio.ensure_future(pipeline.run_phase("connect", facts))

    async def _connect_symbols(self) -> list[Symbol]:
        if self._connect is None:
            self._start_connect_checks()
        if self._connect is None:
            return []
        try:
            return list(await asyncio.shield(self._connect))
        except asyncio.CancelledError:
            if self._connect.cancelled():
                return []
            raise

    def close(self) -> None:
        if self._connect is not None:
            self._connect.cancel()
        self.txn = None

    # --- a transaction ------------------------------------------------------------------------

    def facts(self, rcpts: tuple[str, ...], queue_id: str = "", received_at: float | None = None) -> MessageFacts:
        assert self.txn is not None
        return MessageFacts(client=self.client, mail_from=self.txn.sender, rcpts=rcpts, queue_id=queue_id,
                            received_at=time.time() if received_at is None else received_at,
                            smtputf8=self.txn.smtputf8, policy=self.txn.policy or "")

    async def mail(self, sender: str, smtputf8: bool) -> None:
        """A transaction begins (the downstream took MAIL): the connect and mail phases' symbols."""
        self.txn = Transaction(sender, smtputf8)
        self.txn.early += await self._connect_symbols()
        if self.services.pipeline.has_phase("mail"):
            self.txn.early += await self.services.pipeline.run_phase("mail", self.facts(()))

    async def rcpt(self, address: str) -> Reply | None:
        """None when the recipient may go on to the downstream, else our reply for it alone."""
        assert self.txn is not None
        config, pipeline = self.services.config, self.services.pipeline
        if len(self.txn.rcpts) >= config.server.max_recipients:
            return Reply(452, "4.5.3 Error: too many recipients")
        group = config.policy_group(address)
        if self.txn.policy is not None and group != self.txn.policy:
            # One verdict per message: recipients of another policy group come in a new transaction.
            return Reply(452, "4.5.3 Too many recipients: this recipient's domain has another policy, "
                              "send it in a separate transaction")
        facts = replace(self.facts((address,)), policy=group)
        symbols = await pipeline.run_phase("rcpt", facts) if pipeline.has_phase("rcpt") else []
        refused = pipeline.early_reject([*self.txn.early, *symbols]) if self.txn.early or symbols else None
        if refused is not None:  # decided before the message: SMTP can answer this recipient alone
            self.txn.refused = refused
            log.info("%s RCPT <%s> refused early: %s", self.client.ip, address, ", ".join(refused.reasons()))
            return Reply(550, f"5.7.1 Recipient refused by policy ({', '.join(refused.reasons())})")
        self._pending_rcpt = (address, group, symbols)
        return None

    def accepted(self, address: str) -> None:
        """The downstream took the recipient that rcpt() let go on."""
        assert self.txn is not None
        pending, self._pending_rcpt = self._pending_rcpt, None
        if pending is None or pending[0] != address:
            return
        _, group, symbols = pending
        self.txn.policy = group
        self.txn.rcpts.append(address)
        self.txn.early += symbols

    def reset(self) -> None:
        self.txn = None
        self._pending_rcpt = None

    # --- the data -----------------------------------------------------------------------------

    async def data(self, raw: bytes, queue_id: str | None = None) -> Outcome:
        """Scan and decide. A QUARANTINE outcome is durable when this returns (recording flows)."""
        assert self.txn is not None
        services = self.services
        facts = self.facts(tuple(self.txn.rcpts), queue_id or new_queue_id(), received_at=time.time())
        ctx = ScanContext(facts, raw)
        try:
            verdict = await asyncio.wait_for(services.pipeline.evaluate(ctx, self.txn.early),
                                             timeout=services.config.server.scan_timeout + 1.0)
        except Exception:
            log.exception("%s scan failed", facts.queue_id)
            return Outcome(Kind.TEMPFAIL, None,
                           Reply(451, "4.3.0 Temporary failure while scanning the message, try again later"), ctx=ctx)
        return await self._outcome(verdict, ctx)

    async def _outcome(self, verdict: Verdict, ctx: ScanContext) -> Outcome:
        config = self.services.config
        if verdict.action is Action.REJECT:
            reasons = ", ".join(verdict.reasons()) or "policy"
            return Outcome(Kind.REJECT, verdict, Reply(550, f"5.7.1 Message rejected as spam ({reasons})"), ctx=ctx)
        if verdict.action is Action.TEMPFAIL:
            return Outcome(Kind.TEMPFAIL, verdict, Reply(451, "4.7.1 Message cannot be checked now, try again later"),
                           ctx=ctx)
        if verdict.action is Action.QUARANTINE:
            if self._record:
                try:
                    await self._quarantine(ctx, verdict)
                except Exception:
                    log.exception("%s quarantine write failed", ctx.facts.queue_id)
                    return Outcome(Kind.TEMPFAIL, verdict,
                                   Reply(451, "4.3.0 Temporary storage failure, try again later"), ctx=ctx)
            return Outcome(Kind.QUARANTINE, verdict, Reply(250, f"2.0.0 Ok: queued as {ctx.facts.queue_id}"), ctx=ctx)
        extra = [self.received_header(ctx.facts)] if config.relay.mode == "front" else []
        tag = config.actions_for(ctx.facts.policy).subject_tag if verdict.action is Action.REWRITE_SUBJECT else ""
        return Outcome(Kind.DELIVER, verdict, None, headers.added_fields(verdict, config.authserv_id, extra),
                       tag, ctx=ctx)

    def received_header(self, facts: MessageFacts) -> str:
        c = facts.client
        proto = c.protocol if c.protocol in ("SMTP", "ESMTP") else "ESMTP"
        if facts.smtputf8:
            proto = "UTF8" + ("SMTP" if proto == "ESMTP" else proto)
        if c.tls:
            proto += "S"
        return headers.received_header(helo=c.helo, client_name=c.name, client_ip=c.ip, by=self.services.hostname,
                                       protocol=proto, queue_id=facts.queue_id, rcpts=facts.rcpts,
                                       when=facts.received_at)

    async def _quarantine(self, ctx: ScanContext, verdict: Verdict) -> None:
        """Durable on return. Waited for as long as the client waits for our answer (the relay's
        data wait): past that the client hears 4xx, so an entry written later is deleted again
        (its retry must not leave two copies)."""
        store = self.services.store
        for _ in range(QUARANTINE_ID_TRIES):
            record = message_record(ctx, verdict, outcome="quarantined")
            write = asyncio.ensure_future(store.quarantine(QuarantineEntry(record, ctx.raw, verdict.headers)))
            try:
                await asyncio.wait_for(asyncio.shield(write), self.services.config.relay_data_timeout)
                return
            except DuplicateId:  # an id is never overwritten: this message takes another
                ctx.facts = replace(ctx.facts, queue_id=new_queue_id())
            except TimeoutError:
                if self._spawn is not None:
                    self._spawn(_undo_late_quarantine(store, write, record.queue_id))
                raise
        raise DuplicateId(f"no free quarantine id after {QUARANTINE_ID_TRIES} tries", ctx.facts.queue_id)

    # --- after the answer ---------------------------------------------------------------------

    def finished(self, outcome: Outcome, reply: Reply) -> None:
        """The client has its answer: record the message (in the background, bounded)."""
        self.txn = None
        if self._record and outcome.ctx is not None and outcome.verdict is not None and self._spawn is not None:
            self._spawn(self._record_message(outcome.ctx, outcome.verdict, str(reply).replace("\r\n", " ")))

    async def _record_message(self, ctx: ScanContext, verdict: Verdict, outcome: str) -> None:
        """The history row and autolearn; a failure or a store that does not answer in time is
        logged, never turned into a second answer."""
        try:
            async with asyncio.timeout(RECORD_TIMEOUT):
                await self.services.store.record_history(message_record(ctx, verdict, outcome))
        except Exception:
            log.exception("%s could not write the history row", ctx.facts.queue_id)
        if self.services.autolearn is not None:
            self.services.autolearn.consider(ctx.raw, verdict)


async def _undo_late_quarantine(store, write: asyncio.Future, queue_id: str) -> None:
    try:
        await write
    except Exception:
        return  # never written
    try:
        await store.quarantine_delete(queue_id)
        log.warning("%s quarantine write finished after the client was told 4xx: entry deleted", queue_id)
    except Exception:
        log.exception("%s quarantine entry written late could not be deleted", queue_id)


def outgoing(raw: bytes, outcome: Outcome, authserv_id: str) -> tuple[bytes, memoryview]:
    """The bytes a proxy relays for a DELIVER outcome (two parts: ours + header block, body)."""
    return headers.forwarded_parts(raw, list(outcome.headers), authserv_id=authserv_id, subject_tag=outcome.subject_tag)

