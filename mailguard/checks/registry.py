"""The one list of checks, and the pipeline built from a config."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mailguard.checks.faults import FAULTS
from mailguard.checks.gtube import check_gtube
from mailguard.checks.mime import check_mime
from mailguard.config import AuthSettings, Config, DnsSettings
from mailguard.dnsresolver import Resolver
from mailguard.scan.pipeline import Check, Pipeline


@dataclass
class CheckServices:
    """What network checks share in a process: the DNS resolver (its cache and limits) and the
    worker threads for synchronous libraries. Kept across a reload unless their settings change."""

    dns: DnsSettings
    threads: int
    resolver: Resolver
    executor: ThreadPoolExecutor

    @classmethod
    def for_config(cls, config: Config, previous: CheckServices | None = None) -> CheckServices:
        if previous and previous.dns == config.dns and previous.threads == config.auth.threads:
            return previous
        # A replaced executor is not shut down: sessions still on the old runtime may use it;
        # its idle threads end once it is garbage-collected.
        return cls(config.dns, config.auth.threads, Resolver.from_settings(config.dns),
                   ThreadPoolExecutor(max_workers=config.auth.threads, thread_name_prefix="mailguard-auth"))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _network_checks(config: Config, services: CheckServices) -> list[Check]:
    checks = []
    if config.auth.enabled:
        from mailguard.auth.check import AuthCheck

        auth = AuthCheck(config.auth, config.authserv_id, services.resolver, services.executor)
        checks.append(Check("AUTH", auth, budget=auth.budget + 0.5))  # the check keeps inside its own budget
    return checks


def build_checks(config: Config, offline: bool = False, services: CheckServices | None = None) -> tuple[Check, ...]:
    """The checks in force; `offline` leaves out those that need the network."""
    checks = [
        Check("GTUBE", check_gtube, budget=1.0),
        Check("MIME", check_mime, budget=2.0),
    ]
    if not offline:
        checks += _network_checks(config, services or CheckServices.for_config(config))
    checks += [Check(f"FAULT_{kind.upper()}", FAULTS[kind], budget=config.server.scan_timeout)
               for kind in config.faults.checks]
    return tuple(checks)


def offline_skipped(config: Config) -> tuple[str, ...]:
    """Names of the checks `scan --offline` leaves out."""
    return ("AUTH",) if config.auth.enabled else ()


def build_pipeline(config: Config, offline: bool = False, services: CheckServices | None = None) -> Pipeline:
    return Pipeline(build_checks(config, offline, services), config.actions, deadline=config.server.scan_timeout)
