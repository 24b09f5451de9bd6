"""Intake of a spam report sent by forwarding: the originals a report holds, whatever shape the
reporter's client gave it. Pure parsing, no I/O.

The shapes, tried in this order:
1. **arf**: an RFC 5965 feedback report (`multipart/report; report-type=feedback-report`) as
   mailbox providers send them: the original is its `message/rfc822` (or `text/rfc822-headers`)
   part; the client is the feedback part's `Source-IP` first, the sender the original's From
   first, then `Original-Mail-From`.
2. **attached**: each message attached as `message/rfc822` or `text/rfc822-headers` ("forward
   as attachment": Thunderbird, Outlook, Gmail), at most MAX_ATTACHED of them.
3. **inline**: a forward written into the body (Gmail, Outlook, Apple Mail, Thunderbird, their
   Vietnamese interfaces; `reports/forwards.py` has the markers): the plain text parts are
   searched first, then the HTML ones reduced to text; the original is rebuilt from the quoted
   header lines and what follows them (and the HTML after the client's quote container).
4. Nothing of these: no originals and NOTHING_FOUND, the text the reporter is told (OUTLOOK_ITEM
   when the report holds an Outlook `.msg` item, which is not a MIME message).

An attached original its client sent base64 or quoted-printable (RFC 2046 forbids it, some
clients do it) is decoded first.

The client of an attached original comes from its Received chain (`reports/received.py`: the
first hop outside the reporter's provider); an inline one has none unless the reporter pasted
its Received lines. `read_report` never raises.
"""
from __future__ import annotations

import binascii
import logging
import quopri
import re
from dataclasses import dataclass
from typing import Literal

from mailguard.dnsbl.targets import lookupable_ip
from mailguard.reports import feedback
from mailguard.reports.forwards import InlineForward, find_inline, html_tail, rebuild, sender_of
from mailguard.reports.received import first_outside_hop
from mailguard.scan.caps import MAX_ATTACHED
from mailguard.scan.message import ParsedMessage

log = logging.getLogger("mailguard.reports")

Shape = Literal["attached", "inline", "arf"]

NOTHING_FOUND = "no forwarded message found: attach the spam as a file, or forward it inline"
UNREADABLE = "the forwarded message could not be read: attach the spam as a file"
OUTLOOK_ITEM = ("an Outlook item (.msg) cannot be read: forward the spam as an attachment in Internet "
                "format (.eml), or forward it inline")
MAX_SUBJECT_CHARS = 998


@dataclass(frozen=True)
class ReportedOriginal:
    shape: Shape
    # attached / arf: the original's bytes as attached (a text/rfc822-headers part: its header
    # block; b"" only for an ARF report carrying no copy of the original); inline: a message
    # rebuilt from the quoted header lines and the quoted body.
    raw: bytes
    sender: str  # the original's From address ("" unknown)
    client_ip: str | None  # the original's client: first hop outside the reporter's provider
    subject: str
    message_id: str
    link_domains: tuple[str, ...]  # registered domains of the links in the original's body


@dataclass(frozen=True)
class Intake:
    originals: tuple[ReportedOriginal, ...]
    problem: str = ""  # "" or, when nothing could be read, why (told to the reporter)


def read_report(report: ParsedMessage, trusted_networks: tuple, local_domains: tuple[str, ...]) -> Intake:
    """The originals in `report` (a message sent to a report address). Never raises."""
    try:
        trusted = tuple(trusted_networks or ())
        local = tuple(d for d in (local_domains or ()) if isinstance(d, str))
        return _read(report, trusted, local)
    except Exception as exc:  # a bug or a surprise of hostile input: the reporter is told
        log.warning("report intake failed (%s)", type(exc).__name__)
        return Intake((), UNREADABLE)


def _read(report: ParsedMessage, trusted: tuple, local: tuple[str, ...]) -> Intake:
    if not isinstance(report, ParsedMessage):
        return Intake((), NOTHING_FOUND)
    if feedback.is_feedback_report(report):
        originals = _arf(report, trusted, local)
        if originals:
            return Intake(originals)
    originals = tuple(_attached(m, "attached", trusted, local) for m in report.attached[:MAX_ATTACHED]
                      if _has_content(m))
    if originals:
        return Intake(originals)
    original = _inline(report, trusted, local)
    if original is not None:
        return Intake((original,))
    if any((name or "").lower().endswith(".msg") for name in report.attachment_names):
        return Intake((), OUTLOOK_ITEM)
    return Intake((), NOTHING_FOUND)


def _has_content(message: ParsedMessage) -> bool:
    return bool(message.headers) or bool(message.text.strip())


_FIELD_START = re.compile(rb"[!-9;-~]{1,76}:")


def _opened(message: ParsedMessage) -> tuple[ParsedMessage, bytes]:
    """An attached message and its bytes; one its client sent base64 or quoted-printable
    (RFC 2046 §5.2.1 forbids it; some clients do it) is decoded and parsed on its own."""
    raw = message.source
    if message.headers or not raw:
        return message, raw
    data = raw.strip()
    for decode in (binascii.a2b_base64, quopri.decodestring):
        try:
            decoded = decode(data)
        except (binascii.Error, ValueError):
            continue
        if decoded != data and _FIELD_START.match(decoded):
            return ParsedMessage.from_bytes(decoded), decoded
    return message, raw


def _first_address(message: ParsedMessage, name: str) -> str:
    for address in message.addresses(name):
        if "@" in address.address:
            return address.address.strip()
    return ""


def _attached(message: ParsedMessage, shape: Shape, trusted: tuple, local: tuple[str, ...],
              client_ip: str | None = None, sender: str = "") -> ReportedOriginal:
    message, raw = _opened(message)
    if client_ip is None:
        client_ip = first_outside_hop(message.headers_named("received"), trusted, local)
    return ReportedOriginal(
        shape=shape,
        raw=raw,
        sender=_first_address(message, "from") or sender,
        client_ip=client_ip,
        subject=(message.subject or "").strip()[:MAX_SUBJECT_CHARS],
        message_id=(message.message_id or "").strip()[:MAX_SUBJECT_CHARS],
        link_domains=message.domains,
    )


def _arf(report: ParsedMessage, trusted: tuple, local: tuple[str, ...]) -> tuple[ReportedOriginal, ...]:
    fields = feedback.feedback_fields(report)
    source = lookupable_ip(feedback.first(fields, "source-ip"))
    source_ip = str(source) if source is not None else None
    mail_from = sender_of(feedback.first(fields, "original-mail-from"))
    originals = tuple(_attached(m, "arf", trusted, local, source_ip, mail_from)
                      for m in report.attached[:MAX_ATTACHED] if _has_content(m))
    if originals or not (fields and (source_ip or mail_from)):
        return originals
    # No copy of the original (RFC 5965 wants one, some senders strip it): what the fields say.
    return (ReportedOriginal("arf", b"", mail_from, source_ip, "", "", ()),)


def _inline(report: ParsedMessage, trusted: tuple, local: tuple[str, ...]) -> ReportedOriginal | None:
    texts = [p for p in report.parts if not p.is_attachment and p.content_type == "text/plain"]
    texts += [p for p in report.parts if not p.is_attachment and p.content_type == "text/html"]
    forward: InlineForward | None = None
    for part in texts:
        forward = find_inline(part.text)
        if forward is not None:
            break
    if forward is None:
        return None
    raw = rebuild(forward, html_tail(report.html))
    original = ParsedMessage.from_bytes(raw)
    received = forward.named("Received")
    return ReportedOriginal(
        shape="inline",
        raw=raw,
        sender=sender_of(forward.first("From")),
        client_ip=first_outside_hop(received, trusted, local) if received else None,
        subject=forward.first("Subject").strip()[:MAX_SUBJECT_CHARS],
        message_id=forward.first("Message-ID").strip()[:MAX_SUBJECT_CHARS],
        link_domains=original.domains,
    )
