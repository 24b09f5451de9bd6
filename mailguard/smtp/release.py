"""Releasing a quarantined message: relay the stored bytes to the downstream, as a session would."""
from __future__ import annotations

from dataclasses import dataclass

from mailguard.config import Config
from mailguard.scan import headers
from mailguard.scan.facts import ClientFacts
from mailguard.scan.verdict import Action, Symbol, Verdict
from mailguard.smtp.relay import Downstream, DownstreamFailure
from mailguard.store.records import QuarantineEntry


@dataclass(frozen=True)
class ReleaseResult:
    delivered: bool  # the downstream answered 250 to DATA for at least one recipient
    replies: list[str]  # what the downstream said, for the operator


def _verdict_of(entry: QuarantineEntry) -> Verdict:
    r = entry.record
    return Verdict(tuple(Symbol(s.name, s.score, s.detail) for s in r.symbols), r.score, r.required,
                   Action(r.action), None, r.queue_id, headers=entry.added_headers)


async def release(entry: QuarantineEntry, config: Config) -> ReleaseResult:
    """Relay in the configured mode (front: the original client again through XCLIENT, so Postfix
    judges the message as it would have); the caller deletes the entry only when delivered."""
    r = entry.record
    ds = Downstream(config.downstream, config.relay, config.hostname, config.relay_data_timeout)
    client = ClientFacts(ip=r.client_ip, name=r.client_name, helo=r.helo)
    params = []
    if any(b > 127 for b in entry.raw):
        params.append("BODY=8BITMIME")
    if not (r.mail_from + "".join(r.rcpts)).isascii():
        params.append("SMTPUTF8")
    replies: list[str] = []
    try:
        reply = await ds.mail(client, config.relay.mode, r.mail_from, params)
        replies.append(f"MAIL: {reply}")
        if not reply.ok:
            return ReleaseResult(False, replies)
        accepted = 0
        for rcpt in r.rcpts:
            reply = await ds.rcpt(rcpt, [])
            replies.append(f"RCPT <{rcpt}>: {reply}")
            accepted += reply.ok
        if not accepted:
            await ds.rset()
            return ReleaseResult(False, replies)
        fields = headers.added_fields(_verdict_of(entry), config.authserv_id, [])
        message = headers.forwarded_parts(entry.raw, list(fields), authserv_id=config.authserv_id)
        reply = await ds.data(message)
        replies.append(f"DATA: {reply}")
        return ReleaseResult(reply.ok, replies)
    except DownstreamFailure as failure:
        replies.append(f"{failure.reply} ({failure.why})" if failure.why else str(failure.reply))
        return ReleaseResult(False, replies)
    finally:
        await ds.quit()
