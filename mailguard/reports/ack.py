"""The acknowledgement a reporter gets: one short plain-text message, no advertising, no links,
saying the report was received, its id, and what was done (Vietnamese first, English below;
`lang="en"` puts English first).

What keeps it from starting a mail loop or a storm of auto-replies:
- `Auto-Submitted: auto-replied` (RFC 3834 §5): responders (vacation, Sieve, MTAs' own) must not
  answer it; and, the other way round, a "report" that itself carries Auto-Submitted other than
  "no" (someone's vacation reply sent to the abuse address) should get no acknowledgement;
- `X-Auto-Response-Suppress: All`: the same, for Microsoft Exchange's out-of-office replies;
- no `Precedence: bulk` (it says "mass mailing" to filters, and ads carry it) and no
  List-Unsubscribe: this is one personal answer, not a list;
- the null envelope sender (`MAIL FROM:<>`, RFC 3834 §3.3): a bounce of it goes nowhere. That
  is the sending flow's job (OutboxItem.sender = ""), not this message's.
"""
from __future__ import annotations

import re

from mailguard.automail import automatic_message

SUBJECTS = {
    "spam": ("Đã nhận báo cáo thư rác", "Spam report received"),
    "ham": ("Đã nhận báo cáo thư không phải thư rác", "Not-spam report received"),
}
MAX_QUOTED = 200  # characters of the original's Subject quoted back
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def plain_line(text: str, limit: int = MAX_QUOTED) -> str:
    """One line of plain text: control and direction-changing characters out, spaces folded."""
    text = " ".join(_CONTROL.sub(" ", text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def acknowledgement(reporter: str, *, from_: str, kind: str, subject_of_original: str, report_id: str,
                    outcome: str, lang: str = "vi", in_reply_to: str | None = None,
                    date: float | None = None) -> bytes:
    """The acknowledgement of report `report_id` to `reporter`, as bytes with CRLF line ends.
    `kind` is "spam" or "ham"; `outcome` a short text of what was done ("learnt as spam; the
    sender was counted"); `in_reply_to` the report's Message-ID, when it had one."""
    if kind not in SUBJECTS:
        raise ValueError(f"kind {kind!r} is not spam or ham")
    if lang not in ("vi", "en"):
        raise ValueError(f"lang {lang!r} is not vi or en")
    vi_subject, en_subject = SUBJECTS[kind]
    quoted = plain_line(subject_of_original) or "(không có tiêu đề / no subject)"
    outcome = plain_line(outcome, 300)
    report_id = plain_line(report_id, 100)
    what_vi = "thư rác" if kind == "spam" else "thư không phải thư rác"
    what_en = "spam" if kind == "spam" else "not spam"
    vi = (f"Chúng tôi đã nhận báo cáo của bạn: thư “{quoted}” là {what_vi}.\n"
          f"Mã báo cáo: {report_id}\n"
          f"Kết quả: {outcome}\n"
          f"Cảm ơn bạn. Đây là thư trả lời tự động, xin đừng trả lời thư này.\n")
    en = (f"We received your report that the message “{quoted}” is {what_en}.\n"
          f"Report id: {report_id}\n"
          f"Outcome: {outcome}\n"
          f"Thank you. This is an automatic reply; please do not answer it.\n")

    body = f"{vi}\n{en}" if lang == "vi" else f"{en}\n{vi}"
    subject = f"{vi_subject} / {en_subject}" if lang == "vi" else f"{en_subject} / {vi_subject}"
    return automatic_message(from_, reporter, subject, body, date=date, auto_submitted="auto-replied",
                             in_reply_to=in_reply_to)
