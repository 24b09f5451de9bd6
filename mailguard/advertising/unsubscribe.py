"""Unsubscribing by mail (Decree 91/2020 Art. 20(3)): the mailto: addresses of the
List-Unsubscribe of ads delivered, remembered per recipient; in outbound mode a user's message to
one of them refuses that advertiser at once. Both run after the answer, as the flow's background
work (bounded, logged, never a second answer)."""
from __future__ import annotations

import asyncio
import logging
import time

from mailguard.advertising import delivery as ad_delivery
from mailguard.advertising.identity import advertiser_key, recipient_key
from mailguard.scan.pipeline import ScanContext
from mailguard.store.refusals import Refusal

log = logging.getLogger("mailguard.advertising")

TIMEOUT = 60.0  # seconds for the store writes of one message


async def remember(store, ctx: ScanContext, ad: ad_delivery.AdDelivery) -> None:
    """The ad's mailto: unsubscribe addresses, for each recipient who got it (outbound mode turns
    a message sent there into a refusal)."""
    addresses = ad_delivery.unsubscribe_addresses(ctx.message.headers_named("list-unsubscribe"))
    advertiser = ad.findings.advertiser or advertiser_key(ctx.facts.mail_from)
    try:
        async with asyncio.timeout(TIMEOUT):
            for rcpt in ad.deliver:
                for address in addresses:
                    await store.remember_unsubscribe(address, recipient_key(rcpt), advertiser, ctx.facts.received_at)
    except Exception:
        log.exception("%s unsubscribe addresses could not be remembered", ctx.facts.queue_id)


async def refusals_sent(store, ctx: ScanContext) -> None:
    """Outbound mode: a user's message to the unsubscribe address of an ad they received refuses
    that advertiser at once (Decree 91/2020 Art. 20(3))."""
    sender = recipient_key(ctx.facts.mail_from)
    if not sender:
        return
    try:
        async with asyncio.timeout(TIMEOUT):
            for rcpt in ctx.facts.rcpts:
                advertiser = await store.unsubscribe_advertiser(recipient_key(rcpt), sender)
                if advertiser and await store.add_refusal(Refusal(sender, advertiser, time.time(), "unsubscribe")):
                    log.info("%s %s refused advertising from %s (unsubscribe sent to %s)",
                             ctx.facts.queue_id, sender, advertiser, rcpt)
    except Exception:
        log.exception("%s unsubscribe messages could not be turned into refusals", ctx.facts.queue_id)
