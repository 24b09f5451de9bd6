"""The report desk: what the flow does with a message sent to an abuse address ([reports]).

Before the answer (the client waits): who may report, the per-reporter rate limit, the intake of
the forwarded originals, and the report stored durably — then `250 Report received as ID` (or a
clear refusal). After the answer, each step recorded with the report: learn the originals (spam,
or ham for `notspam@`, which also releases a quarantined original), count them against their
sources (the local block list fills from distinct reporters), record the reporter's refusal of an
advertiser, acknowledge, and report onward in ARF — the last two through the durable outbox.
"""
from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailguard import domains
from mailguard.advertising.identity import advertiser_key, recipient_key
from mailguard.auth.header import passed_domains
from mailguard.ipaddrs import in_networks, plain_ip
from mailguard.reports.check import message_sources
from mailguard.reports.intake import ReportedOriginal, read_report
from mailguard.scan.pipeline import ScanContext
from mailguard.smtp.replies import Reply
from mailguard.store.outbox import OutboxItem
from mailguard.store.refusals import Refusal
from mailguard.store.reports import ReportRecord

log = logging.getLogger("mailguard.reports")

RATE_WINDOW = 3600.0
MAX_LINK_SOURCES = 5  # link domains of one original counted


def new_report_id() -> str:
    return "R" + secrets.token_hex(6).upper()


@dataclass(frozen=True)
class Taken:
    reply: Reply
    record: ReportRecord | None = None  # stored (durably) when the reply is 2xx
    originals: tuple[ReportedOriginal, ...] = ()


async def may_report(ctx: ScanContext, settings, trusted_networks) -> str:
    """"" when the sender may report, else why not. Local users only: the envelope sender in
    `local_domains`, and either the client in `[server] trusted_networks` (Postfix handing over
    what its users submitted) or the sender's domain proven by SPF or a DKIM signature."""
    reporter = recipient_key(ctx.facts.mail_from)
    domain = reporter.rpartition("@")[2]
    if not reporter or not domains.covering(domain, settings.local_domains):
        return "reports are taken from this site's own users only"
    if in_networks(plain_ip(ctx.facts.client.ip), tuple(trusted_networks)):
        return ""
    auth = await ctx.output_of("AUTH")
    proven = auth.details.authenticated_domains() if auth is not None and auth.details is not None else frozenset()
    if domain in proven:
        return ""
    return f"the sender {reporter} is not authenticated (SPF or DKIM for {domain})"


async def take(ctx: ScanContext, kind: str, settings, trusted_networks, store) -> Taken:
    """Decide and store; the reply is what the reporter's client hears."""
    why = await may_report(ctx, settings, trusted_networks)
    if why:
        log.info("%s report refused: %s", ctx.facts.queue_id, why)
        return Taken(Reply(550, f"5.7.1 Report refused: {why}"))
    reporter = recipient_key(ctx.facts.mail_from)
    now = ctx.facts.received_at
    # Over the hourly limit a report is kept (the reporter is told) but not acted on: one user
    # cannot flood the model or the block list.
    limited = await store.reports_by(reporter, now - RATE_WINDOW) >= settings.max_reports_per_hour
    intake = read_report(ctx.message, tuple(trusted_networks), tuple(settings.local_domains))
    first = intake.originals[0] if intake.originals else None
    record = ReportRecord(
        id=new_report_id(), received=now, reporter=reporter, kind=kind,  # type: ignore[arg-type]
        sender=first.sender if first else "", client_ip=first.client_ip if first else None,
        subject=(first.subject if first else ctx.message.subject or "")[:998],
        message_id=(first.message_id if first else "")[:998],
        status=("rate-limited" if limited else "received") if first else "unparsed", shape=first.shape if first else "",
        steps=(f"{len(intake.originals)} original(s) read",) if first else (f"unparsed: {intake.problem}",),
        raw=ctx.raw)
    await store.add_report(record)
    if first is None:
        return Taken(Reply(250, f"2.0.0 Report stored as {record.id}, but {intake.problem}"), record)
    if limited:
        return Taken(Reply(250, f"2.0.0 Report stored as {record.id}; more than {settings.max_reports_per_hour} "
                                "reports in the last hour are kept but not acted on"), record)
    return Taken(Reply(250, f"2.0.0 Report received as {record.id}, thank you"), record, intake.originals)


@dataclass
class ReportActions:
    """The steps after the answer; every collaborator is given (the flow's services)."""

    config: object
    store: object
    learner: object | None  # bayes.autolearn.ServiceLearner; None when [bayes] is off
    never_block: object  # reports.never_block.NeverBlock
    wake_outbox: Callable[[], None] | None = None
    release: Callable | None = None  # async (QuarantineEntry, config) -> ReleaseResult

    async def run(self, taken: Taken) -> None:
        record = taken.record
        assert record is not None
        steps = (self._learn, self._sources, self._refusals, self._release_ham, self._acknowledge, self._forward)
        if record.status != "received":  # unparsed, or over the reporter's hourly limit: kept, and said so
            steps = (self._acknowledge,)
        for step in steps:
            try:
                for line in await step(record, taken.originals):
                    await self.store.add_report_step(record.id, line)
            except Exception as exc:
                log.exception("%s report step %s failed", record.id, step.__name__)
                await self.store.add_report_step(record.id, f"{step.__name__.strip('_')} failed: {type(exc).__name__}")
        if self.wake_outbox is not None:
            self.wake_outbox()

    async def _learn(self, record: ReportRecord, originals: Sequence[ReportedOriginal]) -> list[str]:
        if self.learner is None or not originals:
            return []
        raws = [o.raw for o in originals if o.raw]  # an ARF without the original has nothing to learn
        if not raws:
            return []
        await self.learner.learn([(raw, record.kind) for raw in raws])
        return [f"learnt {record.kind}"]  # the exact text `reports stats` counts

    async def _sources(self, record: ReportRecord, originals: Sequence[ReportedOriginal]) -> list[str]:
        if record.kind != "spam":
            return []
        s = self.config.reports
        lines = []
        for original in originals:
            for kind, value in self._sources_of(original):
                if self.never_block.covers(kind, value):
                    lines.append(f"not counted {kind}:{value} (never-block list)")
                    continue
                entry = await self.store.count_report(kind, value, record.reporter, record.received,
                                                      s.window_seconds, s.block_after_reporters, s.block_seconds)
                lines.append(f"listed {entry.name} ({entry.reporters} reporters)" if entry else f"counted {kind}:{value}")
        return lines

    def _sources_of(self, original: ReportedOriginal) -> list[tuple[str, str]]:
        """In the one normal form the REPORTED_SOURCE check asks in. The sender's domain only when
        the original was authenticated: our own Authentication-Results on it (forged copies are
        removed on the way in) names what passed; else the address alone."""
        sender_domain = domains.organizational(original.sender.rpartition("@")[2]) if "@" in original.sender else ""
        return message_sources(
            client_ip=original.client_ip, addresses=[original.sender],
            authenticated=[sender_domain] if sender_domain and sender_domain in self._authenticated(original.raw) else [],
            links=original.link_domains[:MAX_LINK_SOURCES])

    def _authenticated(self, raw: bytes) -> set[str]:
        from mailguard.scan.message import ParsedMessage

        authserv = self.config.authserv_id
        proven: set[str] = set()
        for value in ParsedMessage.from_bytes(raw).headers_named("authentication-results"):
            proven |= {domains.organizational(d) for d in passed_domains(value, authserv)}
        return proven - {""}

    async def _refusals(self, record: ReportRecord, originals: Sequence[ReportedOriginal]) -> list[str]:
        """Decree 91/2020 Art. 20(3): reporting an ad as spam refuses its advertiser."""
        if record.kind != "spam":
            return []
        from mailguard.advertising.detect import detect
        from mailguard.scan.message import ParsedMessage

        lines = []
        for original in originals:
            msg = ParsedMessage.from_bytes(original.raw)
            if not (msg.headers_named("x-advertising") or detect(msg).is_ad):
                continue
            advertiser = advertiser_key(original.sender)
            if advertiser and await self.store.add_refusal(
                    Refusal(record.reporter, advertiser, record.received, "report")):
                lines.append(f"refusal of {advertiser} recorded (Decree 91/2020 Art. 20)")
        return lines

    async def _release_ham(self, record: ReportRecord, originals: Sequence[ReportedOriginal]) -> list[str]:
        """notspam@ naming a quarantined message: released to its recipients."""
        if record.kind != "ham" or self.release is None:
            return []
        wanted = {o.message_id for o in originals if o.message_id}
        lines = []
        for entry_record in await self.store.quarantine_list(limit=1000):
            if entry_record.message_id not in wanted or record.reporter not in {recipient_key(r) for r in entry_record.rcpts}:
                continue
            entry = await self.store.quarantine_get(entry_record.queue_id)
            if entry is None:
                continue
            result = await self.release(entry, self.config)
            if result.delivered:
                await self.store.quarantine_delete(entry_record.queue_id)
                lines.append(f"released {entry_record.queue_id} from quarantine")
            else:
                lines.append(f"release of {entry_record.queue_id} failed: {'; '.join(result.replies)[:200]}")
        return lines

    async def _acknowledge(self, record: ReportRecord, originals: Sequence[ReportedOriginal]) -> list[str]:
        s = self.config.reports
        if not s.acknowledge:
            return []
        from mailguard.reports.ack import acknowledgement

        # Behind Postfix the reporter never sees our SMTP reply: this message is how they learn.
        outcome = {"received": "đã ghi nhận / recorded",
                   "rate-limited": "đã lưu, quá nhiều báo cáo trong một giờ / kept, too many reports in an hour",
                   }.get(record.status, "không tìm thấy thư chuyển tiếp, hãy đính kèm thư rác / "
                                        "no forwarded message found: attach the spam as a file")
        raw = acknowledgement(record.reporter, from_=s.acknowledge_sender, kind=record.kind,
                              subject_of_original=record.subject, report_id=record.id, outcome=outcome)
        # The null sender: an acknowledgement must never be answered (RFC 3834 §3.3, RFC 5321 §4.5.5).
        await self.store.enqueue(OutboxItem(id=f"{record.id}-ack", sender="", rcpts=(record.reporter,), raw=raw,
                                            created=time.time(), next_try=0.0, purpose="ack"))
        return [f"acknowledgement queued to {record.reporter}"]

    async def _forward(self, record: ReportRecord, originals: Sequence[ReportedOriginal]) -> list[str]:
        s = self.config.reports
        if record.kind != "spam" or not s.forward_to:
            return []
        if s.forward_mode == "digest":
            return [f"kept for the daily ARF digest to {', '.join(s.forward_to)}"]
        from mailguard.reports.arf import feedback_report

        lines = []
        sender = s.acknowledge_sender
        for i, original in enumerate(originals):
            raw = feedback_report(original.raw, reporter_domain=record.reporter.rpartition("@")[2],
                                  source_ip=original.client_ip, original_mail_from=original.sender,
                                  original_rcpt=record.reporter, arrival=record.received,
                                  to=", ".join(s.forward_to), from_=sender)
            await self.store.enqueue(OutboxItem(id=f"{record.id}-arf{i}", sender=sender, rcpts=tuple(s.forward_to),
                                                raw=raw, created=time.time(), next_try=0.0, purpose="arf"))
            lines.append(f"ARF report queued to {', '.join(s.forward_to)}")
        return lines
