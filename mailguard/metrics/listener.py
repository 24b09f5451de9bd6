"""The /metrics listener, on the event loop: one request per connection (HTTP/1.0 and 1.1,
`Connection: close`), the whole exchange within REQUEST_TIMEOUT, at most MAX_SCRAPES rendered at
once (more get 503) and MAX_CONNECTIONS open. Only GET and HEAD of /metrics (and /) are served;
anything else gets a 4xx. Prometheus' scraper needs nothing more, and a stuck or hostile client
holds a connection for at most REQUEST_TIMEOUT seconds.

On the loop rather than in prometheus-client's `start_http_server` thread: the scrape-time
readings ask the async store, each connection gets a deadline (the stdlib WSGI server has none),
and no thread per connection. The text itself is rendered in a worker thread (exposition.py)."""
from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from mailguard.config import HostPort

log = logging.getLogger("mailguard.metrics")

REQUEST_TIMEOUT = 30.0  # seconds: request head in, answer out (rendering is bounded below that)
MAX_HEAD = 8192  # bytes of request line and headers
MAX_SCRAPES = 4  # requests being answered at once
MAX_CONNECTIONS = 64  # open at once; more are closed at once
PATHS = ("/metrics", "/")


@dataclass
class MetricsListener:
    server: asyncio.Server
    bound: HostPort
    render: Callable[[], Awaitable[bytes]]
    _slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_SCRAPES))
    _open: int = 0

    @classmethod
    async def start(cls, listen: HostPort, render: Callable[[], Awaitable[bytes]],
                    sock: socket.socket | None = None) -> MetricsListener:
        """Listening on `listen` (port 0: a free one, in `bound`), or accepting on `sock` bound
        already (worker processes); OSError when it cannot."""
        holder: list[MetricsListener] = []
        if sock is not None:
            server = await asyncio.start_server(lambda r, w: holder[0]._serve(r, w), sock=sock, limit=MAX_HEAD)
        else:
            server = await asyncio.start_server(lambda r, w: holder[0]._serve(r, w), host=listen.host,
                                                port=listen.port, reuse_address=True, limit=MAX_HEAD)
        me = cls(server, HostPort(listen.host, server.sockets[0].getsockname()[1]), render)
        holder.append(me)
        return me

    def close(self) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._open >= MAX_CONNECTIONS:
            writer.close()
            return
        self._open += 1
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                await self._exchange(reader, writer)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("metrics request failed")
        finally:
            self._open -= 1
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            await _refuse(reader, writer, 431, b"request head too large\n")
            return
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            await _refuse(reader, writer, 400, b"bad request\n")
            return
        method, target = parts[0], parts[1].split(b"?", 1)[0].decode("latin-1")
        if method not in (b"GET", b"HEAD"):
            await _refuse(reader, writer, 405, b"only GET and HEAD\n", extra=b"Allow: GET, HEAD\r\n")
            return
        if target not in PATHS:
            await _refuse(reader, writer, 404, b"the metrics are at /metrics\n")
            return
        if self._slots.locked():
            await _refuse(reader, writer, 503, b"too many scrapes at once\n")
            return
        async with self._slots:
            try:
                body = await self.render()
            except Exception:
                log.exception("metrics could not be rendered")
                await _refuse(reader, writer, 500, b"metrics could not be rendered\n")
                return
        await _answer(writer, 200, body, content_type=CONTENT_TYPE_PLAIN_0_0_4, head_only=method == b"HEAD")


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


async def _answer(writer: asyncio.StreamWriter, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
                  extra: bytes = b"", head_only: bool = False) -> None:
    writer.write(f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n".encode("ascii") + extra + b"\r\n")
    if not head_only:
        writer.write(body)
    await writer.drain()


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int, body: bytes,
                  extra: bytes = b"") -> None:
    """An error answer, then what the client still sends is read and dropped until it closes (within
    the request's deadline): closing on unread bytes would reset the connection, and the client
    could lose the answer."""
    await _answer(writer, status, body, extra=extra)
    if writer.can_write_eof():
        writer.write_eof()
    while await reader.read(MAX_HEAD):
        pass
