"""The one list of checks, and the pipeline built from a config."""
from __future__ import annotations

from mailguard.checks.faults import FAULTS
from mailguard.checks.gtube import check_gtube
from mailguard.checks.mime import check_mime
from mailguard.config import Config
from mailguard.scan.pipeline import Check, Pipeline


def build_checks(config: Config, offline: bool = False) -> tuple[Check, ...]:
    """The checks in force; `offline` leaves out those that need the network (none yet)."""
    checks = [
        Check("GTUBE", check_gtube, budget=1.0),
        Check("MIME", check_mime, budget=2.0),
    ]
    checks += [Check(f"FAULT_{kind.upper()}", FAULTS[kind], budget=config.server.scan_timeout)
               for kind in config.faults.checks]
    return tuple(checks)


def offline_skipped(config: Config) -> tuple[str, ...]:
    """Names of the checks `scan --offline` leaves out."""
    return ()


def build_pipeline(config: Config, offline: bool = False) -> Pipeline:
    return Pipeline(build_checks(config, offline), config.actions, deadline=config.server.scan_timeout)
