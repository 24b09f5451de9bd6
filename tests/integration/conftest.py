"""Fixtures of the integration tests: they start real components — Postfix, smtp-sink, unbound,
mailguard (see realservers.py, realdns.py). The unit tests (tests/unit) need none of them."""
from __future__ import annotations

import pytest

from realservers import Mailguard, Postfix, SmtpSink, config_for, free_port, have


def pytest_configure(config):
    missing = [p for p in ("postfix", "smtp-sink", "smtp-source", "swaks", "unbound", "opendkim-testmsg") if not have(p)]
    if missing:
        raise pytest.UsageError(f"programs the tests need are missing: {', '.join(missing)} "
                                "(run the test command of README.md, which installs them)")


@pytest.fixture(scope="session")
def postfix(tmp_path_factory):
    pf = Postfix(tmp_path_factory.mktemp("postfix"), free_port())
    pf.setup()
    pf.start()
    yield pf
    pf.close()


@pytest.fixture(scope="session")
def session_dns(tmp_path_factory):
    """An unbound that knows no names: mailguard's default resolver in tests, so that no test
    depends on the machine's resolv.conf (every name answers NXDOMAIN at once, on loopback)."""
    from realdns import DnsServer

    server = DnsServer(tmp_path_factory.mktemp("dns"), []).start()
    yield server
    server.stop()


@pytest.fixture
def start_mailguard(tmp_path, session_dns):
    """start_mailguard(downstream_port, args=[...], **sections) → a running Mailguard; its
    resolver is the session's empty DNS server unless the test gives a [dns] section."""
    started: list[Mailguard] = []

    def start(downstream_port: int, args: list[str] | None = None, **sections) -> Mailguard:
        sections.setdefault("dns", {"servers": [session_dns.address]})
        mg = Mailguard(tmp_path / f"mailguard{len(started)}", config_for(downstream_port, **sections), args or [])
        started.append(mg)
        return mg.start()

    yield start
    for mg in started:
        mg.stop()


@pytest.fixture
def mailguard(postfix, start_mailguard):
    """mailguard in front mode before the session's Postfix, default settings."""
    return start_mailguard(postfix.port)


@pytest.fixture
def start_sink(tmp_path):
    sinks: list[SmtpSink] = []

    def start(*options: str) -> SmtpSink:
        sink = SmtpSink(tmp_path / f"sink{len(sinks)}", free_port(), list(options))
        sinks.append(sink)
        sink.start()
        return sink

    yield start
    for sink in sinks:
        sink.stop()


@pytest.fixture
def start_dns(tmp_path):
    """start_dns(records, denied=[zones]) → a running unbound answering from zone-file lines (see
    realdns.py), dropping every query under the denied zones (a list server that never answers)."""
    from realdns import DnsServer

    servers: list[DnsServer] = []

    def start(records: list[str], denied: list[str] = ()) -> DnsServer:
        server = DnsServer(tmp_path / f"dns{len(servers)}", list(records), list(denied))
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def silent_dns():
    from realdns import SilentDnsServer

    server = SilentDnsServer()
    yield server
    server.close()
