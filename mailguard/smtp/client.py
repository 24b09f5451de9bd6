"""The SMTP client of the downstream hop: byte-exact, bounded, and streaming.

Our own rather than a library's, for three reasons a proxy cannot give up: every command line is
checked here for control bytes (so nothing a client sent can split a command, whatever a library
version allows); the message is streamed in bounded chunks with line ends normalised and dots
stuffed on the way (a 10 MB message costs 10 MB once, not a copy per transformation); and every
wait has the deadline its caller gives.
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from mailguard.smtp.replies import Reply

CHUNK = 1 << 20  # bytes of the message transformed and written at a time
MAX_REPLY_LINES = 100
MAX_REPLY_LINE = 4096
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_LINE_END = re.compile(rb"\r\n|\r|\n")


class ClientError(Exception):
    """The downstream connection failed: `why` says how, for the log and our 4xx."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class ClientTimeout(ClientError):
    pass


class UnsafeCommand(ValueError):
    """A command argument holds a control byte: it is never written."""


@dataclass
class SmtpClient:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    extensions: dict[str, str] = field(default_factory=dict)  # EHLO keyword (lower case) → parameters
    # A command or message is written and its reply not read yet (it stays set when the wait is
    # cancelled): such a connection is never reused, its next reply belongs to the old command.
    in_flight: bool = False

    @classmethod
    async def connect(cls, host: str, port: int, timeout: float) -> "tuple[SmtpClient, Reply]":
        """A connection and the server's greeting."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=MAX_REPLY_LINE * 2), timeout)
        except asyncio.TimeoutError:
            raise ClientTimeout(f"no connection within {timeout:g}s") from None
        except OSError as exc:
            raise ClientError(exc.strerror or str(exc)) from None
        client = cls(reader, writer)
        try:
            greeting = await client.read_reply(timeout)
        except ClientError:
            client.close()
            raise
        return client, greeting

    @property
    def is_connected(self) -> bool:
        return not self.writer.is_closing()

    @property
    def reusable(self) -> bool:
        """Connected, between commands, and not closed by the server meanwhile (as far as
        we can tell without asking: a closed one is found at the next command)."""
        return not self.writer.is_closing() and not self.in_flight and not self.reader.at_eof()

    def supports(self, keyword: str) -> bool:
        return keyword.lower() in self.extensions

    async def read_reply(self, timeout: float) -> Reply:
        try:
            async with asyncio.timeout(timeout):
                return await self._read_reply()
        except TimeoutError:
            self.close()
            raise ClientTimeout(f"no answer within {timeout:g}s") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            raise ClientError(f"connection lost ({type(exc).__name__})") from None

    async def _read_reply(self) -> Reply:
        texts: list[str] = []
        while True:
            line = await self.reader.readuntil(b"\n")
            line = line.rstrip(b"\r\n")
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
                raise ValueError(f"not an SMTP reply: {line[:80]!r}")
            if len(texts) < MAX_REPLY_LINES:
                texts.append(line[4:].decode("utf-8", "replace"))
            if line[3:4] != b"-":
                return Reply(int(line[:3]), "\n".join(texts))

    async def command(self, *args: bytes, timeout: float) -> Reply:
        for arg in args:
            if _CONTROL.search(arg):
                raise UnsafeCommand(f"control byte in {args[0][:10].decode('ascii', 'replace')} argument")
        return await self._send(b" ".join(args) + b"\r\n", timeout)

    async def _send(self, data: bytes, timeout: float) -> Reply:
        deadline = asyncio.get_running_loop().time() + timeout
        self.in_flight = True
        await self._write((data,), deadline, timeout)
        reply = await self.read_reply(max(deadline - asyncio.get_running_loop().time(), 0.001))
        self.in_flight = False
        return reply

    async def _write(self, chunks: Iterable[bytes], deadline: float, timeout: float) -> bool:
        """Write every chunk (waiting for room) before `deadline`; whether the last ended a line."""
        ends_with_eol = True
        try:
            async with asyncio.timeout_at(deadline):
                for chunk in chunks:
                    self.writer.write(chunk)
                    await self.writer.drain()
                    ends_with_eol = chunk.endswith(b"\r\n")
        except TimeoutError:
            self.close()
            raise ClientTimeout(f"could not write within {timeout:g}s") from None
        except OSError as exc:
            self.close()
            raise ClientError(f"connection lost ({exc.strerror or type(exc).__name__})") from None
        return ends_with_eol

    async def ehlo(self, name: str, timeout: float) -> Reply:
        reply = await self.command(b"EHLO", name.encode("utf-8", "surrogateescape"), timeout=timeout)
        if reply.ok:
            self.extensions = {}
            for line in reply.text.split("\n")[1:]:
                keyword, _, params = line.strip().partition(" ")
                if keyword:
                    self.extensions[keyword.lower()] = params
        return reply

    async def send_message(self, parts: Iterable[bytes], timeout: float) -> Reply:
        """After a 354: the message, written part by part (line ends CRLF, leading dots doubled),
        the final dot, and the server's answer — all within `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.in_flight = True
        ends_with_eol = await self._write(_wire_chunks(parts), deadline, timeout)
        end = b".\r\n" if ends_with_eol else b"\r\n.\r\n"
        return await self._send(end, max(deadline - loop.time(), 0.001))

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


def _wire_chunks(parts: Iterable[bytes]) -> Iterable[bytes]:
    """The message in wire form, at most about CHUNK bytes at a time. Each chunk is cut after a
    line end of the input, so CR LF is never split, and each starts a line (dots stuffed there)."""
    carry = b""
    for part in parts:
        data = carry + part if carry else part
        start = 0
        while len(data) - start > CHUNK:
            cut = data.find(b"\n", start + CHUNK)
            if cut < 0:
                break
            yield _to_wire(data[start:cut + 1])
            start = cut + 1
        carry = data[start:]
    if carry:
        yield _to_wire(carry)


def _to_wire(piece: bytes) -> bytes:
    # A piece cut after LF cannot end inside CR LF; one ending in CR (the end of the message)
    # gets its LF here, as every bare CR or LF does (RFC 5321 §2.3.8: no bare line ends on the
    # wire, which is also what keeps a "\n.\n" in the content from ending the data downstream).
    piece = _LINE_END.sub(b"\r\n", piece)
    if piece.startswith(b"."):
        piece = b"." + piece
    return piece.replace(b"\r\n.", b"\r\n..")
