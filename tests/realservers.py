"""Real servers for the tests: a private Postfix, Postfix's smtp-sink, and mailguard itself.

The Postfix recipe (and its silent pitfalls) is ../shared/POSTFIX-TESTING.md.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
VENV_BIN = Path(sys.executable).parent
TEST_DOMAIN = "test.example"
USERS = ("user", "other", "big", "utf8", "trap")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value or `timeout` passes (then fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def let_others_traverse(path: Path) -> None:
    """Another user (Postfix's delivery agent, a service user) may reach into `path`: each folder
    from it up to / gets the execute bit for group and others (pytest's folders are 0700)."""
    for parent in [path, *path.parents]:
        if parent == Path("/"):
            break
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o011)


def python_for_others(scratch: Path) -> list[str]:
    """A command prefix under which other users can run this Python (as a service user does).
    pyenv puts it under /root, which they cannot enter: the command then runs in a private mount
    namespace where that folder is a tmpfs holding only the interpreter's folder (`scratch`, an
    empty folder, keeps it meanwhile). Nothing changes outside the namespace, which ends with
    the command. [] when others can reach the interpreter."""
    prefix = Path(sys.base_prefix).resolve()
    closed = next((p for p in reversed(prefix.parents) if not p.stat().st_mode & 0o001), None)
    if closed is None:
        return []
    scratch.mkdir(parents=True, exist_ok=True)
    script = ('mount --bind "$1" "$2" && mount -t tmpfs -o mode=0755 tmpfs "$3" && mkdir -p "$1" '
              '&& mount --bind "$2" "$1" && shift 3 && exec "$@"')
    return ["unshare", "--mount", "--", "sh", "-c", script, "sh", str(prefix), str(scratch), str(closed)]


def as_user(user: pwd.struct_passwd, scratch: Path) -> list[str]:
    """A command prefix running the command as `user` (its group and groups), able to run this
    Python (python_for_others)."""
    return [*python_for_others(scratch), "setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
            "--init-groups", "--"]


def wait_port(port: int, timeout: float = 20.0) -> None:
    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    wait_for(up, timeout, what=f"port {port}")


DEFAULT_MAIN_CF = Path("/etc/postfix/main.cf")
CREATED_MAIN_CF = "compatibility_level = 3.6\n"  # what we write when the machine has no main.cf


def _alternate_config_directories() -> list[str]:
    current = subprocess.run(["postconf", "-h", "alternate_config_directories"], capture_output=True,
                             text=True).stdout.strip()
    return [d for d in re.split(r"[\s,]+", current) if d and Path(d).exists()]


def _set_alternate_config_directories(dirs: list[str]) -> None:
    subprocess.run(["postconf", "-e", f"alternate_config_directories = {' '.join(dirs)}"], check=True)


@dataclass
class Postfix:
    """A private Postfix instance on a loopback port delivering to Maildirs under `mail/`."""

    base: Path
    port: int
    started: bool = False
    extra_master: str = ""  # more master.cf lines (e.g. a before-filter smtpd for behind mode)
    extra_main: str = ""  # more main.cf lines (e.g. smtpd_milters)

    @property
    def etc(self) -> Path:
        return self.base / "etc"

    @property
    def log_file(self) -> Path:
        return self.base / "postfix.log"

    def maildir(self, user: str = "user") -> Path:
        return self.base / "mail" / user / "new"

    def delivered(self, user: str = "user") -> list[Path]:
        d = self.maildir(user)
        return sorted(d.iterdir()) if d.exists() else []

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def setup(self) -> None:
        for sub in ("etc", "spool", "data", "mail"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        master = Path("/etc/postfix/master.cf").read_text()
        master = re.sub(r"^smtp\s+inet\s.*$", f"127.0.0.1:{self.port} inet n - n - - smtpd", master,
                        count=1, flags=re.M)
        (self.etc / "master.cf").write_text(master + self.extra_master)
        b = self.base
        (self.etc / "vmailbox").write_text("".join(f"{u}@{TEST_DOMAIN} {u}/\n" for u in USERS))
        (self.etc / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {b}/spool
data_directory = {b}/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.{TEST_DOMAIN}
mydestination =
virtual_mailbox_domains = {TEST_DOMAIN}
virtual_mailbox_base = {b}/mail
virtual_mailbox_maps = texthash:{b}/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
mynetworks = 192.0.2.1/32
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_authorized_xforward_hosts = 127.0.0.0/8
smtputf8_enable = yes
message_size_limit = 52428800
virtual_mailbox_limit = 0
alias_maps =
alias_database =
maillog_file = {b}/postfix.log
maillog_file_prefixes = /tmp, /var, /dev/stdout, {b}
smtpd_banner = $myhostname ESMTP test
# Keep Postfix from rewriting headers of loopback clients, so tests can compare bytes.
local_header_rewrite_clients =
{self.extra_main}""")
        postfix_uid = pwd.getpwnam("postfix").pw_uid
        os.chown(b / "data", postfix_uid, -1)
        os.chown(b / "mail", 65534, 65534)
        let_others_traverse(b)  # the virtual delivery agent (uid 65534)
        self._allow_config_dir()

    def _allow_config_dir(self) -> None:
        # Pitfall: `postfix -c DIR` is refused unless the default main.cf lists DIR. Debian's
        # "No configuration" install leaves no main.cf at all.
        if not DEFAULT_MAIN_CF.exists():
            DEFAULT_MAIN_CF.write_text(CREATED_MAIN_CF)
        dirs = _alternate_config_directories()
        if str(self.etc) not in dirs:
            _set_alternate_config_directories([*dirs, str(self.etc)])

    def close(self) -> None:
        """Stop, and take our folder out of the machine's main.cf again (and the main.cf itself
        when we wrote it and nothing else is listed): a test run leaves no machine state."""
        self.stop()
        dirs = [d for d in _alternate_config_directories() if d != str(self.etc)]
        _set_alternate_config_directories(dirs)
        if not dirs and DEFAULT_MAIN_CF.exists():
            lines = {line.strip() for line in DEFAULT_MAIN_CF.read_text().splitlines() if line.strip()}
            if lines <= {CREATED_MAIN_CF.strip(), "alternate_config_directories ="}:
                DEFAULT_MAIN_CF.unlink()  # ours: the machine had none

    def start(self) -> None:
        subprocess.run(["postfix", "-c", str(self.etc), "check"], check=True, capture_output=True)
        res = subprocess.run(["postfix", "-c", str(self.etc), "start"], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"postfix start failed: {res.stdout} {res.stderr} {self.log()}")
        self.started = True
        wait_port(self.port, timeout=30)

    def stop(self) -> None:
        if self.started:
            subprocess.run(["postfix", "-c", str(self.etc), "stop"], capture_output=True)
            self.started = False

    def wait_delivered(self, user: str, predicate, timeout: float = 30.0) -> Path:
        """The first delivered file of `user` whose bytes satisfy `predicate`."""
        def find():
            for path in self.delivered(user):
                try:
                    if predicate(path.read_bytes()):
                        return path
                except FileNotFoundError:
                    continue
            return None

        return wait_for(find, timeout, what=f"delivery to {user}")


def milter_postfix(base: Path, milter_port: int, plain_port: int | None = None, extra_main: str = "") -> Postfix:
    """A private Postfix whose smtpd asks mailguard's milter on `milter_port` (tempfail when it
    cannot be asked); with `plain_port`, a second smtpd there without the milter: the downstream
    for what mailguard sends itself (released copies, acknowledgements)."""
    return Postfix(base, free_port(),
                   extra_master=f"127.0.0.1:{plain_port} inet n - n - - smtpd -o smtpd_milters=\n" if plain_port else "",
                   extra_main=f"smtpd_milters = inet:127.0.0.1:{milter_port}\n"
                              "milter_default_action = tempfail\nmilter_protocol = 6\n" + extra_main)


@dataclass
class SmtpSink:
    """Postfix's smtp-sink: a scriptable downstream (4xx, stalls, disconnects)."""

    base: Path
    port: int
    options: list[str]
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        let_others_traverse(self.base)
        self.base.chmod(0o777)
        self.proc = subprocess.Popen(["smtp-sink", "-u", "nobody", *self.options, f"127.0.0.1:{self.port}", "1000"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@dataclass
class Mailguard:
    """`mailguard serve` as a real subprocess, with a config file written for the test."""

    base: Path
    config_text: str
    args: list[str] = field(default_factory=list)
    prefix: list[str] = field(default_factory=list)  # runs `serve` under it (setpriv ..., a sandbox)
    proc: subprocess.Popen | None = None
    port: int = 0  # the SMTP listener's ("listening on"); 0 when [server] listen = ""
    milter_port: int = 0  # the milter's ("milter listening on"), when there is one
    metrics_port: int = 0  # the /metrics listener's ("metrics listening on"), with [metrics] listen
    stderr_lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @property
    def config_path(self) -> Path:
        return self.base / "mailguard.toml"

    def start(self, timeout: float = 30.0) -> "Mailguard":
        self.base.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text)
        cmd = [*self.prefix, str(VENV_BIN / "mailguard"), "serve", "--config", str(self.config_path),
               "--state-dir", str(self.base / "state"), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wants_smtp, wants_milter, wants_metrics = self._listeners()
        self.port = self.milter_port = self.metrics_port = 0  # a restart reports its ports again
        progress = threading.Condition()
        ended = []

        def read() -> None:
            assert self.proc and self.proc.stderr
            for line in self.proc.stderr:
                self.stderr_lines.append(line.rstrip("\n"))
                m = re.match(r"(milter |metrics )?listening on (?:\[[^\]]+\]|[^:]+):(\d+)$", line.strip())
                if m:
                    with progress:
                        setattr(self, {"milter ": "milter_port", "metrics ": "metrics_port"}.get(m.group(1) or "", "port"),
                                int(m.group(2)))
                        progress.notify_all()
            with progress:
                ended.append(True)
                progress.notify_all()

        def ready() -> bool:
            return bool(ended) or ((self.port or not wants_smtp) and (self.milter_port or not wants_milter)
                                   and (self.metrics_port or not wants_metrics))

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        with progress:
            progress.wait_for(ready, timeout)
        if ended or (wants_smtp and not self.port) or (wants_milter and not self.milter_port) or (
                wants_metrics and not self.metrics_port):
            self.stop()
            raise RuntimeError("mailguard did not start:\n" + self.log())
        return self

    def _listeners(self) -> tuple[bool, bool, bool]:
        """(an SMTP listener, a milter, a /metrics listener) as the config file and the arguments ask."""
        cfg = tomllib.loads(self.config_text)
        smtp = cfg.get("server", {}).get("listen", "127.0.0.1:10024") != ""
        milter = bool(cfg.get("milter", {}).get("listen")) or "--milter" in self.args
        return smtp, milter, bool(cfg.get("metrics", {}).get("listen"))

    def log(self) -> str:
        return "\n".join(self.stderr_lines)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """`mailguard ARGS` on this instance's config and state (quarantine, ads, reports, ...)."""
        return subprocess.run([VENV_BIN / "mailguard", *args, "--config", self.config_path,
                               "--state-dir", self.base / "state"], capture_output=True, text=True, timeout=120)

    def signal(self, sig: int) -> None:
        assert self.proc
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader:
            self._reader.join(5)
        return self.proc.returncode if self.proc else None


def config_for(downstream_port: int, **sections: dict) -> str:
    """A config file text: the downstream and whatever the test changes."""
    # One process unless the test asks for workers (tests/integration/test_workers.py).
    merged: dict[str, dict] = {"server": {"listen": "127.0.0.1:0", "hostname": "mailguard.test.example", "workers": 1},
                               "relay": {"downstream": f"127.0.0.1:{downstream_port}"}}
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    out = []
    for name, values in merged.items():
        out.append(f"[{name}]")
        tables = {k: v for k, v in values.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
        for key, value in values.items():
            if key not in tables:
                out.append(f"{key} = {_toml(value)}")
        out.append("")
        for key, items in tables.items():  # arrays of tables: [[lists.file]]
            for item in items:
                out.append(f"[[{name}.{key}]]")
                out.extend(f"{k} = {_toml(v)}" for k, v in item.items())
                out.append("")
    return "\n".join(out)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def have(program: str) -> bool:
    return shutil.which(program) is not None
