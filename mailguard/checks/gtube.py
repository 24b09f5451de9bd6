"""GTUBE: the Generic Test for Unsolicited Bulk Email; every filter must reject it."""
from __future__ import annotations

from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Action, Symbol

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


async def check_gtube(ctx: ScanContext) -> list[Symbol]:
    if GTUBE in ctx.raw:
        return [Symbol("GTUBE", 1000.0, "GTUBE test string found", force=Action.REJECT,
                       description="the GTUBE anti-spam test string")]
    return []
