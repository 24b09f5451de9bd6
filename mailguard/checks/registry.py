"""The one list of checks, and the pipeline built from a config."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mailguard.bayes.holder import ModelHolder
from mailguard.checks.faults import FAULTS
from mailguard.checks.gtube import check_gtube
from mailguard.checks.mime import check_mime
from mailguard.config import Config, DnsblSettings, DnsSettings
from mailguard.dnsbl.zones import ZoneHealth
from mailguard.dnsresolver import Resolver
from mailguard.lists import LocalLists
from mailguard.rules.book import RuleBook
from mailguard.scan.pipeline import Check, Pipeline


@dataclass
class CheckServices:
    """What checks share in a process: the DNS resolver (its cache and limits), the worker
    threads for synchronous libraries, the health of blocklist zones, and the local lists.
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

    @classmethod
    def for_config(cls, config: Config, previous: CheckServices | None = None) -> CheckServices:
        lists = LocalLists.load(config.lists, previous.lists if previous else None)  # may refuse: first
        rules = RuleBook.load(config, previous.rules if previous else None)  # refuses only at start
        if previous and previous.dns == config.dns and previous.threads == config.auth.threads:
            resolver, executor = previous.resolver, previous.executor
        else:
            # A replaced executor is not shut down: sessions still on the old runtime may use it;
            # its idle threads end once it is garbage-collected.
            resolver = Resolver.from_settings(config.dns)
            executor = ThreadPoolExecutor(max_workers=config.auth.threads, thread_name_prefix="mailguard-auth")
        health = previous.zone_health if previous and previous.dnsbl == config.dnsbl else None
        return cls(config.dns, config.auth.threads, resolver, executor, lists, config.dnsbl,
                   health or ZoneHealth.for_settings(config.dnsbl), rules,
                   _bayes_holder(config, previous.bayes if previous else None))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _bayes_holder(config: Config, previous: ModelHolder | None) -> ModelHolder | None:
    if not config.bayes.enabled:
        return None
    return ModelHolder.load(config.bayes_model_path, previous)


def _bayes_checks(config: Config, services: CheckServices) -> list[Check]:
    if services.bayes is None:
        return []
    from mailguard.bayes.check import BayesCheck

    bayes = BayesCheck(config.bayes, services.bayes)
    return [Check("BAYES", bayes, budget=bayes.budget)]


def _network_checks(config: Config, services: CheckServices) -> list[Check]:
    checks = []
    if config.auth.enabled:
        from mailguard.auth.check import AuthCheck

        auth = AuthCheck(config.auth, config.authserv_id, services.resolver, services.executor)
        checks.append(Check("AUTH", auth, budget=auth.budget + 0.5))  # the check keeps inside its own budget
    if config.dnsbl.enabled and config.dnsbl.zone:
        from mailguard.dnsbl.check import DnsblCheck
        from mailguard.dnsbl.zones import Zone

        dnsbl = DnsblCheck(config.dnsbl, tuple(Zone.compile(z) for z in config.dnsbl.zone), services.resolver,
                           services.zone_health, config.trusted_networks)
        checks.append(Check("DNSBL", dnsbl, budget=dnsbl.budget + 0.5))
    return checks


def _list_checks(config: Config, services: CheckServices, offline: bool) -> list[Check]:
    per_group = {g.name: tuple([(n, "allow") for n in g.allow_lists] + [(n, "block") for n in g.block_lists])
                 for g in config.policy.group if g.allow_lists or g.block_lists}
    if not any(f.use != "rules" for f in config.lists.file) and not per_group:
        return []
    from mailguard.lists.check import ListsCheck

    # The DATA one waits for AUTH's results (allow entries need an authenticated sender).
    waits = config.auth.budget_ms / 1000 + 0.5 if config.auth.enabled and not offline else 0.0
    return [Check("LISTS_EARLY", ListsCheck(services.lists, "mail"), budget=1.0, phase="mail"),
            Check("LISTS", ListsCheck(services.lists, "data", per_group), budget=waits + 1.0)]


def _rules_checks(config: Config, services: CheckServices) -> list[Check]:
    if services.rules is None:
        return []
    from mailguard.rules.check import RulesCheck

    budget = config.rules.budget_ms / 1000
    return [Check("RULES_EARLY", RulesCheck(services.rules, services.lists, envelope_only=True), budget, "rcpt"),
            Check("RULES", RulesCheck(services.rules, services.lists), budget)]


def build_checks(config: Config, offline: bool = False, services: CheckServices | None = None) -> tuple[Check, ...]:
    """The checks in force; `offline` leaves out those that need the network."""
    checks = [
        Check("GTUBE", check_gtube, budget=1.0),
        Check("MIME", check_mime, budget=2.0),
    ]
    services = services or CheckServices.for_config(config)
    checks += _list_checks(config, services, offline)
    checks += _rules_checks(config, services)
    checks += _bayes_checks(config, services)  # needs no network: offline too
    if not offline:
        checks += _network_checks(config, services)
    checks += [Check(f"FAULT_{kind.upper()}", FAULTS[kind], budget=config.server.scan_timeout)
               for kind in config.faults.checks]
    return tuple(checks)


def offline_skipped(config: Config) -> tuple[str, ...]:
    """Names of the checks `scan --offline` leaves out."""
    return tuple(name for name, on in (("AUTH", config.auth.enabled),
                                       ("DNSBL", config.dnsbl.enabled and bool(config.dnsbl.zone))) if on)


def build_pipeline(config: Config, offline: bool = False, services: CheckServices | None = None) -> Pipeline:
    services = services or CheckServices.for_config(config)
    return Pipeline(build_checks(config, offline, services), config.actions, deadline=config.server.scan_timeout,
                    rules=services.rules,
                    policy_thresholds={g.name: config.actions_for(g.name) for g in config.policy.group})
