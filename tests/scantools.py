"""A message's verdict as `mailguard scan` reaches it: the pipeline driven by the message flow
(`commands.scan_cmd.scan_one`: MAIL, each RCPT, the data), nothing recorded. The tests of checks
and rules use it, so that they test the one trip the proxy, the milter and `scan` share."""
from __future__ import annotations

import asyncio

from mailguard.commands.scan_cmd import scan_one
from mailguard.config import Config
from mailguard.flow import ScanServices
from mailguard.scan.facts import MessageFacts
from mailguard.scan.pipeline import Pipeline
from mailguard.scan.verdict import Verdict


async def scan_async(pipeline: Pipeline, facts: MessageFacts, raw: bytes, config: Config | None = None) -> Verdict:
    """The verdict for `raw` from the client, sender and recipients of `facts` (the policy
    group comes from the recipients and `config`'s groups, as in the proxy)."""
    services = ScanServices(config or Config(), pipeline)
    verdict = await scan_one(services, facts.client, facts.mail_from, list(facts.rcpts), raw, facts.queue_id or "Q")
    assert verdict is not None, "the scan failed (see the log)"
    return verdict


def scan_verdict(pipeline: Pipeline, facts: MessageFacts, raw: bytes, config: Config | None = None) -> Verdict:
    return asyncio.run(scan_async(pipeline, facts, raw, config))
