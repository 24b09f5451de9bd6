"""The pipeline built from a config: the checks of every spec (mailguard/checks/specs.py), over
the services they share."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mailguard.bayes.holder import ModelHolder
from mailguard.checks.specs import SPECS
from mailguard.config import Config, DnsSettings
from mailguard.dnsbl.spec import DnsblSettings
from mailguard.dnsbl.zones import ZoneHealth
from mailguard.dnsresolver import Resolver
from mailguard.lists.registry import LocalLists
from mailguard.metrics import NO_METRICS, Recorder
from mailguard.rules.book import RuleBook
from mailguard.scan.pipeline import Check, Pipeline
from mailguard.store.sources import SourcesPort


@dataclass
class CheckServices:
    """What checks share in a process: the DNS resolver (its cache and limits), the worker
    threads for synchronous libraries, the health of blocklist zones, the local lists, and the
    store's repeat sources (`sources`: set by the server, which opens the store; None without a
    store, as in `mailguard scan`, and then the REPORTED_SOURCE check is not built).
    Kept across a reload unless their settings change; the lists are re-read on every reload
    (SIGHUP), keeping a list's last good contents when its file fails."""

    dns: DnsSettings
    threads: int
    resolver: Resolver
    executor: ThreadPoolExecutor
    lists: LocalLists
    dnsbl: DnsblSettings = field(default_factory=DnsblSettings)
    zone_health: ZoneHealth | None = None
    rules: RuleBook | None = None  # reloaded on SIGHUP and file change, keeping the last good set
    bayes: ModelHolder | None = None  # the content model; None when [bayes] is off
    sources: SourcesPort | None = None  # the local block list of spam reports; None without a store
    metrics: Recorder = NO_METRICS  # the server's (checks' latency and failures, DNS)

    @classmethod
    def for_config(cls, config: Config, previous: CheckServices | None = None,
                   metrics: Recorder = NO_METRICS) -> CheckServices:
        lists = LocalLists.load(config.lists, previous.lists if previous else None)  # may refuse: first
        rules = RuleBook.load(config, previous.rules if previous else None)  # refuses only at start
        if previous and previous.dns == config.dns and previous.threads == config.auth.threads:
            resolver, executor = previous.resolver, previous.executor
        else:
            # A replaced executor is not shut down: sessions still on the old runtime may use it;
            # its idle threads end once it is garbage-collected.
            resolver = Resolver.from_settings(config.dns, metrics)
            executor = ThreadPoolExecutor(max_workers=config.auth.threads, thread_name_prefix="mailguard-auth")
        health = previous.zone_health if previous and previous.dnsbl == config.dnsbl else None
        return cls(config.dns, config.auth.threads, resolver, executor, lists, config.dnsbl,
                   health or ZoneHealth.for_settings(config.dnsbl), rules,
                   _bayes_holder(config, previous.bayes if previous else None),
                   previous.sources if previous else None, metrics)  # the store outlives a reload

    def rereads(self) -> tuple[Callable[[], None], ...]:
        """The re-reads of the files the admin edits (list files, rule files, the Bayes model),
        each paced by its own ReloadPacer; `serve`'s file watch (watch.FileWatch) asks them on a
        timer, so a change is picked up whether mail arrives or not."""
        return (self.lists.refresh_in_background,
                *((self.rules.refresh_in_background,) if self.rules is not None else ()),
                *((self.bayes.poll,) if self.bayes is not None else ()))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _bayes_holder(config: Config, previous: ModelHolder | None) -> ModelHolder | None:
    if not config.bayes.enabled:
        return None
    return ModelHolder.load(config.bayes_model_path, previous)


def build_checks(config: Config, offline: bool = False, services: CheckServices | None = None) -> tuple[Check, ...]:
    """The checks in force; `offline` leaves out those that need the network."""
    services = services or CheckServices.for_config(config)
    return tuple(check for spec in SPECS if not (offline and spec.network)
                 for check in spec.build(config, services, offline))


def offline_skipped(config: Config, services: CheckServices) -> tuple[str, ...]:
    """Names of the checks `scan --offline` leaves out: those needing the network that are on."""
    return tuple(spec.name for spec in SPECS if spec.network and spec.build(config, services, False))


def build_pipeline(config: Config, offline: bool = False, services: CheckServices | None = None) -> Pipeline:
    services = services or CheckServices.for_config(config)
    return Pipeline(build_checks(config, offline, services), config.actions, deadline=config.server.scan_timeout,
                    rules=services.rules, metrics=services.metrics,
                    policy_thresholds={g.name: config.actions_for(g.name) for g in config.policy.group})
