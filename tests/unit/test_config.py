"""The config file: defaults, the shipped example, and errors that name file, key and line."""
from __future__ import annotations

import dataclasses
import re
import subprocess
import tomllib
import typing

import pytest

from mailguard import config
from realservers import ROOT, VENV_BIN


EXAMPLE = ROOT / "config.example.toml"


def _schema_keys(cls: type, path: tuple[str, ...]):
    """(table path, key, type hint) of every key a config file may hold, array-of-tables items too."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.metadata.get("toml", True):
            continue
        hint = hints[f.name]
        yield path, f.name, hint
        args = typing.get_args(hint)
        if typing.get_origin(hint) is tuple and args and dataclasses.is_dataclass(args[0]):
            yield from _schema_keys(args[0], (*path, f.name))


def _tables_of_examples() -> set[tuple[str, str]]:
    """(section, key) of the arrays of tables that are empty by default: the example shows them
    as commented tables, since a `key = []` line would end up inside an uncommented one."""
    return {(path[0], key) for name, cls in config.SECTIONS.items() for path, key, hint in _schema_keys(cls, (name,))
            if typing.get_origin(hint) is tuple and typing.get_args(hint)
            and dataclasses.is_dataclass(typing.get_args(hint)[0]) and len(path) == 1
            and getattr(getattr(config.Config(), name), key) == ()}


def _uncommented_examples(text: str) -> str:
    """The example with every commented `# [[table]]` block (and its `# key = value` lines) uncommented."""
    out, inside = [], False
    for line in text.splitlines():
        if re.match(r"^# \[\[[a-z_.]+\]\]$", line):
            inside = True
        elif inside and not re.match(r"^# [a-z_]+ = |^#$", line):
            inside = False
        out.append(line[2:] if inside else line)
    return "\n".join(out) + "\n"


def test_example_config_documents_every_default():
    example = tomllib.loads(EXAMPLE.read_text())
    defaults = config.defaults_as_dict()
    for section, key in _tables_of_examples():
        assert defaults[section].pop(key) == [] and key not in example[section]
    assert example == defaults


def test_every_key_of_the_schema_is_written_out_in_its_section_of_the_example():
    # Each section's text, up to the next [section]: every key it may hold (those of its arrays
    # of tables too) as a `key =` line there, set or commented, so the reference cannot drift.
    text = EXAMPLE.read_text()
    starts = [(m.group(1), m.start()) for m in re.finditer(r"^\[([a-z_]+)\]$", text, re.M)]
    blocks = {name: text[start:end] for (name, start), (_, end) in zip(starts, [*starts[1:], ("", len(text))])}
    missing = [f"[{'.'.join(path)}] {key}" for name, cls in config.SECTIONS.items()
               for path, key, _ in _schema_keys(cls, (name,))
               if not re.search(rf"^(# ?)?\s*{key} = |^# \[\[{'[.]'.join((*path, key))}\]\]$", blocks.get(name, ""),
                                re.M)]
    assert set(blocks) == set(config.SECTIONS) and missing == []


def test_the_examples_of_tables_load_when_uncommented(tmp_path):
    text = _uncommented_examples(EXAMPLE.read_text())
    for table in ("[[lists.file]]", "[[policy.group]]", "[[advertising.agreement]]"):
        assert f"\n{table}\n" in text
    cfg = config.from_text(text, "example.toml", tmp_path)
    assert [f.name for f in cfg.lists.file] == ["vn_blacklist", "shop_block"]
    assert cfg.lists.file[0].reject and cfg.lists.check_seconds == 5.0  # [lists]' own keys stay its own
    assert cfg.policy.group[0].block_lists == ("shop_block",) and cfg.policy.group[0].reject == 10.0
    assert cfg.advertising.agreement[0].limit == 10


def test_config_check_effective_prints_every_setting_as_toml_that_loads_back_the_same(tmp_path):
    listed = tmp_path / "site.list"
    listed.write_text("192.0.2.7\n")
    cfg = tmp_path / "mailguard.toml"
    cfg.write_text(f'[relay]\nmode = "behind"\n\n[rules]\nsite_dir = "{tmp_path / "none"}"\n\n'
                   '[[lists.file]]\nname = "site"\npath = "site.list"\n\n'
                   '[[policy.group]]\nname = "shop"\ndomains = ["shop.example"]\nreject = 14.0\n')
    res = subprocess.run([VENV_BIN / "mailguard", "config", "check", "--effective", "--config", cfg,
                          "--state-dir", tmp_path / "state"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    effective = tomllib.loads(res.stdout)
    assert effective["relay"]["mode"] == "behind" and effective["server"]["max_recipients"] == 1000
    assert effective["store"]["state_dir"] == str(tmp_path / "state")  # the command line's, in force
    assert effective["lists"]["file"][0]["path"] == str(listed)  # made absolute
    assert "quarantine" not in effective["policy"]["group"][0]  # unset: [actions]'s
    assert set(effective) == set(config.SECTIONS)
    (tmp_path / "effective.toml").write_text(res.stdout)
    loaded = config.load(tmp_path / "effective.toml")
    expected = config.load(cfg).replace("store", state_dir=str(tmp_path / "state"), url="")
    assert dataclasses.replace(loaded, source="") == dataclasses.replace(expected, source="")


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
    ('[relay]\npool_size = -1\n', "m.toml:2: [relay] pool_size: must be 0 (no pool) or more"),
    ('[relay]\npool_idle_timeout = 0\n', "m.toml:2: [relay] pool_idle_timeout: must be greater than 0"),
    ('[serverr]\n', "m.toml:1: unknown section [serverr]"),
    ('[server]\nlisten = "127.0.0.1"\n', "m.toml:2: [server] listen: '127.0.0.1': a port is required"),
    ('[server\nlisten = 1\n', "m.toml:1: TOML syntax error"),
    ('[actions]\nadd_header = 20.0\n', "[actions] add_header: thresholds must rise"),
    ('[server]\nworkers = -1\n', "m.toml:2: [server] workers: must be 0 (one per core) or more"),
    # check sections: declared and validated by each check's spec
    ('[auth]\nenabled = true\nthreads = 0\n', "m.toml:3: [auth] threads: must be greater than 0"),
    ('[auth]\nbogus = 1\n', "m.toml:2: [auth] bogus: unknown key"),
    ('[bayes]\nham_score = 1.0\n', "m.toml:2: [bayes] ham_score: must be 0 or less"),
    ('[faults]\nchecks = ["explode"]\n', "m.toml:2: [faults] checks: 'explode': expected"),
    ('[[dnsbl.zone]]\nzone = "bl.example"\ncodes = ["127.0.0.2=bad:1"]\n',
     "m.toml:3: [[dnsbl.zone]] #1 codes: '127.0.0.2=bad:1': symbol 'bad' must be upper-case"),
    ('[lists]\n\n[[lists.file]]\nname = "Bad"\npath = "x"\n', "m.toml:4: [[lists.file]] #1 name: 'Bad'"),
    ('[[lists.file]]\nname = "a"\npath = "x"\n\n[[lists.file]]\nname = "b"\nscroe = 2.0\n',
     "m.toml:7: [[lists.file]] #2 scroe: unknown key"),
    ('[reports]\nenabled = true\n\n[[dnsbl.zone]]\nzone = "bl.example"\nrejct = true\n',
     "m.toml:6: [[dnsbl.zone]] #1 rejct: unknown key"),
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
    res = subprocess.run([VENV_BIN / "mailguard", "serve", "--workers", "0"], capture_output=True, text=True)
    assert res.returncode == 2 and "--workers: '0': a whole number of at least 1" in res.stderr
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
