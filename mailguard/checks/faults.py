"""Fault injection ([faults] checks): checks that fail on purpose, to show a site (and our
tests) that a broken or stuck check never costs a message or stalls a session."""
from __future__ import annotations

import asyncio

from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Symbol


async def check_raises(ctx: ScanContext) -> list[Symbol]:
    raise RuntimeError("injected fault")


async def check_hangs(ctx: ScanContext) -> list[Symbol]:
    await asyncio.Event().wait()  # never set: only the pipeline's deadline ends this
    return []


FAULTS = {"raise": check_raises, "hang": check_hangs}
