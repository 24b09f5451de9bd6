"""The record of one message, for history and quarantine, from what the scan already parsed."""
from __future__ import annotations

from mailguard.scan.headers import split_header_block
from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Verdict
from mailguard.store.records import MessageRecord, SymbolRecord

MAX_FIELD = 998  # one header line's worth; history keeps the full header block separately


def message_record(ctx: ScanContext, verdict: Verdict, outcome: str) -> MessageRecord:
    facts = ctx.facts
    msg = ctx.message
    block, _ = split_header_block(ctx.raw)
    return MessageRecord(
        queue_id=facts.queue_id,
        time=facts.received_at,
        client_ip=facts.client.ip,
        client_name=facts.client.name,
        helo=facts.client.helo,
        mail_from=facts.mail_from,
        rcpts=tuple(facts.rcpts),
        message_id=(msg.message_id or "")[:MAX_FIELD],
        subject=(msg.subject or "")[:MAX_FIELD],
        from_header=(msg.from_header or "")[:MAX_FIELD],
        action=verdict.action.value,
        score=verdict.score,
        required=verdict.required,
        symbols=tuple(SymbolRecord(s.name, s.score, s.detail) for s in verdict.symbols),
        headers=block.decode("utf-8", "replace").replace("\x00", ""),
        size=len(ctx.raw),
        outcome=outcome,
    )
