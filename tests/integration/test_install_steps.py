"""The steps of .ci/install and .ci/uninstall (.ci/lib.sh), run on temporary files: listing the
demo Postfix in main.cf and taking it out again, the config's host name, and the pid file of a
mailguard started without systemd. The scripts themselves change the machine (users, /etc,
/opt): no test runs them."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from realservers import ROOT, VENV_BIN, config_for

from mailguard import config as config_mod


def step(function: str, *args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f'set -euo pipefail; source .ci/lib.sh; {function} "$@"', "bash",
                           *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def postfix_dir(tmp_path: Path, main_cf: str | None) -> Path:
    """A Postfix config folder of the test's own (postconf reads and edits only its main.cf)."""
    conf = tmp_path / "postfix"
    conf.mkdir(parents=True)
    if main_cf is not None:
        (conf / "main.cf").write_text(main_cf)
    return conf


# The folders listed: the demo instance's and another instance's, both of the test's own (the
# values are only written into the temporary main.cf).
DEMO = "/tmp/mailguard-test-demo/etc"
OTHER = "/tmp/mailguard-test-other/etc"


def listed(conf: Path) -> list[str]:
    out = subprocess.run(["postconf", "-c", str(conf), "-h", "alternate_config_directories"],
                         capture_output=True, text=True, check=True).stdout
    return out.replace(",", " ").split()


def test_the_demo_is_listed_once_however_often_install_runs_and_others_stay(tmp_path):
    conf = postfix_dir(tmp_path, f"myhostname = mx.example.net\nalternate_config_directories = {OTHER}\n")
    for _ in range(2):
        assert step("maincf_list_dir", conf, DEMO).returncode == 0
    assert listed(conf) == [OTHER, DEMO]


def test_uninstall_leaves_main_cf_as_it_was_before_install(tmp_path):
    for n, before in enumerate(["myhostname = mx.example.net\n",
                                f"myhostname = mx.example.net\nalternate_config_directories = {OTHER}\n"]):
        conf = postfix_dir(tmp_path / str(n), before)
        assert step("maincf_list_dir", conf, DEMO).returncode == 0
        assert DEMO in listed(conf)
        assert step("maincf_unlist_dir", conf, DEMO).returncode == 0
        assert (conf / "main.cf").read_text() == before


def test_a_main_cf_the_install_created_goes_with_the_uninstall(tmp_path):
    conf = postfix_dir(tmp_path, None)
    assert step("maincf_list_dir", conf, DEMO).returncode == 0
    assert listed(conf) == [DEMO]
    assert step("maincf_unlist_dir", conf, DEMO).returncode == 0
    assert not (conf / "main.cf").exists()


def test_a_main_cf_the_install_created_stays_when_the_admin_added_to_it(tmp_path):
    conf = postfix_dir(tmp_path, None)
    assert step("maincf_list_dir", conf, DEMO).returncode == 0
    with (conf / "main.cf").open("a") as f:
        f.write("relayhost = [smtp.example.net]\n")
    assert step("maincf_unlist_dir", conf, DEMO).returncode == 0
    assert "relayhost = [smtp.example.net]" in (conf / "main.cf").read_text()
    assert listed(conf) == []


def test_the_installed_config_names_the_host_it_was_given(tmp_path):
    config = tmp_path / "mailguard.toml"
    shutil.copy(ROOT / "config.example.toml", config)
    assert step("set_server_hostname", config, "mx1.example.net").returncode == 0
    cfg = config_mod.load(str(config))
    assert cfg.server.hostname == "mx1.example.net"
    assert cfg.hostname == "mx1.example.net"  # greeting, Received:, authserv-id
    assert config.read_text().count("mx1.example.net") == 1


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_without_systemd_a_restart_replaces_the_process_and_stop_removes_the_pid_file(tmp_path, postfix,
                                                                                     session_dns):
    config = tmp_path / "mailguard.toml"
    config.write_text(config_for(postfix.port, dns={"servers": [session_dns.address]},
                                 store={"state_dir": str(tmp_path / "state")}))
    log, pidfile = tmp_path / "mailguard.log", tmp_path / "mailguard.pid"
    start = ("start_mailguard", VENV_BIN / "mailguard", config, log, pidfile, "root")
    started = step(*start)
    assert started.returncode == 0, started.stderr + log.read_text()
    first = int(pidfile.read_text())
    assert alive(first)
    assert log.read_text().count("listening on") == 1

    again = step(*start)  # what a re-run of .ci/install does
    assert again.returncode == 0, again.stderr + log.read_text()
    second = int(pidfile.read_text())
    assert second != first and alive(second) and not alive(first)
    assert log.read_text().count("listening on") == 2

    assert step("stop_mailguard", pidfile).returncode == 0
    assert not alive(second)
    assert not pidfile.exists()


def test_a_stale_pid_file_never_stops_another_program(tmp_path):
    other = subprocess.Popen(["sleep", "300"])
    try:
        pidfile = tmp_path / "mailguard.pid"
        pidfile.write_text(f"{other.pid}\n")  # mailguard died; its pid went to another program
        assert step("stop_mailguard", pidfile).returncode == 0
        assert other.poll() is None
        assert not pidfile.exists()
    finally:
        other.kill()
        other.wait()
