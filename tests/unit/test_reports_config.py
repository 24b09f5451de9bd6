"""`[reports]` (issue 16): the defaults, the report addresses, precise errors with file and line,
the never-block path relative to the config file, the REPORTED_SOURCE symbol declared, and the
check built only where there is a store (CheckServices.sources)."""
from __future__ import annotations

import subprocess

import pytest

from mailguard import config
from mailguard.checks.registry import CheckServices, build_checks
from mailguard.checks.symbols import declared_symbols
from mailguard.paths import shipped_never_block
from mailguard.reports.spec import ReportsSettings
from realservers import VENV_BIN


def load(tmp_path, text: str) -> config.Config:
    path = tmp_path / "m.toml"
    path.write_text(text)
    return config.load(path)


def test_defaults():
    r = config.Config().reports
    assert r == ReportsSettings()
    assert (r.enabled, r.block_after_reporters, r.window_days, r.block_days, r.max_reports_per_hour) == \
        (True, 3, 7.0, 30.0, 20)
    assert (r.acknowledge, r.forward_mode, r.deliver_reports, r.never_block) == (True, "each", False, "")
    assert r.spam_addresses == r.ham_addresses == r.local_domains == r.forward_to == ()
    assert r.window_seconds == 7 * 86400 and r.block_seconds == 30 * 86400


def test_local_parts_stand_for_every_local_domain(tmp_path):
    cfg = load(tmp_path, '[reports]\nspam_addresses = ["spam", "Abuse@Example.VN"]\nham_addresses = ["ham"]\n'
                         'local_domains = ["example.vn", "Mail.Example.com.vn"]\n')
    r = cfg.reports
    assert r.addresses("spam") == ("spam@example.vn", "spam@mail.example.com.vn", "abuse@example.vn")
    assert r.addresses("ham") == ("ham@example.vn", "ham@mail.example.com.vn")
    assert r.kind_of("<SPAM@example.vn>") == "spam" and r.kind_of("ham@mail.example.com.vn") == "ham"
    assert r.kind_of("an@example.vn") is None and r.kind_of("spam") is None
    assert r.acknowledge_sender == "postmaster@example.vn"


def test_acknowledge_from_given_wins(tmp_path):
    cfg = load(tmp_path, '[reports]\nspam_addresses = ["abuse@example.vn"]\nacknowledge_from = "noreply@example.vn"\n')
    assert cfg.reports.acknowledge_sender == "noreply@example.vn"


def test_never_block_is_relative_to_the_config_file(tmp_path):
    cfg = load(tmp_path, '[reports]\nnever_block = "lists/never.txt"\n')
    assert cfg.reports.never_block == str(tmp_path / "lists" / "never.txt")
    assert config.Config().reports.never_block == ""  # the shipped list
    assert shipped_never_block().is_file()


@pytest.mark.parametrize("text, expected", [
    ('[reports]\nspam_addresses = ["spam"]\n',
     "m.toml:2: [reports] spam_addresses: 'spam' is a local part: [reports] local_domains must name"),
    ('[reports]\nlocal_domains = ["example.vn"]\nham_addresses = ["not an address@"]\n',
     "m.toml:3: [reports] ham_addresses: 'not an address@' is not an address"),
    ('[reports]\nspam_addresses = ["abuse@localhost"]\nacknowledge = false\n',
     "[reports] spam_addresses: 'abuse@localhost' is not an address"),
    ('[reports]\nspam_addresses = ["a b"]\nlocal_domains = ["example.vn"]\n',
     "[reports] spam_addresses: 'a b' is not an address"),
    ('[reports]\nblock_after_reporters = 0\n', "m.toml:2: [reports] block_after_reporters: must be 1 or more"),
    ('[reports]\nwindow_days = 0\n', "m.toml:2: [reports] window_days: must be greater than 0"),
    ('[reports]\nblock_days = -1\n', "[reports] block_days: must be greater than 0"),
    ('[reports]\nmax_reports_per_hour = 0\n', "[reports] max_reports_per_hour: must be 1 or more"),
    ('[reports]\nbudget_ms = 0\n', "[reports] budget_ms: must be greater than 0"),
    ('[reports]\nlocal_domains = ["exa mple"]\n', "[reports] local_domains: 'exa mple' is not a domain name"),
    ('[reports]\nlocal_domains = ["example.vn"]\nspam_addresses = ["spam"]\nham_addresses = ["spam@example.vn"]\n',
     "[reports] ham_addresses: spam@example.vn: also a spam address"),
    ('[reports]\nspam_addresses = ["abuse@example.vn"]\n',
     "[reports] acknowledge_from: required when local_domains is empty"),
    ('[reports]\nacknowledge_from = "postmaster"\n', "[reports] acknowledge_from: 'postmaster' is not an address"),
    ('[reports]\nforward_to = ["vncert"]\n', "[reports] forward_to: 'vncert' is not an address"),
    ('[reports]\nforward_mode = "weekly"\n', "m.toml:2: [reports] forward_mode: expected one of 'each', 'digest'"),
    ('[reports]\nspam_address = []\n', "m.toml:2: [reports] spam_address: unknown key"),
])
def test_errors_name_the_key(tmp_path, text, expected):
    with pytest.raises(config.ConfigError) as err:
        load(tmp_path, text)
    assert expected in str(err.value)


def test_the_authority_and_full_addresses_are_accepted(tmp_path):
    cfg = load(tmp_path, '[reports]\nspam_addresses = ["abuse@example.vn"]\nlocal_domains = ["example.vn"]\n'
                         'forward_to = ["chongthurac@vncert.vn"]\nforward_mode = "each"\n')
    assert cfg.reports.forward_to == ("chongthurac@vncert.vn",) and cfg.reports.forward_mode == "each"


def test_the_symbol_is_declared():
    declared = {d.symbol.name: d for d in declared_symbols(config.Config())}
    assert declared["REPORTED_SOURCE"].check == "REPORTS"
    assert declared["REPORTED_SOURCE"].symbol.score == 6.0
    assert "CHECK_TIMEOUT_REPORTED_SOURCE" in declared


class _NoSources:
    """A stand-in for the store's SourcesPort (only its presence matters here)."""

    async def blocked(self, sources, now):
        return []


def test_the_check_is_built_only_with_a_store():
    cfg = config.Config()
    services = CheckServices.for_config(cfg)
    try:
        assert "REPORTED_SOURCE" not in {c.name for c in build_checks(cfg, services=services)}
        services.sources = _NoSources()
        assert "REPORTED_SOURCE" in {c.name for c in build_checks(cfg, services=services)}
        again = CheckServices.for_config(cfg, services)  # a reload keeps the store's port
        assert again.sources is services.sources
        off = cfg.replace("reports", enabled=False)
        assert "REPORTED_SOURCE" not in {c.name for c in build_checks(off, services=services)}
    finally:
        services.close()


def test_config_check_reads_the_never_block_list(tmp_path):
    cfg = tmp_path / "mailguard.toml"
    cfg.write_text(f'[rules]\nsite_dir = "{tmp_path / "rules.d"}"\n[reports]\nnever_block = "absent.txt"\n')
    res = subprocess.run([VENV_BIN / "mailguard", "config", "check", "--config", cfg], capture_output=True, text=True)
    assert res.returncode == 1 and f"{tmp_path / 'absent.txt'}: list 'never_block': cannot read" in res.stderr
    (tmp_path / "absent.txt").write_text("example.com\n")
    res = subprocess.run([VENV_BIN / "mailguard", "config", "check", "--config", cfg], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_the_relay_of_our_own_mail_is_a_host_and_port(tmp_path):
    assert load(tmp_path, '[reports]\nrelay = "127.0.0.1:10026"\n').reports.relay == "127.0.0.1:10026"
    with pytest.raises(config.ConfigError) as err:
        load(tmp_path, '[reports]\nrelay = "[::1"\n')
    assert "relay" in str(err.value)
