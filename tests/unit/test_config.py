"""The config file: defaults, the shipped example, and errors that name file, key and line."""
from __future__ import annotations

import subprocess
import tomllib

import pytest

from mailguard import config
from realservers import ROOT, VENV_BIN


def test_example_config_documents_every_default():
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    assert example == config.defaults_as_dict()


def test_file_holds_only_what_it_changes(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('[relay]\nmode = "behind"\n[store]\nstate_dir = "state"\n')
    cfg = config.load(path)
    assert cfg.relay.mode == "behind"
    assert cfg.server.max_recipients == config.ServerSettings().max_recipients
    assert cfg.store.state_dir == str(tmp_path / "state")  # relative to the config file


@pytest.mark.parametrize("text, expected", [
    ('[server]\nlisten = "127.0.0.1:25"\nmax_conections = 5\n', "m.toml:3: [server] max_conections: unknown key"),
    ('[server]\nmax_connections = "many"\n', "m.toml:2: [server] max_connections: expected a whole number"),
    ('[relay]\nmode = "sideways"\n', "m.toml:2: [relay] mode: expected one of 'front', 'behind'"),
    ('[serverr]\n', "m.toml:1: unknown section [serverr]"),
    ('[server]\nlisten = "127.0.0.1"\n', "m.toml:2: [server] listen: '127.0.0.1': a port is required"),
    ('[server\nlisten = 1\n', "m.toml:1: TOML syntax error"),
    ('[actions]\nadd_header = 20.0\n', "[actions] add_header: thresholds must rise"),
    # check sections: declared and validated by each check's spec
    ('[auth]\nenabled = true\nthreads = 0\n', "m.toml:3: [auth] threads: must be greater than 0"),
    ('[auth]\nbogus = 1\n', "m.toml:2: [auth] bogus: unknown key"),
    ('[bayes]\nham_score = 1.0\n', "m.toml:2: [bayes] ham_score: must be 0 or less"),
    ('[faults]\nchecks = ["explode"]\n', "m.toml:2: [faults] checks: 'explode': expected"),
    ('[[dnsbl.zone]]\nzone = "bl.example"\ncodes = ["127.0.0.2=bad:1"]\n',
     "m.toml:3: [[dnsbl.zone]] #1 codes: '127.0.0.2=bad:1': symbol 'bad' must be upper-case"),
    ('[lists]\n\n[[lists.file]]\nname = "Bad"\npath = "x"\n', "m.toml:4: [[lists.file]] #1 name: 'Bad'"),
])
def test_errors_name_file_key_and_line(tmp_path, text, expected):
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert expected in str(err.value)


def test_host_port_forms():
    assert config.parse_host_port("[::1]:10025") == config.HostPort("::1", 10025)
    assert str(config.HostPort("::1", 25)) == "[::1]:25"
    assert config.parse_host_port("dns.example", default_port=53) == config.HostPort("dns.example", 53)


def test_cli_exit_codes(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nnope = 1\n")
    res = subprocess.run([VENV_BIN / "mailguard", "serve", "--config", bad], capture_output=True, text=True)
    assert res.returncode == 1
    assert "bad.toml:2: [server] nope: unknown key" in res.stderr
    assert "Traceback" not in res.stderr
    res = subprocess.run([VENV_BIN / "mailguard", "serve", "--bogus"], capture_output=True, text=True)
    assert res.returncode == 2
    res = subprocess.run([VENV_BIN / "mailguard", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("mailguard ")
    good = tmp_path / "good.toml"
    good.write_text("[relay]\nmode = \"behind\"\n")
    res = subprocess.run([VENV_BIN / "mailguard", "config", "check", "--config", good], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_shipped_rules_and_example_config_are_found():
    from mailguard.paths import example_config, shipped_rules_dir

    assert (shipped_rules_dir() / "README.md").is_file()
    assert example_config().is_file()


def test_config_check_reports_what_serve_would_refuse_to_start_on(tmp_path):
    site = tmp_path / "rules.d"
    site.mkdir()
    (site / "local.toml").write_text('[[rule]]\nname = "LOCAL_X"\nkind = "body"\npattern = "(a"\nscore = 1.0\n')
    cfg = tmp_path / "mailguard.toml"
    cfg.write_text(f'[rules]\nsite_dir = "{site}"\n\n[[lists.file]]\nname = "national"\npath = "absent.list"\n')
    res = subprocess.run([VENV_BIN / "mailguard", "config", "check", "--config", cfg], capture_output=True, text=True)
    assert res.returncode == 1
    assert f"{site / 'local.toml'}:4: LOCAL_X: invalid regex" in res.stderr
    assert f"{tmp_path / 'absent.list'}: list 'national': cannot read" in res.stderr
    assert "2 problems found" in res.stderr and "Traceback" not in res.stderr
    (site / "local.toml").unlink()
    (tmp_path / "absent.list").write_text("192.0.2.7\n")
    res = subprocess.run([VENV_BIN / "mailguard", "config", "check", "--config", cfg], capture_output=True, text=True)
    assert res.returncode == 0 and res.stderr.strip().endswith(": ok"), res.stderr


def test_skipped_list_lines_are_problems_to_config_check_and_no_business_of_other_commands(tmp_path):
    listed = tmp_path / "site.list"
    listed.write_text("192.0.2.7\n!!bogus!!\n")
    cfg = tmp_path / "mailguard.toml"
    cfg.write_text(f'[rules]\nsite_dir = "{tmp_path / "none"}"\n\n[[lists.file]]\nname = "site"\npath = "site.list"\n')
    opts = ["--config", cfg, "--state-dir", tmp_path / "state"]
    res = subprocess.run([VENV_BIN / "mailguard", "config", "check", *opts], capture_output=True, text=True)
    assert res.returncode == 1
    assert f"{listed}:2: list site: '!!bogus!!' skipped: not an IP address" in res.stderr
    assert "1 problem found" in res.stderr
    (tmp_path / "m.eml").write_bytes(b"From: a@sender.example\r\nSubject: x\r\n\r\nhello\r\n")
    res = subprocess.run([VENV_BIN / "mailguard", "scan", "--offline", *opts, tmp_path / "m.eml"],
                         capture_output=True, text=True)
    assert res.returncode == 0 and "Action: " in res.stdout
    assert "skipped:" not in res.stderr and "list site" not in res.stderr, res.stderr
