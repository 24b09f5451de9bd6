"""The listening sockets, bound once by the supervisor before it forks: every worker accepts on
the same socket, so port 0 is chosen once, and connections waiting in the backlog of a worker
that dies are taken by the others (README, "Worker processes")."""
from __future__ import annotations

import socket
from dataclasses import dataclass

from mailguard.config import Config, HostPort

BACKLOG = 1024  # connections the kernel queues before a worker accepts them


@dataclass
class Listeners:
    smtp: socket.socket | None = None
    milter: socket.socket | None = None
    metrics: socket.socket | None = None

    @classmethod
    def bind(cls, config: Config) -> Listeners:
        """The sockets the config asks for; OSError (with the address in `filename`) when one
        cannot be bound, and then none stays open."""
        me = cls()
        try:
            if config.server.listen:
                me.smtp = _bind(config.listen)
            if config.milter_listen is not None:
                me.milter = _bind(config.milter_listen)
            if config.metrics_listen is not None:
                me.metrics = _bind(config.metrics_listen)
        except OSError:
            me.close()
            raise
        return me

    def close(self) -> None:
        for sock in (self.smtp, self.milter, self.metrics):
            if sock is not None:
                sock.close()


def bound(listen: HostPort, sock: socket.socket) -> HostPort:
    """The address as configured, with the port the kernel gave (port 0)."""
    return HostPort(listen.host, sock.getsockname()[1])


def _bind(listen: HostPort) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(listen.host or None, listen.port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        exc.filename = str(listen)
        raise
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        exc.filename = str(listen)
        raise
    return sock
