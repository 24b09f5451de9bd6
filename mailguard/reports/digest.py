"""The daily ARF digest (`[reports] forward_mode = "digest"`): once a day, the spam reports
received since the last digest, each original as one ARF report, in one message to `forward_to`
through the outbox. The time of the last digest is the outbox's own record of it (purpose
"digest"), so a restart neither skips nor repeats a day."""
from __future__ import annotations

import logging
import time

from mailguard.reports.arf import ReportItem, digest_report
from mailguard.reports.intake import read_report
from mailguard.store.outbox import OutboxItem

log = logging.getLogger("mailguard.reports")

DIGEST_EVERY = 24 * 3600.0
MAX_REPORTS = 500  # reports in one digest; the rest wait for the next
MAX_OUTBOX_LOOKBACK = 1000  # outbox items read to find the last digest


async def send_digest(store, config, now: float | None = None) -> str | None:
    """Queue the digest when one is due and there is something to report; its outbox id, or None."""
    s = config.reports
    if not (s.enabled and s.forward_to and s.forward_mode == "digest"):
        return None
    now = time.time() if now is None else now
    last = max((i.created for i in await store.outbox(limit=MAX_OUTBOX_LOOKBACK) if i.purpose == "digest"),
               default=None)
    if last is not None and now - last < DIGEST_EVERY:
        return None
    from mailguard.scan.message import ParsedMessage

    items: list[ReportItem] = []
    for record in reversed(await store.reports(since=last if last is not None else now - DIGEST_EVERY,
                                               limit=MAX_REPORTS)):
        if record.kind != "spam" or record.status != "received" or (last is not None and record.received <= last):
            continue
        full = await store.report(record.id)
        if full is None:
            continue
        intake = read_report(ParsedMessage.from_bytes(full.raw), config.trusted_networks, tuple(s.local_domains))
        items += [ReportItem(o.raw, o.client_ip, o.sender, record.reporter, record.received, subject=o.subject)
                  for o in intake.originals if o.raw]
    if not items:
        return None
    domain = s.local_domains[0] if s.local_domains else config.hostname
    raw = digest_report(items, reporter_domain=domain, to=", ".join(s.forward_to), from_=s.acknowledge_sender,
                        date=now)
    item_id = f"digest-{int(now)}"
    await store.enqueue(OutboxItem(id=item_id, sender=s.acknowledge_sender, rcpts=tuple(s.forward_to), raw=raw,
                                   created=now, next_try=0.0, purpose="digest"))
    log.info("ARF digest of %d reports queued to %s", len(items), ", ".join(s.forward_to))
    return item_id
