"""The configuration: one TOML file → frozen, validated settings.

A file holds only what it changes; every key has a default here, and
`config.example.toml` documents the same keys with the same defaults (a test
keeps the two equal). An unknown key or a wrong type is a `ConfigError`
naming the file, the key and, where it can be found, the line.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, get_type_hints

from mailguard import domains
from mailguard.checks.spec import CheckSpec
from mailguard.checks.specs import SPECS
from mailguard.tomlschema import KeyPath, Problem, Problems, build

DEFAULT_CONFIG_PATHS = (Path("/etc/mailguard/mailguard.toml"),)


class ConfigError(Exception):
    """A config file that cannot be used; the message names file, key and line."""

    problems: tuple[Problem, ...] = ()

    @classmethod
    def of(cls, problems: Problems) -> ConfigError:
        """The error of every problem found (one line each)."""
        error = cls(str(problems))
        error.problems = tuple(problems)
        return error


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_host_port(text: str, default_port: int | None = None) -> HostPort:
    """`host`, `host:port`, `[v6]` or `[v6]:port` (a bare IPv6 address too)."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"{text!r}: missing ']'")
        port_text = rest[1:] if rest.startswith(":") else rest
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r}: expected ':' after ']'")
    elif text.count(":") > 1:
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise ValueError(f"{text!r}: empty host")
    if port_text:
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ValueError(f"{text!r}: port must be a number from 0 to 65535")
        port = int(port_text)
    elif default_port is not None:
        port = default_port
    else:
        raise ValueError(f"{text!r}: a port is required (HOST:PORT)")
    return HostPort(host, port)


@dataclass(frozen=True)
class ServerSettings:
    listen: str = "127.0.0.1:10024"
    hostname: str = ""  # empty: the machine's FQDN
    workers: int = 0  # worker processes; 0: one per core (os.cpu_count()); 1: one process, no supervisor
    max_connections: int = 200
    max_recipients: int = 1000
    max_message_size: int = 10_240_000  # bytes; Postfix's message_size_limit default
    max_line_length: int = 1_048_576  # bytes; mail lines beyond 998 exist and must pass
    command_timeout: float = 300.0  # RFC 5321 §4.5.3.2.7 server timeout
    data_timeout: float = 300.0  # idle time allowed between two DATA chunks
    scan_timeout: float = 30.0  # the whole scan pipeline of one message
    shutdown_grace: float = 30.0  # SIGTERM: time for transactions in flight
    trusted_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")  # may send XFORWARD (behind mode)
    max_connections_per_ip: int = 50  # Postfix's smtpd_client_connection_count_limit
    max_connections_per_net: int = 100  # per IPv4 /24 and IPv6 /64
    client_limit_exceptions: tuple[str, ...] = ("127.0.0.0/8", "::1/128")  # as smtpd_client_event_limit_exceptions
    junk_command_limit: int = 100  # Postfix's smtpd_junk_command_limit
    max_bytes_in_flight: int = 536_870_912  # message bytes held by all sessions at once; over it 452 4.3.1
    tls_cert: str = ""
    tls_key: str = ""
    log_level: str = "info"
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line (README, "The log trail")
    reply_symbols: bool = False  # our refusals name the symbols behind them, not only the reason class


@dataclass(frozen=True)
class MilterSettings:
    listen: str = ""  # HOST:PORT for Postfix's smtpd_milters; empty: no milter


@dataclass(frozen=True)
class MetricsSettings:
    listen: str = ""  # HOST:PORT of the Prometheus /metrics listener; empty: no metrics


@dataclass(frozen=True)
class RelaySettings:
    downstream: str = "127.0.0.1:10025"
    mode: Literal["front", "behind"] = "front"
    connect_timeout: float = 10.0
    command_timeout: float = 60.0  # greeting, EHLO, XCLIENT, MAIL, RCPT, RSET
    data_timeout: float = 0.0  # DATA: our first byte to the final reply; 0: see Config.relay_data_timeout
    pool_size: int = 10  # idle downstream connections kept for the next sessions; 0: none
    pool_idle_timeout: float = 5.0  # seconds an idle one is kept (below Postfix's smtpd_timeout)


@dataclass(frozen=True)
class StoreSettings:
    state_dir: str = "/var/lib/mailguard"
    url: str = ""  # the backend (mailguard/store/backends.py); empty: SQLite in state_dir
    history_days: int = 180  # Decree 91 Art. 10: headers kept at least 180 days
    quarantine_days: int = 30  # a quarantined message not released or deleted by then is dropped


@dataclass(frozen=True)
class QuarantineSettings:
    digest: bool = False  # once a day, each recipient gets the list of what was held for them
    digest_from: str = ""  # its From, where users ask for a release; empty: postmaster@<hostname>
    digest_domains: tuple[str, ...] = ()  # recipient domains that get one (with subdomains); empty: all


@dataclass(frozen=True)
class ActionSettings:
    add_header: float = 5.0
    rewrite_subject: float = 8.0
    quarantine: float = 12.0
    reject: float = 15.0
    subject_tag: str = "***SPAM***"


@dataclass(frozen=True)
class DnsSettings:
    servers: tuple[str, ...] = ()  # empty: the system's resolv.conf
    timeout: float = 2.0
    max_in_flight: int = 64  # queries waiting for an answer at once, the whole process
    cache_size: int = 20000  # answers kept (positive and negative, each for its TTL)


@dataclass(frozen=True)
class PolicyGroup:
    """One per-recipient-domain policy: `[[policy.group]]` (README, "Per-domain policies")."""

    name: str = ""
    domains: tuple[str, ...] = ()  # recipient domains (each with its subdomains)
    # Thresholds replacing those of [actions] for this group's mail; unset: [actions]'s.
    add_header: float | None = None
    rewrite_subject: float | None = None
    quarantine: float | None = None
    reject: float | None = None
    subject_tag: str | None = None
    allow_lists: tuple[str, ...] = ()  # [[lists.file]] names used as allow lists for this group
    block_lists: tuple[str, ...] = ()  # ... and as block lists

    def thresholds(self, base: ActionSettings) -> ActionSettings:
        changes = {k: getattr(self, k) for k in ("add_header", "rewrite_subject", "quarantine", "reject",
                                                 "subject_tag") if getattr(self, k) is not None}
        return dataclasses.replace(base, **changes)


@dataclass(frozen=True)
class PolicySettings:
    group: tuple[PolicyGroup, ...] = ()


@dataclass(frozen=True)
class Config:
    """The settings of every section; the checks' sections ([auth], [bayes], ...) are added from
    their specs just below (`_with_check_sections`)."""

    server: ServerSettings = field(default_factory=ServerSettings)
    relay: RelaySettings = field(default_factory=RelaySettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    quarantine: QuarantineSettings = field(default_factory=QuarantineSettings)
    actions: ActionSettings = field(default_factory=ActionSettings)
    dns: DnsSettings = field(default_factory=DnsSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    milter: MilterSettings = field(default_factory=MilterSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    source: str = field(default="<defaults>", metadata={"toml": False})  # the file this came from

    @property
    def listen(self) -> HostPort:
        return parse_host_port(self.server.listen)

    @property
    def milter_listen(self) -> HostPort | None:
        return parse_host_port(self.milter.listen) if self.milter.listen else None

    @property
    def metrics_listen(self) -> HostPort | None:
        return parse_host_port(self.metrics.listen) if self.metrics.listen else None

    @property
    def downstream(self) -> HostPort:
        return parse_host_port(self.relay.downstream)

    @property
    def hostname(self) -> str:
        return self.server.hostname or socket.getfqdn()

    @property
    def authserv_id(self) -> str:
        return self.auth.authserv_id or self.hostname

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.server.trusted_networks)

    @property
    def client_limit_exceptions(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.server.client_limit_exceptions)

    @property
    def relay_data_timeout(self) -> float:
        """How long we wait for the downstream's answer to the final dot (and for a quarantine
        write). RFC 5321 §4.5.3.2.6 has the client wait 10 minutes for our answer to its dot;
        the scan comes first, so by default: 600 s less [server] scan_timeout less a 30 s margin."""
        return self.relay.data_timeout or max(600.0 - self.server.scan_timeout - 30.0, 60.0)

    @property
    def digest_sender(self) -> str:
        """The From of quarantine digests: [quarantine] digest_from, else postmaster@<hostname>."""
        return self.quarantine.digest_from or f"postmaster@{self.hostname}"

    @property
    def state_dir(self) -> Path:
        return Path(self.store.state_dir)

    def policy_group(self, address: str) -> str:
        """The name of the policy group of a recipient address ("" for none: [actions])."""
        domain = address.rpartition("@")[2]
        best, length = "", 0
        for group in self.policy.group:
            covered = domains.covering(domain, group.domains)
            if len(covered) > length:
                best, length = group.name, len(covered)
        return best

    def actions_for(self, group: str) -> ActionSettings:
        """The thresholds and subject tag of a policy group ([actions] for "" or an unknown one)."""
        found = next((g for g in self.policy.group if g.name == group), None)
        return found.thresholds(self.actions) if found else self.actions

    @property
    def bayes_model_path(self) -> Path:
        return self.state_dir / os.path.expanduser(self.bayes.model_file)

    def replace(self, section: str, **changes: Any) -> "Config":
        """A copy with some keys of one section changed (command-line overrides)."""
        current = getattr(self, section)
        return dataclasses.replace(self, **{section: dataclasses.replace(current, **changes)})


def _with_check_sections(base: type, specs: tuple[CheckSpec, ...]) -> type:
    """`base` with one field per check section, its default the spec's settings dataclass."""
    cls = dataclasses.make_dataclass(
        base.__name__, [(s.section, s.settings, field(default_factory=s.settings)) for s in specs if s.section],
        bases=(base,), frozen=True)
    cls.__module__, cls.__qualname__, cls.__doc__ = base.__module__, base.__qualname__, base.__doc__
    return cls


Config = _with_check_sections(Config, SPECS)
SECTIONS: dict[str, type] = {
    name: hint for name, hint in get_type_hints(Config).items() if name != "source"
}
# Keys whose value is a path relative to the config file, as key paths without indices.
PATH_KEYS = {("store", "state_dir"), ("server", "tls_cert"), ("server", "tls_key")} | {
    (spec.section, *path.split(".")) for spec in SPECS for path in spec.path_keys}


@dataclass(frozen=True)
class Fail:
    """How a check spec's validation reports a problem: a ConfigError naming file, line, section
    and key (through the file's collector, tomlschema.Problems)."""

    problems: Problems

    def __call__(self, section: str, key: str, message: str) -> NoReturn:
        self.problems.add((*section.split("."), key), message)
        raise ConfigError.of(self.problems)

    def item(self, table: str, index: int, key: str, message: str) -> NoReturn:
        """For a key of the index-th table of an array of tables (`[[dnsbl.zone]]`)."""
        self.problems.add((*table.split("."), index, key), message)
        raise ConfigError.of(self.problems)


def _validate(cfg: Config, fail: Fail) -> None:
    for section, key in (("server", "listen"), ("relay", "downstream"), ("milter", "listen"), ("metrics", "listen")):
        value = getattr(getattr(cfg, section), key)
        if not value and section != "relay":  # an empty listen: that listener is off
            continue
        try:
            parse_host_port(value)
        except ValueError as exc:
            fail(section, key, str(exc))
    for key in ("trusted_networks", "client_limit_exceptions"):
        for net in getattr(cfg.server, key):
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                fail("server", key, f"{net!r} is not an IP network")
    for server in cfg.dns.servers:
        try:
            parse_host_port(server, default_port=53)
        except ValueError as exc:
            fail("dns", "servers", str(exc))
    a = cfg.actions
    if not a.add_header <= a.rewrite_subject <= a.quarantine <= a.reject:
        fail("actions", "add_header", "thresholds must rise: add_header <= rewrite_subject <= quarantine <= reject")
    for section, key in (
        ("server", "max_connections"), ("server", "max_recipients"), ("server", "max_message_size"),
        ("server", "max_line_length"), ("server", "command_timeout"), ("server", "data_timeout"),
        ("server", "scan_timeout"), ("relay", "connect_timeout"), ("relay", "command_timeout"),
        ("server", "max_connections_per_ip"), ("server", "max_connections_per_net"),
        ("server", "junk_command_limit"), ("server", "max_bytes_in_flight"), ("store", "history_days"), ("store", "quarantine_days"),
        ("dns", "timeout"),
        ("dns", "max_in_flight"),
    ):
        if getattr(getattr(cfg, section), key) <= 0:
            fail(section, key, "must be greater than 0")
    if cfg.relay.data_timeout < 0:
        fail("relay", "data_timeout", "must be 0 (automatic) or more")
    if cfg.relay.pool_size < 0:
        fail("relay", "pool_size", "must be 0 (no pool) or more")
    if cfg.relay.pool_idle_timeout <= 0:
        fail("relay", "pool_idle_timeout", "must be greater than 0")
    if cfg.server.workers < 0:
        fail("server", "workers", "must be 0 (one per core) or more")
    if cfg.relay.data_timeout and cfg.relay.data_timeout + cfg.server.scan_timeout > 600:
        fail("relay", "data_timeout", "with [server] scan_timeout over 600 s: the client gives up first "
                                      "(RFC 5321 §4.5.3.2.6) and would retry a message the downstream took")
    if cfg.server.max_line_length < 1000:
        fail("server", "max_line_length", "must be at least 1000 (RFC 5321 §4.5.3.1.6)")
    if bool(cfg.server.tls_cert) != bool(cfg.server.tls_key):
        fail("server", "tls_cert", "tls_cert and tls_key go together")
    for spec in SPECS:
        if spec.section:
            spec.validate(getattr(cfg, spec.section), fail)
    names = {f.name for f in cfg.lists.file}  # what policy groups may name
    groups: dict[str, str] = {}  # domain → group
    for i, g in enumerate(cfg.policy.group):
        if not re.fullmatch(r"[a-z0-9_-]+", g.name):
            fail.item("policy.group", i, "name", f"{g.name!r}: lower-case letters, digits, '_' and '-'")
        if any(other.name == g.name for other in cfg.policy.group[:i]):
            fail.item("policy.group", i, "name", f"{g.name!r} is used twice")
        if not g.domains:
            fail.item("policy.group", i, "domains", "at least one recipient domain")
        for d in g.domains:
            key = d.strip().rstrip(".").lower()
            if not re.fullmatch(r"([a-z0-9_-]{1,63}\.)*[a-z0-9-]{1,63}", key):
                fail.item("policy.group", i, "domains", f"{d!r} is not a domain name")
            if key in groups:
                fail.item("policy.group", i, "domains", f"{d!r} is already in group {groups[key]!r}")
            groups[key] = g.name
        for key in ("allow_lists", "block_lists"):
            for name in getattr(g, key):
                if name not in names:
                    fail.item("policy.group", i, key, f"unknown list {name!r} (not a [[lists.file]] name)")
        t = g.thresholds(cfg.actions)
        if not t.add_header <= t.rewrite_subject <= t.quarantine <= t.reject:
            fail.item("policy.group", i, "add_header", "thresholds (with those of [actions] it keeps) must "
                      "rise: add_header <= rewrite_subject <= quarantine <= reject")
    from mailguard.store.backends import parse_url

    try:
        parse_url(cfg.store.url, cfg.state_dir)
    except ValueError as exc:
        fail("store", "url", str(exc))
    from mailguard.reports.spec import valid_address

    if cfg.quarantine.digest_from and not valid_address(cfg.quarantine.digest_from):
        fail("quarantine", "digest_from", f"{cfg.quarantine.digest_from!r} is not an address")
    for name in cfg.quarantine.digest_domains:
        if "." not in domains.normalize(name):
            fail("quarantine", "digest_domains", f"{name!r} is not a domain name")
    if cfg.server.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        fail("server", "log_level", "one of debug, info, warning, error")


def from_text(text: str, where: str = "<config>", base_dir: Path | None = None) -> Config:
    """Parse and validate config text; relative paths are taken from `base_dir`."""
    problems = Problems(where)
    data = problems.parse(text)
    if data is None:
        raise ConfigError.of(problems)

    def resolve(path: KeyPath, value: Any) -> Any:
        if value and base_dir is not None and tuple(p for p in path if isinstance(p, str)) in PATH_KEYS:
            return str((base_dir / os.path.expanduser(value)).resolve())
        return value

    known = ", ".join(f"[{s}]" for s in SECTIONS)
    cfg = build(Config, data, problems, convert=resolve,
                unknown=lambda name: f"unknown section [{name}] (known: {known})")
    if problems:  # every wrong key and type of the file at once
        raise ConfigError.of(problems)
    cfg = dataclasses.replace(cfg, source=where)
    _validate(cfg, Fail(problems))
    return cfg


def load(path: str | os.PathLike[str] | None) -> Config:
    """The config of `path`, or of the first default path that exists, or the defaults."""
    if path is None:
        env = os.environ.get("MAILGUARD_CONFIG")
        candidates = [Path(env)] if env else [p for p in DEFAULT_CONFIG_PATHS if p.exists()]
        if not candidates:
            return Config()
        path = candidates[0]
    p = Path(path)
    problems = Problems(str(p))
    text = problems.read(p)
    if text is None:
        raise ConfigError.of(problems)
    return from_text(text, where=str(p), base_dir=p.resolve().parent)


def as_toml_data(cfg: Config) -> dict[str, dict[str, Any]]:
    """Every section of `cfg` as TOML holds it (tables, lists; an unset `X | None` key left out):
    what `config check --effective` writes, and what loads back into the same settings."""
    return {name: _as_toml(dataclasses.asdict(getattr(cfg, name))) for name in SECTIONS}


def defaults_as_dict() -> dict[str, dict[str, Any]]:
    """Every section with its default values, as TOML would hold them (for the example test)."""
    return as_toml_data(Config())


def _as_toml(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_toml(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_as_toml(v) for v in value]
    return value
