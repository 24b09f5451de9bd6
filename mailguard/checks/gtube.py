"""GTUBE: the Generic Test for Unsolicited Bulk Email; every filter must reject it."""
from __future__ import annotations

from mailguard.checks.spec import CheckSpec, Stage, SymbolSpec
from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Action, Symbol

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
SYMBOL = SymbolSpec("GTUBE", 1000.0, "the GTUBE anti-spam test string")
STAGE = Stage("GTUBE")


async def check_gtube(ctx: ScanContext) -> list[Symbol]:
    if GTUBE in ctx.raw:
        return [Symbol(SYMBOL.name, SYMBOL.score, "GTUBE test string found", force=Action.REJECT,
                       description=SYMBOL.description)]
    return []


SPEC = CheckSpec(name="GTUBE", stages=(STAGE,), symbols=(SYMBOL,),
                 build=lambda config, services, offline: (STAGE.check(check_gtube, budget=1.0),))
