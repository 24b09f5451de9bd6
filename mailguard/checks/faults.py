"""Fault injection ([faults] checks): checks that fail on purpose, to show a site (and our
tests) that a broken or stuck check never costs a message or stalls a session."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailguard.checks.spec import CheckSpec, Stage
from mailguard.scan.pipeline import Check, ScanContext
from mailguard.scan.verdict import Symbol

if TYPE_CHECKING:
    from mailguard.checks.registry import CheckServices
    from mailguard.config import Config, Fail


@dataclass(frozen=True)
class FaultSettings:
    """Fault injection, for testing a deployment: never set in production."""

    checks: tuple[str, ...] = ()  # "raise": a check that raises; "hang": one that never returns


async def check_raises(ctx: ScanContext) -> list[Symbol]:
    raise RuntimeError("injected fault")


async def check_hangs(ctx: ScanContext) -> list[Symbol]:
    await asyncio.Event().wait()  # never set: only the pipeline's deadline ends this
    return []


FAULTS = {"raise": (Stage("FAULT_RAISE"), check_raises), "hang": (Stage("FAULT_HANG"), check_hangs)}


def validate(settings: FaultSettings, fail: Fail) -> None:
    for fault in settings.checks:
        if fault not in FAULTS:
            fail("faults", "checks", f"{fault!r}: expected \"raise\" or \"hang\"")


def build(config: Config, services: CheckServices, offline: bool) -> list[Check]:
    return [FAULTS[kind][0].check(FAULTS[kind][1], budget=config.server.scan_timeout)
            for kind in config.faults.checks]


SPEC = CheckSpec(name="FAULTS", stages=tuple(stage for stage, _ in FAULTS.values()), build=build,
                 section="faults", settings=FaultSettings, validate=validate)
