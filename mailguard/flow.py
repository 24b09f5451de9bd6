"""The trip of one message, protocol-neutral: connect → mail → a decision per recipient →
an outcome for the data → recorded once the answer is given.

Every front end drives it: the SMTP proxy session (which adds the downstream in lock-step),
the milter (Postfix is the SMTP server there), and `mailguard scan` (no downstream, nothing
recorded). A front end knows its protocol; this module knows the order of a message's life;
the pipeline knows mail. So scan and serve cannot drift: they run the same code.

What a front end does with the answers:
- `rcpt()` → None: go on (relay the RCPT, or let Postfix decide), then `accepted(rcpt)` if the
  downstream took it; a Reply: say that instead, for this recipient only — a 2xx one means the
  flow took the recipient itself (an abuse address): nothing goes downstream for it.
- `data()` → an Outcome: DELIVER with `headers` (and the Subject tag), to `rcpts` when it names
  them → relay or tell Postfix; QUARANTINE (already durable) / TAKEN (a report, stored) /
  REJECT / TEMPFAIL → answer `outcome.reply`, relay nothing.
- `finished(outcome, reply)` once the client has its answer (the downstream's for DELIVER):
  the log line, history, autolearn, the ad ledger's slots confirmed (2xx) or released (anything
  else). Never before the answer, never changing it. A transaction that ends without `finished`
  (RSET, a lost connection) releases its slots in `reset()`/`close()`.
- `refused(stage, reply, reason, ...)` for a refusal the flow did not decide itself (the
  downstream's answer to MAIL or RCPT, a limit of the front end): its log line and history row.

One id per transaction (`Transaction.queue_id`): in our replies, the log trail, the history rows
and the quarantine entry alike (README, "The log trail").

Advertising (Decree 91/2020, mailguard/advertising/): a recipient who refused the envelope
sender's domain is refused at RCPT; after DATA an ad goes to the recipients within their 24-hour
limit and is quarantined for the others (one entry each): a DELIVER outcome then names its
`rcpts`, and the front end delivers to those only.
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

from mailguard import reasons, trail
from mailguard.advertising import delivery as ad_delivery
from mailguard.advertising import outbound, unsubscribe
from mailguard.advertising.check import in_scope
from mailguard.advertising.identity import advertiser_key, recipient_key
from mailguard.config import Config
from mailguard.metrics import NO_METRICS, Recorder
from mailguard.metrics.recorder import Frontend
from mailguard.reports import desk
from mailguard.scan import headers
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.pipeline import Pipeline, ScanContext
from mailguard.scan.verdict import Action, Symbol, Verdict
from mailguard.smtp.replies import Reply
from mailguard.store.base import DuplicateId
from mailguard.store.records import MessageRecord, QuarantineEntry, SymbolRecord
from mailguard.store.summary import message_record

log = logging.getLogger("mailguard.flow")

ADVERTISING_CHECK = "ADVERTISING"  # the check whose details are the AdFindings

RECORD_TIMEOUT = 60.0  # seconds for one history row; it is written after the client's answer
REPORT_TIMEOUT = 600.0  # seconds for the steps after a report's answer (learning, a release, counting)
STORE_LOOKUP_TIMEOUT = 5.0  # seconds for a store read the client waits for (refusals at RCPT, the ad ledger)
MAX_FROM = 5  # From addresses a refusal is looked up for
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
    learner: object | None  # bayes.autolearn.ServiceLearner: users' reports learn through it
    never_block: object | None  # reports.never_block.NeverBlock
    wake_outbox: Callable[[], None] | None  # a new outbox item goes out at once
    metrics: Recorder


@dataclass(frozen=True)
class ScanServices:
    """FlowServices for `mailguard scan`: no store, no learning."""

    config: Config
    pipeline: Pipeline
    store: object = None
    hostname: str = "localhost"
    autolearn: object | None = None
    learner: object | None = None
    never_block: object | None = None
    wake_outbox: Callable[[], None] | None = None
    metrics: Recorder = NO_METRICS


class Kind(enum.Enum):
    DELIVER = "deliver"
    QUARANTINE = "quarantine"
    TAKEN = "taken"  # a spam report: mailguard took it (stored), nothing is relayed
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
    rcpts: tuple[str, ...] | None = None  # DELIVER: only these recipients (None: all of them)
    ad: ad_delivery.AdDelivery | None = field(default=None, repr=False, compare=False)
    report: desk.Taken | None = field(default=None, repr=False, compare=False)  # TAKEN: the stored report
    reason: str = ""  # REJECT / TEMPFAIL: the reason class (mailguard/reasons.py)
    started: float = 0.0  # time.perf_counter() when the data was in, for the log line
    scan_seconds: float | None = None


@dataclass
class Transaction:
    sender: str
    smtputf8: bool
    rcpts: list[str] = field(default_factory=list)
    early: list[Symbol] = field(default_factory=list)  # symbols of the connect/mail/rcpt phases
    policy: str | None = None  # the policy group, fixed by the first accepted recipient
    decree: bool | None = None  # recipients subject to Decree 91 ([advertising] domains), likewise
    report: str | None = None  # "spam" / "ham": a transaction to the abuse addresses ([reports])
    refused: Verdict | None = None  # the last early refusal (what `scan` shows when all were refused)
    queue_id: str = field(default_factory=new_queue_id)  # the transaction's one id


class MessageFlow:
    """The messages of one client connection. `record=False` (scan) writes nothing anywhere."""

    def __init__(self, services: FlowServices, client: ClientFacts,
                 spawn: Callable[[Awaitable[None]], None] | None = None, record: bool = True,
                 frontend: Frontend = "smtp") -> None:
        self.services = services
        self.client = client
        self.frontend = frontend
        self.txn: Transaction | None = None
        self._spawn = spawn
        self._record = record
        self._connect: asyncio.Future[list[Symbol]] | None = None
        # (address, policy group, decree, symbols, report kind): let go on by rcpt(), kept by accepted()
        self._pending_rcpt: tuple[str, str, bool, list[Symbol], str | None] | None = None
        # What the ad ledger did for the outcome not finished yet: its slots, and the copies held
        # for the other recipients of a DELIVER (undone unless the downstream took the message).
        self._reserved: list[int] = []
        self._held: list[str] = []

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
        self.reset()

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
        """None when the recipient may go on to the downstream, else our reply for it alone (2xx:
        taken by the flow itself, never relayed)."""
        assert self.txn is not None
        config, pipeline = self.services.config, self.services.pipeline
        if len(self.txn.rcpts) >= config.server.max_recipients:
            self.services.metrics.rcpt_refused("too_many_recipients")
            return Reply(452, "4.5.3 Error: too many recipients")
        # An abuse address ([reports]); `mailguard scan` treats it as any recipient.
        kind = config.reports.kind_of(address) if self._record and config.reports.enabled else None
        if self.txn.rcpts and (kind is None) != (self.txn.report is None):
            self.services.metrics.rcpt_refused("separate_transaction")
            return Reply(452, "4.5.3 Too many recipients: reports to the abuse address come in a separate transaction")
        if kind is not None and not config.reports.deliver_reports:
            return self._take_report_rcpt(address, kind)
        if kind is not None:  # delivered as well: the RCPT goes downstream, the report is ours too
            self._pending_rcpt = (address, "", False, [], kind)
            return None
        group = config.policy_group(address)
        decree = in_scope(config.advertising, (address,))
        if self.txn.policy is not None and (group != self.txn.policy or decree != self.txn.decree):
            # One verdict per message: recipients of another policy group come in a new transaction.
            self.services.metrics.rcpt_refused("separate_transaction")
            return Reply(452, "4.5.3 Too many recipients: this recipient's domain has another policy, "
                              "send it in a separate transaction")
        refused_ad = await self._refused_sender(address)
        if refused_ad is not None:
            reply, advertiser = refused_ad
            why = Verdict((Symbol(ad_delivery.AFTER_REFUSAL, 0.0, f"refused {advertiser}"),), 0.0,
                          config.actions.add_header, Action.REJECT)
            self._refusal("rcpt", self.txn.sender, (address,), reply, reasons.ADVERTISING, why)
            self.services.metrics.rcpt_refused("advertising_refusal")
            return reply
        facts = replace(self.facts((address,)), policy=group)
        symbols = await pipeline.run_phase("rcpt", facts) if pipeline.has_phase("rcpt") else []
        refused = pipeline.early_reject([*self.txn.early, *symbols]) if self.txn.early or symbols else None
        if refused is not None:  # decided before the message: SMTP can answer this recipient alone
            self.txn.refused = refused
            reply, reason = reasons.refusal(refused, config, self.txn.queue_id, at_rcpt=True)
            self._refusal("rcpt", self.txn.sender, (address,), reply, reason, refused)
            self.services.metrics.rcpt_refused("policy")
            self.services.metrics.symbols(s.name for s in refused.symbols)
            return reply
        self._pending_rcpt = (address, group, decree, symbols, None)
        return None

    def _take_report_rcpt(self, address: str, kind: str) -> Reply:
        """An abuse address: mailguard takes the message itself; the RCPT never goes downstream.
        A report to `spam@` and `notspam@` in one transaction is read as the first one's kind."""
        assert self.txn is not None
        if self.txn.report is None:
            self.txn.report = kind
        self.txn.policy = self.txn.policy or ""
        self.txn.rcpts.append(address)
        return Reply(250, "2.1.5 Ok (report address)")

    def refused(self, stage: str, reply: Reply, reason: str, sender: str = "", rcpt: str = "") -> None:
        """A refusal the front end gave (the downstream's answer to MAIL or RCPT, one of its
        limits): logged and recorded as ours are. `stage` "mail" (with `sender`: no transaction
        began), "rcpt" (with `rcpt`, which rcpt() had let go on) or "data" (every recipient)."""
        txn = self.txn
        if stage == "rcpt":
            self._pending_rcpt = None
        if txn is None:
            self._refusal(stage, sender, (), reply, reason)
        else:
            self._refusal(stage, txn.sender, (rcpt,) if rcpt else tuple(txn.rcpts) if stage == "data" else (),
                          reply, reason)

    def _refusal(self, stage: str, sender: str, rcpts: tuple[str, ...], reply: Reply, reason: str,
                 verdict: Verdict | None = None) -> None:
        """The log line and the history row of a refusal before the message's verdict (CONTRACTS.md:
        one row per message and per refusal, with the reply given): the envelope and why."""
        if not self._record:
            return
        c = self.client
        queue_id = self.txn.queue_id if self.txn is not None else new_queue_id()
        trail.write(trail.Entry(queue_id, trail.result_of(reply), stage, c.ip, c.name, sender, rcpts, reply,
                                reason, verdict))
        if self._spawn is None or self.services.store is None:
            return
        action = verdict.action.value if verdict else (Action.REJECT if reply.code >= 500 else Action.TEMPFAIL).value
        record = MessageRecord(
            queue_id=queue_id, time=time.time(), client_ip=c.ip, client_name=c.name, helo=c.helo,
            mail_from=sender, rcpts=rcpts, message_id="", subject="", from_header="",
            action=action, score=verdict.score if verdict else 0.0,
            required=verdict.required if verdict else self.services.config.actions.add_header,
            symbols=tuple(SymbolRecord(s.name, s.score, s.detail) for s in verdict.symbols) if verdict else (),
            headers="", size=0, outcome=str(reply).replace("\r\n", " "))
        self._spawn(self._write_history(record))

    async def _write_history(self, record: MessageRecord) -> None:
        try:
            async with asyncio.timeout(RECORD_TIMEOUT):
                await self.services.store.record_history(record)
        except Exception:
            log.exception("%s could not write the history row", record.queue_id)

    async def _refused_sender(self, address: str) -> tuple[Reply, str] | None:
        """Decree 91/2020 Art. 20(3): the recipient refused the envelope sender's domain as an
        advertiser, so its mail is refused here, for this recipient alone. (Refusals of another
        advertiser — an authenticated From domain — are known only after DATA.)"""
        store, settings = self.services.store, self.services.config.advertising
        if not (self._record and store is not None and settings.enabled):
            return None
        assert self.txn is not None
        advertiser, key = advertiser_key(self.txn.sender), recipient_key(address)
        if not advertiser or not key:
            return None
        try:
            refused = await asyncio.wait_for(store.refused(key, [advertiser]), STORE_LOOKUP_TIMEOUT)
        except Exception:
            log.exception("%s refusals could not be read; RCPT <%s> goes on", self.client.ip, address)
            return None  # the data phase asks again and holds the ad if it must
        if not refused:
            return None
        return Reply(550, f"5.7.1 <{address}> has refused advertising from {advertiser} (Decree 91/2020 Art. 20)"), advertiser

    def accepted(self, address: str) -> None:
        """The downstream took the recipient that rcpt() let go on."""
        assert self.txn is not None
        pending, self._pending_rcpt = self._pending_rcpt, None
        if pending is None or pending[0] != address:
            return
        _, group, decree, symbols, report = pending
        self.txn.policy = group
        self.txn.decree = decree
        if report is not None and self.txn.report is None:
            self.txn.report = report
        self.txn.rcpts.append(address)
        self.txn.early += symbols

    def reset(self) -> None:
        self.txn = None
        self._pending_rcpt = None
        self._settle(False)

    def _settle(self, delivered: bool) -> None:
        """The downstream took the message: confirm the ad ledger's slots. It did not, or the
        transaction ended without an answer: release them and delete the copies held for the
        other recipients (the client sends again; two copies otherwise)."""
        ids, self._reserved = self._reserved, []
        held, self._held = self._held, []
        if self._spawn is None:
            return
        store = self.services.store
        if ids:
            self._spawn(_in_background(store.confirm(ids) if delivered else store.release(ids),
                                       f"ad ledger slots {ids} could not be {'confirmed' if delivered else 'released'}"))
        for queue_id in () if delivered else held:
            self._spawn_undo(queue_id)

    # --- the data -----------------------------------------------------------------------------

    async def data(self, raw: bytes, queue_id: str | None = None) -> Outcome:
        """Scan and decide. A QUARANTINE outcome is durable when this returns (recording flows)."""
        assert self.txn is not None
        started = time.perf_counter()
        services = self.services
        facts = self.facts(tuple(self.txn.rcpts), queue_id or self.txn.queue_id, received_at=time.time())
        ctx = ScanContext(facts, raw)
        if self.txn.report is not None:
            return replace(await self._take_report(ctx, self.txn.report), started=started)
        try:
            verdict = await asyncio.wait_for(services.pipeline.evaluate(ctx, self.txn.early),
                                             timeout=services.config.server.scan_timeout + 1.0)
        except Exception:
            log.exception("%s scan failed", facts.queue_id)
            return Outcome(Kind.TEMPFAIL, None, reasons.tempfail(
                "4.3.0 Temporary failure while scanning the message, try again later", facts.queue_id),
                reason=reasons.ERROR, ctx=ctx, started=started)
        scanned = time.perf_counter() - started
        return replace(await self._outcome(verdict, ctx), started=started, scan_seconds=scanned)

    async def _outcome(self, verdict: Verdict, ctx: ScanContext) -> Outcome:
        config = self.services.config
        queue_id = ctx.facts.queue_id
        if verdict.action is Action.REJECT:
            reply, reason = reasons.refusal(verdict, config, queue_id)
            return Outcome(Kind.REJECT, verdict, reply, reason=reason, ctx=ctx)
        if verdict.action is Action.TEMPFAIL:
            return Outcome(Kind.TEMPFAIL, verdict, reasons.tempfail(
                "4.7.1 Message cannot be checked now, try again later", queue_id), reason=reasons.UNCHECKED, ctx=ctx)
        if verdict.action is Action.QUARANTINE:
            if self._record:
                try:
                    await self._quarantine(ctx, verdict)
                except Exception:
                    log.exception("%s quarantine write failed", ctx.facts.queue_id)
                    return _storage_failure(verdict, ctx)
            return Outcome(Kind.QUARANTINE, verdict, Reply(250, f"2.0.0 Ok: queued as {ctx.facts.queue_id}"), ctx=ctx)
        findings = await self._ad_findings(ctx)
        if findings is not None and config.advertising.outbound:
            refusal = outbound.refusal(findings)
            if refusal is not None:
                return Outcome(Kind.REJECT, verdict, refusal, reason=reasons.ADVERTISING, ctx=ctx)
        ad = None
        if findings is not None and self._record:
            try:
                ad = await self._ledger(findings, ctx)
            except Exception:
                log.exception("%s the advertising ledger failed", ctx.facts.queue_id)
                return _storage_failure(verdict, ctx)
        if ad is not None and ad.held and config.advertising.outbound:
            self._settle(False)  # a submission over the limit or after a refusal is refused whole
            return Outcome(Kind.REJECT, verdict, outbound.held_refusal(ad), reason=reasons.ADVERTISING, ctx=ctx)
        extra = [self.received_header(ctx.facts)] if config.relay.mode == "front" else []
        tag = config.actions_for(ctx.facts.policy).subject_tag if verdict.action is Action.REWRITE_SUBJECT else ""
        if findings is not None and findings.label == "missing" and config.advertising.label_subject:
            tag = "[QC] " + tag  # the label goes first (Art. 18), before our spam tag
        if ad is None:
            return Outcome(Kind.DELIVER, verdict, None, headers.added_fields(verdict, config.authserv_id, extra),
                           tag, ctx=ctx)
        return await self._deliver_ad(ad, verdict, ctx, extra, tag)

    async def _ad_findings(self, ctx: ScanContext):
        output = await ctx.output_of(ADVERTISING_CHECK)
        return output.details if output is not None else None

    async def _ledger(self, findings, ctx: ScanContext) -> ad_delivery.AdDelivery:
        """Refusals and the 24-hour ledger for this ad; the slots are ours until `finished`."""
        services = self.services
        scores = {name: services.pipeline.score_of(name) for name in (ad_delivery.OVER_LIMIT, ad_delivery.AFTER_REFUSAL)}
        ad = await asyncio.wait_for(
            ad_delivery.decide(findings, ctx.facts.rcpts, ctx.facts.mail_from,
                               [a.address for a in ctx.message.addresses("from")][:MAX_FROM], services.config.advertising,
                               in_scope(services.config.advertising, ctx.facts.rcpts),
                               services.store, services.store, scores, now=ctx.facts.received_at),
            STORE_LOOKUP_TIMEOUT)
        self._reserved = ad.reserved
        return ad

    async def _deliver_ad(self, ad: ad_delivery.AdDelivery, verdict: Verdict, ctx: ScanContext,
                          extra: list[str], tag: str) -> Outcome:
        """Deliver to the recipients within their limits; quarantine a copy for each of the others
        (durable before the answer, as any quarantine)."""
        config, pipeline = self.services.config, self.services.pipeline
        for rcpt, why in ad.held.items():
            held_verdict = pipeline.amended(verdict, ctx.facts.policy, [why])
            held_ctx = ScanContext(replace(ctx.facts, rcpts=(rcpt,), queue_id=new_queue_id()), ctx.raw)
            held_ctx.__dict__["message"] = ctx.message  # parsed once: the copy shares it
            try:
                await self._quarantine(held_ctx, held_verdict)
            except Exception:
                log.exception("%s quarantine write for <%s> failed", ctx.facts.queue_id, rcpt)
                self._settle(False)  # the copies held so far go, the slots come back
                return _storage_failure(verdict, ctx)
            self._held.append(held_ctx.facts.queue_id)
            log.info("%s held for <%s> as %s: %s", ctx.facts.queue_id, rcpt, held_ctx.facts.queue_id, why.detail)
        if not ad.deliver:
            self._held = []  # every recipient held: those copies are the message's answer
            return Outcome(Kind.QUARANTINE, verdict, Reply(250, f"2.0.0 Ok: queued as {ctx.facts.queue_id}"),
                           ctx=ctx, ad=ad)
        fields = headers.added_fields(verdict, config.authserv_id, [*extra, ad.header])
        return Outcome(Kind.DELIVER, verdict, None, fields, tag, ctx=ctx,
                       rcpts=ad.deliver if ad.held else None, ad=ad)

    async def _take_report(self, ctx: ScanContext, kind: str) -> Outcome:
        """A message to an abuse address: the reporter's identity (the scan's AUTH results), the
        rate limit, the intake; stored durably before the 250, acted on after it."""
        services, config = self.services, self.services.config
        assert self.txn is not None
        verdict = None
        try:  # the scan gives AUTH's results, which say whether the reporter is who they say
            verdict = await asyncio.wait_for(services.pipeline.evaluate(ctx, self.txn.early),
                                             config.server.scan_timeout + 1.0)
        except Exception:
            log.exception("%s scan of a report failed; the reporter is judged without it", ctx.facts.queue_id)
        try:
            taken = await asyncio.wait_for(desk.take(ctx, kind, config.reports, config.trusted_networks, services.store),
                                           config.relay_data_timeout)
        except Exception:
            log.exception("%s report could not be taken", ctx.facts.queue_id)
            return Outcome(Kind.TEMPFAIL, None, Reply(451, "4.3.0 Temporary storage failure, try again later"), ctx=ctx)
        if taken.reply.ok and config.reports.deliver_reports and verdict is not None:
            # Relayed to the mailbox of that name too, with our headers; the 250 is the downstream's.
            extra = [self.received_header(ctx.facts)] if config.relay.mode == "front" else []
            return Outcome(Kind.DELIVER, verdict, None, headers.added_fields(verdict, config.authserv_id, extra),
                           ctx=ctx, report=taken)
        if taken.reply.ok:
            return Outcome(Kind.TAKEN, None, taken.reply, ctx=ctx, report=taken)
        return Outcome(Kind.TEMPFAIL if taken.reply.code < 500 else Kind.REJECT, None, taken.reply, ctx=ctx)

    def _spawn_undo(self, queue_id: str) -> None:
        if self._spawn is not None:
            self._spawn(_in_background(self.services.store.quarantine_delete(queue_id),
                                       f"{queue_id} held copy could not be deleted",
                                       f"{queue_id} held copy deleted: the message it was held from was not delivered"))

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
        (its retry must not leave two copies). The entry keeps the fields a delivered copy would
        get before our X-Spam ones (our Received in front mode, Authentication-Results): a
        released copy carries them too."""
        store = self.services.store
        front = self.services.config.relay.mode == "front"
        for _ in range(QUARANTINE_ID_TRIES):
            record = message_record(ctx, verdict, outcome="quarantined")
            added = (self.received_header(ctx.facts), *verdict.headers) if front else verdict.headers
            write = asyncio.ensure_future(store.quarantine(QuarantineEntry(record, ctx.raw, added)))
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

    def finished(self, outcome: Outcome, reply: Reply, postfix_id: str = "") -> None:
        """The client has its answer: log and record the message (the row in the background,
        bounded); what the ad ledger did for it is kept or undone by that answer (`_settle`).
        `postfix_id`: Postfix's queue id, when the front end knows it (the milter)."""
        self._log_outcome(outcome, reply, postfix_id)
        self.txn = None
        self._pending_rcpt = None
        self._settle(reply.ok)
        self._count(outcome)
        if self._record and outcome.ctx is not None and outcome.verdict is not None and self._spawn is not None:
            self._spawn(self._record_message(outcome.ctx, outcome.verdict, str(reply).replace("\r\n", " ")))
        if outcome.report is not None and self._spawn is not None:
            if reply.ok:
                self._spawn(self._act_on_report(outcome.report))
            elif outcome.report.record is not None:  # relayed and refused: the client's retry brings it again
                report_id = outcome.report.record.id
                self._spawn(_in_background(self.services.store.delete_report(report_id),
                                           f"{report_id} report could not be deleted after the downstream refused it"))
        if self._record and reply.ok and outcome.ctx is not None and self._spawn is not None:
            if outcome.ad is not None and outcome.kind is Kind.DELIVER:
                self._spawn(unsubscribe.remember(self.services.store, outcome.ctx, outcome.ad))
            if self.services.config.advertising.outbound:
                self._spawn(unsubscribe.refusals_sent(self.services.store, outcome.ctx))

    def _log_outcome(self, outcome: Outcome, reply: Reply, postfix_id: str) -> None:
        if not self._record or outcome.ctx is None:
            return
        facts = outcome.ctx.facts
        if reply.ok:
            result, reason = {Kind.QUARANTINE: "quarantined", Kind.TAKEN: "taken"}.get(outcome.kind, "accepted"), ""
        else:  # a DELIVER not taken: the downstream's answer, or a 4xx of ours for its failure
            result, reason = trail.result_of(reply), outcome.reason or reasons.DOWNSTREAM
        total = time.perf_counter() - outcome.started if outcome.started else None
        trail.write(trail.Entry(
            facts.queue_id, result, "data", facts.client.ip, facts.client.name, facts.mail_from, tuple(facts.rcpts),
            reply, reason, outcome.verdict, len(outcome.ctx.raw), postfix_id,
            outcome.scan_seconds * 1000 if outcome.scan_seconds is not None else None,
            total * 1000 if total is not None else None))

    def _count(self, outcome: Outcome) -> None:
        """The message in the metrics, by what was done with it (a report taken is not a message)."""
        if outcome.kind is Kind.TAKEN:
            return
        verdict = outcome.verdict
        action = _ACTION_OF.get(outcome.kind) or (verdict.action.value if verdict else Action.ACCEPT.value)
        self.services.metrics.message(action, self.frontend)
        if verdict is not None:
            self.services.metrics.symbols(s.name for s in verdict.symbols)

    async def _act_on_report(self, taken: desk.Taken) -> None:
        from mailguard.smtp.release import release

        services = self.services
        actions = desk.ReportActions(services.config, services.store, services.learner, services.never_block,
                                     services.wake_outbox, release)
        try:
            async with asyncio.timeout(REPORT_TIMEOUT):
                await actions.run(taken)
        except Exception:
            log.exception("%s acting on the report failed", taken.record.id if taken.record else "-")

    async def _record_message(self, ctx: ScanContext, verdict: Verdict, outcome: str) -> None:
        """The history row and autolearn; a failure or a store that does not answer in time is
        logged, never turned into a second answer."""
        await self._write_history(message_record(ctx, verdict, outcome))
        if self.services.autolearn is not None:
            self.services.autolearn.consider(ctx.raw, verdict)


def _storage_failure(verdict: Verdict, ctx: ScanContext) -> Outcome:
    return Outcome(Kind.TEMPFAIL, verdict, reasons.tempfail("4.3.0 Temporary storage failure, try again later",
                                                            ctx.facts.queue_id), reason=reasons.ERROR, ctx=ctx)

# What the flow did overrides the verdict's action (an ad held or refused, a storage failure);
# a DELIVER carries the verdict's own (accept, add_header, rewrite_subject).
_ACTION_OF = {Kind.QUARANTINE: Action.QUARANTINE.value, Kind.REJECT: Action.REJECT.value,
              Kind.TEMPFAIL: Action.TEMPFAIL.value}


async def _in_background(work: Awaitable, failed: str, done: str = "") -> None:
    """A store write after the answer (confirm or release slots, undo a held copy or a report):
    bounded by RECORD_TIMEOUT, logged when it fails, never a second answer."""
    try:
        async with asyncio.timeout(RECORD_TIMEOUT):
            await work
        if done:
            log.warning(done)
    except Exception:  # a pending ad slot lapses by itself (store/ledger.py PENDING_SECONDS)
        log.exception(failed)


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

