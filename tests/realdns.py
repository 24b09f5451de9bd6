"""A real DNS server for the tests: unbound (Debian) answering authoritatively from fixture records.

Records are zone-file lines, `NAME [TTL] TYPE RDATA` with absolute names ("mail.example.com. A
192.0.2.1"); every other name is NXDOMAIN (`local-zone: "." static`), so nothing leaves loopback.
Also a server that never answers (a UDP socket that reads and stays silent) for deadline tests.
"""
from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query

from realservers import free_port, wait_for


def txt(name: str, text: str, ttl: int = 300) -> str:
    """A TXT record line; texts over 255 bytes split into several character-strings (DKIM keys)."""
    chunks = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return f"{name} {ttl} IN TXT " + " ".join('"' + c.replace('"', '\\"') + '"' for c in chunks)


@dataclass
class DnsServer:
    base: Path
    records: list[str]
    denied: list[str] = field(default_factory=list)  # zones whose queries are dropped: never answered
    port: int = 0
    proc: subprocess.Popen | None = None
    stderr_path: Path = field(init=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _config(self) -> str:
        lines = [
            "server:",
            f"  interface: 127.0.0.1@{self.port}",
            f"  port: {self.port}",
            "  do-daemonize: no",
            '  chroot: ""',
            '  username: ""',
            f'  directory: "{self.base}"',
            f'  pidfile: "{self.base}/unbound.pid"',
            "  use-syslog: no",
            "  verbosity: 0",
            "  log-queries: yes",  # counted by queries_for(): "was it asked?" without a clock
            f'  logfile: "{self.base}/queries.log"',
            "  do-ip6: no",
            "  access-control: 127.0.0.0/8 allow",
            "  module-config: \"iterator\"",
            "  do-not-query-localhost: yes",
            "  cache-max-ttl: 0",
            '  local-zone: "." static',
        ]
        for zone in self.denied:
            lines.append(f'  local-zone: "{zone}" deny')
        for record in self.records:
            lines.append("  local-data: '" + record.replace("'", "\\'") + "'")
        lines += ["remote-control:", "  control-enable: no", ""]
        return "\n".join(lines)

    def start(self) -> "DnsServer":
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        conf = self.base / "unbound.conf"
        conf.write_text(self._config())
        check = subprocess.run(["unbound-checkconf", str(conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"unbound config rejected:\n{check.stdout}{check.stderr}")
        self.stderr_path = self.base / "unbound.err"
        self.proc = subprocess.Popen(["unbound", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=self.stderr_path.open("w"))

        def answers() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError("unbound exited:\n" + self.stderr_path.read_text())
            try:
                dns.query.udp(dns.message.make_query("ready.invalid.", "A"), "127.0.0.1",
                              port=self.port, timeout=0.2)
                return True
            except Exception:
                return False

        wait_for(answers, 20, what=f"unbound on port {self.port}")
        return self

    def queries_for(self, name: str) -> int:
        """Queries received so far for `name` or a name under it."""
        log = self.base / "queries.log"
        if not log.exists():
            return 0
        suffix = name.rstrip(".").lower() + "."
        return sum(1 for line in log.read_text(errors="replace").splitlines()
                   if " info: " in line and any(w.lower() == suffix or w.lower().endswith("." + suffix)
                                                for w in line.split()))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class SilentDnsServer:
    """Binds a UDP and a TCP port and never answers: a DNS server that hangs."""

    def __init__(self) -> None:
        self._seen = 0
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket()
        try:
            self.tcp.bind(("127.0.0.1", self.port))
            self.tcp.listen(16)
        except OSError:
            self.tcp.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def queries_received(self) -> int:
        """Datagrams and connections that reached it so far (it reads them only to count)."""
        self.udp.setblocking(False)
        self.tcp.setblocking(False)
        while True:
            try:
                self.udp.recv(65535)
                self._seen += 1
            except (BlockingIOError, OSError):
                break
        while True:
            try:
                self.tcp.accept()[0].close()
                self._seen += 1
            except (BlockingIOError, OSError):
                break
        return self._seen

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()
