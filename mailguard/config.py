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
import tomllib
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

DEFAULT_CONFIG_PATHS = (Path("/etc/mailguard/mailguard.toml"),)


class ConfigError(Exception):
    """A config file that cannot be used; the message names file, key and line."""


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


@dataclass(frozen=True)
class MilterSettings:
    listen: str = ""  # HOST:PORT for Postfix's smtpd_milters; empty: no milter


@dataclass(frozen=True)
class RelaySettings:
    downstream: str = "127.0.0.1:10025"
    mode: Literal["front", "behind"] = "front"
    connect_timeout: float = 10.0
    command_timeout: float = 60.0  # greeting, EHLO, XCLIENT, MAIL, RCPT, RSET
    data_timeout: float = 0.0  # DATA: our first byte to the final reply; 0: see Config.relay_data_timeout


@dataclass(frozen=True)
class StoreSettings:
    state_dir: str = "/var/lib/mailguard"
    url: str = ""  # the backend (mailguard/store/backends.py); empty: SQLite in state_dir
    history_days: int = 180  # Decree 91 Art. 10: headers kept at least 180 days


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
class AuthSettings:
    """SPF, DKIM, DMARC and ARC, and the Authentication-Results header."""

    enabled: bool = True
    authserv_id: str = ""  # empty: server.hostname
    budget_ms: int = 5000
    dmarc_reject_action: Literal["reject", "quarantine", "score"] = "reject"
    dmarc_quarantine_action: Literal["quarantine", "score"] = "quarantine"
    trusted_arc_sealers: tuple[str, ...] = ()  # domains (ARC-Seal d=) whose chain overrides DMARC
    threads: int = 4  # worker threads for the synchronous SPF and ARC libraries


@dataclass(frozen=True)
class DnsblZone:
    """One DNS blocklist: `[[dnsbl.zone]]`. The codes map answers to symbols (README, "Blocklists")."""

    zone: str = ""  # e.g. "zen.spamhaus.org"
    kind: Literal["ip", "domain"] = "ip"  # what is looked up: the client address, or domains
    # "ANSWER=SYMBOL:SCORE": ANSWER an address (127.0.0.2), a range (127.0.0.10-127.0.0.11), or
    # with bitmask = true a bit value (4). An answer no code names is "<zone's symbol>:<score>".
    codes: tuple[str, ...] = ()
    bitmask: bool = False  # answers are bit sets (SURBL/URIBL multi lists)
    symbol: str = ""  # for answers no code names; empty: no symbol for them
    score: float = 0.0
    # Answers meaning "this query was refused" (public resolver, over quota): RBL_BLOCKED, not hits.
    blocked: tuple[str, ...] = ()


@dataclass(frozen=True)
class DnsblSettings:
    """DNS blocklists for the client address (DNSBL) and for the domains of links (URIBL/DBL)."""

    enabled: bool = True
    budget_ms: int = 3000
    max_domains: int = 20  # registered domains looked up per message (links first, in order)
    sender_domains: bool = False  # also look up the From and Reply-To domains in domain zones
    received_hop: bool = False  # also the first untrusted Received hop (behind other relays)
    failures_to_mark_down: int = 5  # consecutive timeouts/SERVFAILs before a zone is rested
    down_seconds: float = 300.0  # how long a failing zone is not asked
    zone: tuple[DnsblZone, ...] = (
        DnsblZone(zone="zen.spamhaus.org", kind="ip", codes=(
            "127.0.0.2=RBL_ZEN_SBL:4.0", "127.0.0.3=RBL_ZEN_CSS:2.0", "127.0.0.4-127.0.0.7=RBL_ZEN_XBL:4.0",
            "127.0.0.9=RBL_ZEN_DROP:5.0", "127.0.0.10-127.0.0.11=RBL_ZEN_PBL:1.5"),
            symbol="RBL_ZEN", score=2.0, blocked=("127.255.255.0/24",)),
        DnsblZone(zone="dbl.spamhaus.org", kind="domain", codes=(
            "127.0.1.2=DBL_SPAM:5.0", "127.0.1.4=DBL_PHISH:6.0", "127.0.1.5=DBL_MALWARE:6.0",
            "127.0.1.6=DBL_BOTNET_CC:6.0", "127.0.1.102-127.0.1.106=DBL_ABUSED:2.5"),
            symbol="DBL_LISTED", score=3.0, blocked=("127.255.255.0/24",)),
    )


@dataclass(frozen=True)
class ListFile:
    """One named local list: `[[lists.file]]` (README, "Local lists")."""

    name: str = ""  # how rules refer to it; symbols are LIST_<NAME> (upper-cased)
    path: str = ""
    use: Literal["block", "allow", "rules"] = "block"  # rules: only referred to by rules
    score: float = 10.0  # block: added; allow: subtracted
    reject: bool = False  # block: refuse at RCPT time (550 5.7.1) instead of only scoring
    links: bool = False  # domain entries also match the domains of links in the message


@dataclass(frozen=True)
class ListsSettings:
    check_seconds: float = 5.0  # how often list files are checked for changes (and on SIGHUP)
    file: tuple[ListFile, ...] = ()


@dataclass(frozen=True)
class RulesSettings:
    site_dir: str = "/etc/mailguard/rules.d"
    budget_ms: int = 1000
    check_seconds: float = 5.0  # how often rule files are checked for changes (and on SIGHUP)


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
class FaultSettings:
    """Fault injection, for testing a deployment: never set in production."""

    checks: tuple[str, ...] = ()  # "raise": a check that raises; "hang": one that never returns


@dataclass(frozen=True)
class BayesSettings:
    """The naive Bayes content model (README, "Content model (Bayes)")."""

    enabled: bool = True
    budget_ms: int = 500
    model_file: str = "bayes.model"  # relative to [store] state_dir
    min_spam: int = 200  # no Bayes symbol until this many spam and ham were learnt
    min_ham: int = 200
    spam_probability: float = 0.9  # from here up BAYES_SPAM
    ham_probability: float = 0.2  # from here down BAYES_HAM; between the two BAYES_UNSURE (score 0)
    spam_score: float = 5.5  # BAYES_SPAM's score at full confidence (p = 1)
    ham_score: float = -3.0  # BAYES_HAM's score at full confidence (p = 0)
    autolearn: bool = False
    autolearn_spam: float = 12.0  # learn as spam a verdict scoring this or more (Bayes symbols left out)
    autolearn_ham: float = -1.0  # learn as ham a verdict scoring this or less (Bayes symbols left out)


@dataclass(frozen=True)
class Config:
    server: ServerSettings = field(default_factory=ServerSettings)
    relay: RelaySettings = field(default_factory=RelaySettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    actions: ActionSettings = field(default_factory=ActionSettings)
    dns: DnsSettings = field(default_factory=DnsSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    dnsbl: DnsblSettings = field(default_factory=DnsblSettings)
    lists: ListsSettings = field(default_factory=ListsSettings)
    rules: RulesSettings = field(default_factory=RulesSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    faults: FaultSettings = field(default_factory=FaultSettings)
    bayes: BayesSettings = field(default_factory=BayesSettings)
    milter: MilterSettings = field(default_factory=MilterSettings)
    source: str = "<defaults>"  # the file this came from

    @property
    def listen(self) -> HostPort:
        return parse_host_port(self.server.listen)

    @property
    def milter_listen(self) -> HostPort | None:
        return parse_host_port(self.milter.listen) if self.milter.listen else None

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
    def state_dir(self) -> Path:
        return Path(self.store.state_dir)

    def policy_group(self, address: str) -> str:
        """The name of the policy group of a recipient address ("" for none: [actions])."""
        domain = address.rpartition("@")[2].strip().rstrip(".").lower()
        best, length = "", -1
        for group in self.policy.group:
            for d in group.domains:
                d = d.strip().rstrip(".").lower()
                if (domain == d or domain.endswith("." + d)) and len(d) > length:
                    best, length = group.name, len(d)
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


SECTIONS: dict[str, type] = {
    name: hint for name, hint in get_type_hints(Config).items() if name != "source"
}
PATH_KEYS = {("store", "state_dir"), ("rules", "site_dir"), ("server", "tls_cert"), ("server", "tls_key"),
             ("lists.file", "path")}


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """Best-effort line number of `[section]` or of `key` inside it (tomllib gives none)."""
    current = ""
    header = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]")
    for number, line in enumerate(text.splitlines(), start=1):
        m = header.match(line)
        if m:
            current = m.group(1)
            if key is None and current == section:
                return number
            continue
        if key is not None and current == section and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return None


def _check_type(value: Any, expected: Any) -> Any:
    """Value converted to the field's type, or raise TypeError with what was wanted."""
    origin = get_origin(expected)
    if origin in (Union, types.UnionType) and type(None) in get_args(expected):  # X | None: unset is None
        (inner,) = [a for a in get_args(expected) if a is not type(None)]
        return _check_type(value, inner)
    if origin is Literal:
        if value not in get_args(expected):
            raise TypeError("one of " + ", ".join(repr(a) for a in get_args(expected)))
        return value
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError("a list of strings")
        return tuple(value)
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("a number")
        return float(value)
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("a whole number")
        return value
    if expected is bool:
        if not isinstance(value, bool):
            raise TypeError("true or false")
        return value
    if expected is str:
        if not isinstance(value, str):
            raise TypeError("a string")
        return value
    raise TypeError(f"unsupported type {expected!r}")  # pragma: no cover - programming error


def _validate(cfg: Config, where: str, text: str) -> None:
    def fail(section: str, key: str, message: str) -> None:
        line = _line_of(text, section, key)
        loc = f"{where}:{line}" if line else where
        raise ConfigError(f"{loc}: [{section}] {key}: {message}")

    for section, key in (("server", "listen"), ("relay", "downstream"), ("milter", "listen")):
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
        ("server", "junk_command_limit"), ("server", "max_bytes_in_flight"), ("store", "history_days"), ("dns", "timeout"),
        ("dns", "max_in_flight"), ("auth", "budget_ms"), ("auth", "threads"),
    ):
        if getattr(getattr(cfg, section), key) <= 0:
            fail(section, key, "must be greater than 0")
    if cfg.relay.data_timeout < 0:
        fail("relay", "data_timeout", "must be 0 (automatic) or more")
    if cfg.relay.data_timeout and cfg.relay.data_timeout + cfg.server.scan_timeout > 600:
        fail("relay", "data_timeout", "with [server] scan_timeout over 600 s: the client gives up first "
                                      "(RFC 5321 §4.5.3.2.6) and would retry a message the downstream took")
    if cfg.server.max_line_length < 1000:
        fail("server", "max_line_length", "must be at least 1000 (RFC 5321 §4.5.3.1.6)")
    if bool(cfg.server.tls_cert) != bool(cfg.server.tls_key):
        fail("server", "tls_cert", "tls_cert and tls_key go together")
    if cfg.auth.authserv_id and not re.fullmatch(r"[A-Za-z0-9._-]+", cfg.auth.authserv_id):
        fail("auth", "authserv_id", "a host name (letters, digits, '.', '-', '_')")
    def fail_item(table: str, index: int, key: str, message: str) -> None:
        line = _line_of_item(text, table, index, key)
        loc = f"{where}:{line}" if line else where
        raise ConfigError(f"{loc}: [[{table}]] #{index + 1} {key}: {message}")

    from mailguard.dnsbl.codes import SYMBOL_NAME, parse_blocked, parse_code

    for i, z in enumerate(cfg.dnsbl.zone):
        if not re.fullmatch(r"(?=.{1,200}$)([A-Za-z0-9_-]{1,63}\.)+[A-Za-z0-9-]{1,63}\.?", z.zone):
            fail_item("dnsbl.zone", i, "zone", f"{z.zone!r} is not a DNS zone name")
        for code in z.codes:
            try:
                parse_code(code, z.bitmask)
            except ValueError as exc:
                fail_item("dnsbl.zone", i, "codes", str(exc))
        for net in z.blocked:
            try:
                parse_blocked(net)
            except ValueError as exc:
                fail_item("dnsbl.zone", i, "blocked", str(exc))
        if z.symbol and not SYMBOL_NAME.match(z.symbol):
            fail_item("dnsbl.zone", i, "symbol", "upper-case letters, digits and '_'")
    for section, key in (("dnsbl", "budget_ms"), ("dnsbl", "max_domains"), ("dnsbl", "failures_to_mark_down"),
                         ("lists", "check_seconds")):
        if getattr(getattr(cfg, section), key) <= 0:
            fail(section, key, "must be greater than 0")
    names: set[str] = set()
    for i, lf in enumerate(cfg.lists.file):
        if not re.fullmatch(r"[a-z0-9_]+", lf.name):
            fail_item("lists.file", i, "name", f"{lf.name!r}: lower-case letters, digits and '_'")
        if lf.name in names:
            fail_item("lists.file", i, "name", f"{lf.name!r} is used twice")
        names.add(lf.name)
        if not lf.path:
            fail_item("lists.file", i, "path", "a file is required")
    groups: dict[str, str] = {}  # domain → group
    for i, g in enumerate(cfg.policy.group):
        if not re.fullmatch(r"[a-z0-9_-]+", g.name):
            fail_item("policy.group", i, "name", f"{g.name!r}: lower-case letters, digits, '_' and '-'")
        if any(other.name == g.name for other in cfg.policy.group[:i]):
            fail_item("policy.group", i, "name", f"{g.name!r} is used twice")
        if not g.domains:
            fail_item("policy.group", i, "domains", "at least one recipient domain")
        for d in g.domains:
            key = d.strip().rstrip(".").lower()
            if not re.fullmatch(r"([a-z0-9_-]{1,63}\.)*[a-z0-9-]{1,63}", key):
                fail_item("policy.group", i, "domains", f"{d!r} is not a domain name")
            if key in groups:
                fail_item("policy.group", i, "domains", f"{d!r} is already in group {groups[key]!r}")
            groups[key] = g.name
        for key in ("allow_lists", "block_lists"):
            for name in getattr(g, key):
                if name not in names:
                    fail_item("policy.group", i, key, f"unknown list {name!r} (not a [[lists.file]] name)")
        t = g.thresholds(cfg.actions)
        if not t.add_header <= t.rewrite_subject <= t.quarantine <= t.reject:
            fail_item("policy.group", i, "add_header", "thresholds (with those of [actions] it keeps) must "
                      "rise: add_header <= rewrite_subject <= quarantine <= reject")
    if cfg.rules.check_seconds <= 0:
        fail("rules", "check_seconds", "must be greater than 0")
    for fault in cfg.faults.checks:
        if fault not in ("raise", "hang"):
            fail("faults", "checks", f"{fault!r}: expected \"raise\" or \"hang\"")
    _validate_bayes(cfg.bayes, fail)
    from mailguard.store.backends import parse_url

    try:
        parse_url(cfg.store.url, cfg.state_dir)
    except ValueError as exc:
        fail("store", "url", str(exc))
    if cfg.server.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        fail("server", "log_level", "one of debug, info, warning, error")


def _validate_bayes(b: BayesSettings, fail) -> None:
    if b.budget_ms <= 0:
        fail("bayes", "budget_ms", "must be greater than 0")
    for key in ("min_spam", "min_ham"):
        if getattr(b, key) < 0:
            fail("bayes", key, "must be 0 or more")
    if not 0.0 <= b.ham_probability < b.spam_probability <= 1.0:
        fail("bayes", "spam_probability", "0 <= ham_probability < spam_probability <= 1")
    if b.spam_score < 0:
        fail("bayes", "spam_score", "must be 0 or more")
    if b.ham_score > 0:
        fail("bayes", "ham_score", "must be 0 or less")
    if b.autolearn_ham >= b.autolearn_spam:
        fail("bayes", "autolearn_ham", "must be below autolearn_spam")
    if not b.model_file.strip():
        fail("bayes", "model_file", "a file name is required")


def _line_of_item(text: str, table: str, index: int, key: str | None) -> int | None:
    """Line of `key` in the index-th `[[table]]` of an array of tables (or of its header)."""
    header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
    seen = -1
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        if header.match(line):
            seen += 1
            inside = seen == index
            if inside and key is None:
                return number
            continue
        if re.match(r"^\s*\[", line):
            inside = False
        elif inside and key is not None and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return None


def _build(cls: type, value: dict, label: str, where: str, text: str, base_dir: Path | None, locate) -> Any:
    """A settings dataclass from a TOML table; `label` names it in errors ("dnsbl", "dnsbl.zone #2")."""
    hints = get_type_hints(cls)
    table, _, number = label.partition(" #")
    shown = f"[[{table}]] #{number}" if number else f"[{label}]"
    kwargs: dict[str, Any] = {}
    for key, raw in value.items():
        line = locate(key)
        loc = f"{where}:{line}" if line else where
        if key not in hints:
            raise ConfigError(f"{loc}: {shown} {key}: unknown key")
        item_cls = _table_array_item(hints[key])
        if item_cls is not None:
            if not isinstance(raw, list) or not all(isinstance(v, dict) for v in raw):
                raise ConfigError(f"{loc}: {shown} {key}: expected tables ([[{label}.{key}]]), got {raw!r}")
            table = f"{label}.{key}"
            kwargs[key] = tuple(
                _build(item_cls, item, f"{table} #{i + 1}", where, text, base_dir,
                       lambda k, table=table, i=i: _line_of_item(text, table, i, k))
                for i, item in enumerate(raw))
            continue
        try:
            converted = _check_type(raw, hints[key])
        except TypeError as exc:
            raise ConfigError(f"{loc}: {shown} {key}: expected {exc}, got {raw!r}") from None
        if (table, key) in PATH_KEYS and converted and base_dir is not None:
            converted = str((base_dir / os.path.expanduser(converted)).resolve())
        kwargs[key] = converted
    return cls(**kwargs)


def _table_array_item(hint: Any) -> type | None:
    """X when the hint is tuple[X, ...] of a dataclass X (an array of tables), else None."""
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if args and dataclasses.is_dataclass(args[0]):
            return args[0]
    return None


def from_text(text: str, where: str = "<config>", base_dir: Path | None = None) -> Config:
    """Parse and validate config text; relative paths are taken from `base_dir`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        loc = f"{where}:{m.group(1)}" if m else where
        raise ConfigError(f"{loc}: TOML syntax error: {exc}") from None
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name not in SECTIONS:
            line = _line_of(text, name, None)
            loc = f"{where}:{line}" if line else where
            known = ", ".join(f"[{s}]" for s in SECTIONS)
            raise ConfigError(f"{loc}: unknown section [{name}] (known: {known})")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {name} must be a section ([{name}])")
        sections[name] = _build(SECTIONS[name], value, name, where, text, base_dir,
                                lambda key, name=name: _line_of(text, name, key))
    cfg = Config(**sections, source=where)
    _validate(cfg, where, text)
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
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text: {exc}") from None
    return from_text(text, where=str(p), base_dir=p.resolve().parent)


def defaults_as_dict() -> dict[str, dict[str, Any]]:
    """Every section with its default values, as TOML would hold them (for the example test)."""
    cfg = Config()
    out: dict[str, dict[str, Any]] = {}
    for name in SECTIONS:
        out[name] = _as_toml(dataclasses.asdict(getattr(cfg, name)))
    return out


def _as_toml(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_toml(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_toml(v) for v in value]
    return value
