"""A raw SMTP client for the tests: bytes exactly as written, replies exactly as read."""
from __future__ import annotations

import socket
from dataclasses import dataclass, field


@dataclass
class RawClient:
    port: int
    source: str = "127.0.0.1"
    timeout: float = 60.0
    sock: socket.socket = field(init=False)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout,
                                             source_address=(self.source, 0))
        self.file = self.sock.makefile("rb")

    def reply(self) -> bytes:
        """One whole reply (every line of a multi-line one), b'' when the server closed."""
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                return b"".join(lines)
            lines.append(line)
            if line[3:4] != b"-":
                return b"".join(lines)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.reply()

    def rest(self) -> list[bytes]:
        """Every reply until the server closes the connection."""
        out = []
        while reply := self.reply():
            out.append(reply)
        return out

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
