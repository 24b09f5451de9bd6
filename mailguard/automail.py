"""A plain-text message mailguard writes itself (a report's acknowledgement, a quarantine digest):
one builder, so every such mail carries the fields that keep auto-responders quiet (RFC 3834
`Auto-Submitted`, Microsoft's `X-Auto-Response-Suppress`) and an encoded Subject."""
from __future__ import annotations

import email.policy
import time
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from mailguard import domains
from mailguard.reports.headers import set_text


def automatic_message(from_: str, to: str, subject: str, body: str, *, date: float | None = None,
                      auto_submitted: str = "auto-generated", in_reply_to: str = "") -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = from_
    msg["To"] = to
    set_text(msg, "Subject", subject)
    msg["Date"] = format_datetime(datetime.fromtimestamp(date if date is not None else time.time(), timezone.utc))
    msg["Message-ID"] = make_msgid(domain=domains.of_address(from_) or None)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg["Auto-Submitted"] = auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(body, charset="utf-8", cte="8bit")
    return msg.as_bytes()
