"""Spam reports onward, in the Abuse Reporting Format (ARF, RFC 5965): one message per report.

`feedback_report` builds one report: `multipart/report; report-type=feedback-report` with three
parts — a short human-readable text (Vietnamese and English), the machine-readable
`message/feedback-report` fields (Feedback-Type, User-Agent, Version: 1, Original-Mail-From,
Original-Rcpt-To, Arrival-Date, Source-IP, Reported-Domain, ...), and the original message,
whole, as `message/rfc822`, byte for byte as it was reported.

`digest_report` builds the daily digest (`[reports] forward_mode = "digest"`). RFC 5965 allows
one report per message, so the digest is not itself a report: it is `multipart/mixed` with a
plain-text summary (one line per report) followed by each report as a complete ARF message,
attached as `message/rfc822` — a consumer takes each attachment as the report it is, a person
reads the summary.

An original with 8-bit bytes (UTF-8 headers of RFC 6532, or a legacy charset sent raw) is
attached unchanged with `Content-Transfer-Encoding: 8bit` (`binary` when a line is longer than
998 octets); such a report needs a relay with 8BITMIME, as every current MTA is. It is never
re-encoded or re-serialized: the attachment is the bytes the user reported.

Built with the `email` package (EmailMessage, MIMEPart, policy.SMTP). One addition: the
BytesGenerator writes a message/rfc822 payload held as text as it is, but only ASCII; ours
writes the original's other bytes back too (`_Generator`), which is how they stay intact.
"""
from __future__ import annotations

import email.policy
import io
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.generator import BytesGenerator
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, make_msgid

from mailguard import __version__, domains
from mailguard.reports.headers import set_text

USER_AGENT = f"mailguard/{__version__}"
FEEDBACK_TYPES = ("abuse", "fraud", "virus", "other", "not-spam")  # RFC 5965 §7.3, RFC 6430
POLICY = email.policy.SMTP  # CRLF line ends, headers folded at 78, RFC 2047 for non-ASCII text
_FIELDS_POLICY = email.policy.SMTPUTF8  # feedback fields: an SMTPUTF8 address is written as it is


class _Generator(BytesGenerator):
    """Writes a payload held as text with surrogate escapes (bytes.decode("ascii",
    "surrogateescape")) back as the bytes it came from."""

    def _encode(self, s: str) -> bytes:
        return s.encode("ascii", "surrogateescape")


def _bytes_of(msg: EmailMessage) -> bytes:
    out = io.BytesIO()
    _Generator(out, policy=POLICY).flatten(msg)
    return out.getvalue()


def _transfer_encoding(data: bytes) -> str:
    if any(len(line) > 998 for line in data.split(b"\n")) or b"\0" in data:
        return "binary"
    return "8bit" if not data.isascii() else "7bit"


def _message_part(data: bytes, subtype: str = "rfc822") -> MIMEPart:
    """A message/<subtype> part holding `data` unchanged."""
    part = MIMEPart(policy=POLICY)
    part["Content-Type"] = f"message/{subtype}"
    part["Content-Transfer-Encoding"] = _transfer_encoding(data)
    part.set_payload(data.decode("ascii", "surrogateescape"))
    return part


def _text_part(text: str) -> MIMEPart:
    part = MIMEPart(policy=POLICY)
    part.set_content(text, charset="utf-8", cte="8bit")  # Vietnamese stays readable; 8BITMIME assumed
    return part


def _date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, timezone.utc))


def _angle(address: str) -> str:
    return f"<{address.strip().strip('<>')}>"


@dataclass(frozen=True)
class ReportItem:
    """One report for `digest_report`: the arguments of `feedback_report` that differ per report."""

    original: bytes
    source_ip: str | None
    original_mail_from: str
    original_rcpt: str
    arrival: float
    feedback_type: str = "abuse"
    subject: str = ""  # the original's Subject, for the digest's summary line


def feedback_report(original: bytes, *, reporter_domain: str, source_ip: str | None, original_mail_from: str,
                    original_rcpt: str, arrival: float, user_agent: str = USER_AGENT, feedback_type: str = "abuse",
                    to: str, from_: str, subject: str | None = None,
                    reported_domains: Sequence[str] = (), reported_uris: Sequence[str] = (),
                    authentication_results: Sequence[str] = (), reporting_mta: str | None = None,
                    date: float | None = None) -> bytes:
    """One ARF report (RFC 5965) of `original` (the reported message, whole), as bytes with CRLF
    line ends, ready for the outbox. `reported_domains` default to the domain of
    `original_mail_from`; `arrival` and `date` (the report's Date, default now) are epoch seconds."""
    if feedback_type not in FEEDBACK_TYPES:
        raise ValueError(f"feedback type {feedback_type!r} is not one of {', '.join(FEEDBACK_TYPES)}")
    if not reported_domains and domains.of_address(original_mail_from):
        reported_domains = (domains.of_address(original_mail_from),)

    msg = EmailMessage(policy=POLICY)
    msg["From"] = from_
    msg["To"] = to
    set_text(msg, "Subject", subject or (f"Abuse report from {reporter_domain}"
                                         + (f" about {source_ip}" if source_ip else "")))
    msg["Date"] = _date(date if date is not None else time.time())
    msg["Message-ID"] = make_msgid(domain=domains.normalize(reporter_domain) or None)
    msg["MIME-Version"] = "1.0"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-reply should answer it
    msg["Content-Type"] = "multipart/report; report-type=feedback-report"

    vi_source, en_source = (f" từ {source_ip}", f" from {source_ip}") if source_ip else ("", "")
    human = "\n\n".join(textwrap.fill(paragraph, 76) for paragraph in (
        f"Đây là báo cáo thư rác (định dạng ARF, RFC 5965) do người dùng của {reporter_domain} gửi, về "
        f"một thư nhận được{vi_source} lúc {_date(arrival)}. Thư gốc được đính kèm nguyên vẹn.",
        f"This is an email abuse report (ARF, RFC 5965) made by a user of {reporter_domain} about a "
        f"message received{en_source} on {_date(arrival)}. The original message is attached, unchanged.")) + "\n"

    fields = EmailMessage(policy=_FIELDS_POLICY)
    fields["Feedback-Type"] = feedback_type
    fields["User-Agent"] = user_agent
    fields["Version"] = "1"
    fields["Original-Mail-From"] = _angle(original_mail_from)
    fields["Original-Rcpt-To"] = _angle(original_rcpt)
    fields["Arrival-Date"] = _date(arrival)
    if reporting_mta:
        fields["Reporting-MTA"] = f"dns; {reporting_mta}"
    if source_ip:
        fields["Source-IP"] = source_ip
    for value in authentication_results:
        fields["Authentication-Results"] = value
    for domain in dict.fromkeys(reported_domains):
        fields["Reported-Domain"] = domain
    for uri in dict.fromkeys(reported_uris):
        fields["Reported-URI"] = uri
    # Written with the fields' own policy (an SMTPUTF8 address as it is, not RFC 2047-encoded),
    # then held unchanged like the original.
    report = _message_part(fields.as_bytes(), "feedback-report")

    msg.set_payload([_text_part(human), report, _message_part(original)])
    return _bytes_of(msg)


def digest_report(items: Sequence[ReportItem], *, reporter_domain: str, to: str, from_: str,
                  user_agent: str = USER_AGENT, subject: str | None = None, date: float | None = None,
                  reporting_mta: str | None = None) -> bytes:
    """The daily digest: multipart/mixed, a plain-text summary of the reports, then each report
    as a complete ARF message (feedback_report) attached as message/rfc822."""
    if not items:
        raise ValueError("a digest of no reports")
    when = date if date is not None else time.time()
    msg = EmailMessage(policy=POLICY)
    msg["From"] = from_
    msg["To"] = to
    set_text(msg, "Subject", subject or f"Abuse reports from {reporter_domain}: {len(items)}")
    msg["Date"] = _date(when)
    msg["Message-ID"] = make_msgid(domain=domains.normalize(reporter_domain) or None)
    msg["MIME-Version"] = "1.0"
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Type"] = "multipart/mixed"

    lines = [f"{len(items)} báo cáo thư rác từ người dùng của {reporter_domain}; mỗi báo cáo là một thư ARF "
             f"(RFC 5965) đính kèm, theo thứ tự dưới đây.",
             f"{len(items)} abuse reports from users of {reporter_domain}; each is attached as one ARF "
             f"message (RFC 5965), in this order.", ""]
    for n, item in enumerate(items, start=1):
        subject_text = " ".join(item.subject.split())[:120]
        lines.append(f"{n}. {_date(item.arrival)}  {item.source_ip or '-'}  "
                     f"{_angle(item.original_mail_from)}  {subject_text}".rstrip())
    parts: list[MIMEPart] = [_text_part("\n".join(lines) + "\n")]
    for item in items:
        arf = feedback_report(item.original, reporter_domain=reporter_domain, source_ip=item.source_ip,
                              original_mail_from=item.original_mail_from, original_rcpt=item.original_rcpt,
                              arrival=item.arrival, user_agent=user_agent, feedback_type=item.feedback_type,
                              to=to, from_=from_, reporting_mta=reporting_mta, date=when)
        parts.append(_message_part(arf))
    msg.set_payload(parts)
    return _bytes_of(msg)
