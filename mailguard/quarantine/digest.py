"""The daily quarantine digest (`[quarantine] digest = true`): one plain-text mail per recipient
listing what was held for them during the last UTC day — the date, the sender, the Subject and
the id of each message — and how to get one: ask the admin (reply to the digest) with its id.

Nothing of a held message's content goes in (no body text, no attachment names), nor any link:
a release is the admin's decision (`mailguard quarantine release ID`), never a click. The sender
and Subject are the spammer's words, so they are cut to one line, and what looks like a link
is defanged (`hxxp://`, `www[.]`) so that mail readers do not make it clickable.

Sent through the outbox (store/outbox.py), so a digest is never lost when the relay is down.
Its outbox id is made of the day and the recipient: a second pass over the same day (a restart,
a second process sharing the store) finds the id taken and sends nothing twice.
"""
from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from datetime import datetime, timezone

from mailguard import domains
from mailguard.config import Config
from mailguard.reports.ack import plain_line
from mailguard.automail import automatic_message
from mailguard.store.base import DuplicateId
from mailguard.store.outbox import OutboxItem
from mailguard.store.records import MessageRecord

log = logging.getLogger("mailguard.quarantine")

DAY = 86400.0
PURPOSE = "quarantine-digest"
MAX_ENTRIES = 5000  # entries of one day read for the digests (bounded memory and CPU on the loop)
MAX_LISTED = 100  # messages listed in one recipient's digest; beyond, "and N more"
_LINK = re.compile(r"(?i)\b(h)(tt)(ps?)(:)//|\b(www)\.")


def day_to_send(now: float) -> float:
    """The start (UTC midnight) of the day whose digests are due at `now`: the day before."""
    return (now // DAY - 1) * DAY


def digest_id(day: float, recipient: str) -> str:
    key = hashlib.sha256(recipient.lower().encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return f"{PURPOSE}-{_date(day)}-{key}"


async def send_digests(store, config: Config, day: float, now: float) -> int:
    """Queue the digests of `day` (its UTC midnight) not queued yet; how many were queued."""
    settings = config.quarantine
    if not settings.digest:
        return 0
    held = await store.quarantine_list(limit=MAX_ENTRIES, since=day, until=day + DAY)
    if len(held) == MAX_ENTRIES:
        log.warning("quarantine digests of %s: only the last %d messages held that day are listed", _date(day),
                    MAX_ENTRIES)
    by_recipient: dict[str, list[MessageRecord]] = defaultdict(list)
    for record in reversed(held):  # oldest first
        for rcpt in dict.fromkeys(r.lower() for r in record.rcpts):
            if not settings.digest_domains or domains.covering(domains.of_address(rcpt), settings.digest_domains):
                by_recipient[rcpt].append(record)
    queued = 0
    for rcpt, records in by_recipient.items():
        try:
            raw = digest_message(rcpt, records, day, from_=config.digest_sender,
                                 keep_days=config.store.quarantine_days, date=now)
        except Exception:  # an address the email package will not write must not stop the others
            log.warning("no quarantine digest for <%s>: its address cannot be written in a header", rcpt)
            continue
        try:
            await store.enqueue(OutboxItem(id=digest_id(day, rcpt), sender="", rcpts=(rcpt,), raw=raw, created=now,
                                           purpose=PURPOSE))
        except DuplicateId:
            continue  # queued by an earlier pass
        queued += 1
    if queued:
        log.info("quarantine digests of %s queued for %d recipient%s", _date(day), queued, "s" if queued != 1 else "")
    return queued


def digest_message(recipient: str, records: list[MessageRecord], day: float, *, from_: str, keep_days: int,
                   date: float) -> bytes:
    """The digest for one recipient, as bytes with CRLF line ends (Vietnamese first, English below)."""
    when = _date(day)
    items = []
    for i, r in enumerate(records[:MAX_LISTED], start=1):
        sender = _shown(r.from_header) or "(không có / none)"
        envelope = _shown(r.mail_from) or "<>"
        items.append(f"{i}. {_time(r.time)}\n"
                     f"   From: {sender}  (envelope: {envelope})\n"
                     f"   Subject: {_shown(r.subject) or '(không có tiêu đề / no subject)'}\n"
                     f"   Id: {r.queue_id}\n")
    more = len(records) - MAX_LISTED
    listing = "\n".join(items) + (f"\n... và {more} thư khác / and {more} more\n" if more > 0 else "")
    vi = (f"Các thư sau gửi cho {recipient} đã bị giữ lại (cách ly) ngày {when} (UTC) vì nghi là thư rác.\n"
          f"Nếu bạn cần một thư trong số đó, hãy trả lời thư này (gửi tới {from_}) hoặc hỏi quản trị viên,\n"
          f"kèm mã (Id) của thư. Quản trị viên sẽ kiểm tra và chuyển thư cho bạn.\n"
          f"Thư bị giữ lại sẽ bị xoá sau {keep_days} ngày.\n")
    en = (f"The messages below, sent to {recipient}, were held (quarantined) on {when} (UTC) as suspected spam.\n"
          f"If you need one of them, reply to this message (it goes to {from_}) or ask your admin,\n"
          f"giving the message's Id. An admin checks it and releases it to you.\n"
          f"Held messages are deleted after {keep_days} days.\n")
    return automatic_message(from_, recipient, f"Thư bị giữ lại ngày {when} / Messages held for you on {when}",
                             f"{vi}\n{en}\n{listing}", date=date)


def _shown(text: str) -> str:
    """A value of the held message (its sender, its Subject) as one defanged line of text."""
    return _LINK.sub(lambda m: f"{m[1]}xx{m[3]}{m[4]}//" if m[1] else f"{m[5]}[.]", plain_line(text))


def _date(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d")


def _time(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
