"""The milter protocol, version 6 (Sendmail 8.14's, as Postfix speaks it): packet framing and
the encoding of every command and response we use. No I/O: bytes in, values out.

A packet is a 4-byte big-endian length (of what follows), a command letter, and its data;
strings are NUL-terminated. Postfix's side is src/milter/milter8.c: it sends header values
with their folding as bare "\\n" and body lines ending in CR LF, hides its own Received header,
counts CHGHEADER indexes without that header and INSHEADER indexes with it.
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

VERSION = 6
BODY_CHUNK = 65535  # Postfix's MILTER_CHUNK_SIZE
# A header packet holds one field, which Postfix bounds by header_size_limit (102400 bytes by
# default); a body packet one chunk. Anything longer is a broken or hostile peer.
MAX_PACKET = 2 * 65536


class ProtocolError(ValueError):
    """A packet we cannot accept; the connection ends (Postfix then applies
    milter_default_action)."""


class Action(enum.IntFlag):
    """SMFIF_*: what the filter may do at the end of the message."""

    ADDHDRS = 0x01
    CHGBODY = 0x02
    ADDRCPT = 0x04
    DELRCPT = 0x08
    CHGHDRS = 0x10
    QUARANTINE = 0x20
    CHGFROM = 0x40
    ADDRCPT_PAR = 0x80
    SETSYMLIST = 0x100


class Step(enum.IntFlag):
    """SMFIP_*: events the filter does not want (NO*), does not answer (NR_*), and options."""

    NOCONNECT = 1 << 0
    NOHELO = 1 << 1
    NOMAIL = 1 << 2
    NORCPT = 1 << 3
    NOBODY = 1 << 4
    NOHDRS = 1 << 5
    NOEOH = 1 << 6
    NR_HDR = 1 << 7
    NOUNKNOWN = 1 << 8
    NODATA = 1 << 9
    SKIP = 1 << 10
    RCPT_REJ = 1 << 11
    NR_CONN = 1 << 12
    NR_HELO = 1 << 13
    NR_MAIL = 1 << 14
    NR_RCPT = 1 << 15
    NR_DATA = 1 << 16
    NR_UNKN = 1 << 17
    NR_EOH = 1 << 18
    NR_BODY = 1 << 19
    HDR_LEADSPC = 1 << 20


# What mailguard asks for: add and change headers, remove recipients (an ad held for the
# recipients over their daily limit, delivered to the others); no DATA or unknown-command events; no reply
# per header or to HELO (nothing to say there); header values with their leading space, so the
# message is rebuilt byte for byte.
WANTED_ACTIONS = Action.ADDHDRS | Action.CHGHDRS | Action.DELRCPT
WANTED_STEPS = Step.NODATA | Step.NOUNKNOWN | Step.NR_HDR | Step.NR_HELO | Step.HDR_LEADSPC


def _cstrings(data: bytes) -> list[bytes]:
    """NUL-terminated strings (a missing final NUL is tolerated)."""
    if not data:
        return []
    parts = data.split(b"\0")
    return parts[:-1] if parts[-1] == b"" else parts


def _text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


def _bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


# --- commands (MTA → filter) -------------------------------------------------------------------


@dataclass(frozen=True)
class OptNeg:
    """SMFIC_OPTNEG from the MTA (what it offers); the same shape is our answer (what we take)."""

    version: int
    actions: Action
    steps: Step

    def payload(self) -> bytes:
        return struct.pack("!III", self.version, int(self.actions), int(self.steps))


@dataclass(frozen=True)
class Macro:
    stage: str  # the command letter the macros are for ("C", "H", "M", "R", "T", "L", "N", "E")
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Connect:
    hostname: str  # "[1.2.3.4]" when the MTA has no verified name
    family: str  # "4", "6", "L" (unix socket) or "U" (unknown)
    port: int | None
    address: str | None


@dataclass(frozen=True)
class Helo:
    name: str


@dataclass(frozen=True)
class _Envelope:
    args: tuple[str, ...]  # "<address>", then ESMTP parameters "SIZE=123", "SMTPUTF8", ...

    @property
    def address(self) -> str:
        return _unbracket(self.args[0] if self.args else "")

    def has_param(self, name: str) -> bool:
        return any(a.partition("=")[0].upper() == name for a in self.args[1:])


class Mail(_Envelope):
    pass


class Rcpt(_Envelope):
    pass


@dataclass(frozen=True)
class Data:
    pass


@dataclass(frozen=True)
class Unknown:
    command: bytes


@dataclass(frozen=True)
class Header:
    name: bytes
    value: bytes  # after the colon; folded lines separated by b"\n"


@dataclass(frozen=True)
class EndOfHeaders:
    pass


@dataclass(frozen=True)
class Body:
    chunk: bytes


@dataclass(frozen=True)
class EndOfMessage:
    chunk: bytes  # a last body chunk (Postfix sends none: it uses BODY first)


@dataclass(frozen=True)
class Abort:
    pass


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class QuitNewConnection:
    """SMFIC_QUIT_NC: this SMTP session is over, the next one comes on the same socket."""


Command = (OptNeg | Macro | Connect | Helo | Mail | Rcpt | Data | Unknown | Header | EndOfHeaders | Body
           | EndOfMessage | Abort | Quit | QuitNewConnection)


def _unbracket(address: str) -> str:
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1]
    return address


def packet_length(head: bytes) -> int:
    """The length announced by a packet's first 4 bytes, checked against MAX_PACKET."""
    (length,) = struct.unpack("!I", head)
    if length < 1:
        raise ProtocolError("empty packet")
    if length > MAX_PACKET:
        raise ProtocolError(f"packet of {length} bytes (limit {MAX_PACKET})")
    return length


def decode(packet: bytes) -> Command:
    """One packet (command letter and data, without the length) as a command."""
    if not packet:
        raise ProtocolError("empty packet")
    letter, data = packet[:1], packet[1:]
    decoder = _DECODERS.get(letter)
    if decoder is None:
        raise ProtocolError(f"unknown command {letter!r}")
    try:
        return decoder(data)
    except (struct.error, IndexError, ValueError) as exc:
        raise ProtocolError(f"malformed {letter.decode('latin-1')!r} packet: {exc}") from None


def _optneg(data: bytes) -> OptNeg:
    version, actions, steps = struct.unpack_from("!III", data)
    return OptNeg(version, Action(actions), Step(steps))


def _macro(data: bytes) -> Macro:
    if not data:
        raise ValueError("no stage")
    items = _cstrings(data[1:])
    return Macro(data[:1].decode("latin-1"), {_text(k): _text(v) for k, v in zip(items[::2], items[1::2])})


def _connect(data: bytes) -> Connect:
    hostname, sep, rest = data.partition(b"\0")
    if not sep or not rest:
        raise ValueError("no family")
    family = rest[:1].decode("latin-1")
    if family == "U":
        return Connect(_text(hostname), family, None, None)
    (port,) = struct.unpack_from("!H", rest, 1)
    address = _cstrings(rest[3:])
    return Connect(_text(hostname), family, port, _text(address[0]) if address else None)


def _strings(data: bytes) -> tuple[str, ...]:
    return tuple(_text(s) for s in _cstrings(data))


def _header(data: bytes) -> Header:
    items = _cstrings(data)
    if len(items) != 2:
        raise ValueError("expected a name and a value")
    return Header(items[0], items[1])


_DECODERS = {
    b"O": _optneg,
    b"D": _macro,
    b"C": _connect,
    b"H": lambda d: Helo(_text(_cstrings(d)[0]) if d else ""),
    b"M": lambda d: Mail(_strings(d)),
    b"R": lambda d: Rcpt(_strings(d)),
    b"T": lambda d: Data(),
    b"U": lambda d: Unknown(d.rstrip(b"\0")),
    b"L": _header,
    b"N": lambda d: EndOfHeaders(),
    b"B": lambda d: Body(bytes(d)),
    b"E": lambda d: EndOfMessage(bytes(d)),
    b"A": lambda d: Abort(),
    b"Q": lambda d: Quit(),
    b"K": lambda d: QuitNewConnection(),
}


def negotiate(offer: OptNeg) -> OptNeg:
    """Our answer to the MTA's offer: what we want of what it offers."""
    if offer.version < 2:
        raise ProtocolError(f"milter protocol version {offer.version} is too old")
    missing = WANTED_ACTIONS & ~offer.actions
    if missing:
        raise ProtocolError(f"the MTA does not allow {missing!r}")
    return OptNeg(min(offer.version, VERSION), WANTED_ACTIONS, WANTED_STEPS & offer.steps)


# --- responses (filter → MTA) ------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A response without data."""

    letter: bytes


CONTINUE = Decision(b"c")  # go on (at the end of the message: accept)
ACCEPT = Decision(b"a")  # accept this message (at RCPT it would skip the rest of it: never sent there)
REJECT = Decision(b"r")
TEMPFAIL = Decision(b"t")
DISCARD = Decision(b"d")  # accept and drop
PROGRESS = Decision(b"p")  # still working: the MTA's timer restarts


@dataclass(frozen=True)
class ReplyCode:
    """A full SMTP reply instead of the MTA's default text: 4xx or 5xx, one or more lines."""

    code: int
    text: str  # lines joined with "\n", each starting with its enhanced status code

    letter = b"y"

    def payload(self) -> bytes:
        if not 400 <= self.code < 600:
            raise ValueError(f"SMFIR_REPLYCODE needs a 4xx or 5xx code, not {self.code}")
        lines = self.text.split("\n")
        last = len(lines) - 1
        wire = "\r\n".join(f"{self.code}{' ' if i == last else '-'}{line}" for i, line in enumerate(lines))
        # Sendmail takes the reply as a format string; Postfix reads '%%' as '%' and drops a lone '%'.
        return _bytes(wire.replace("%", "%%")) + b"\0"


@dataclass(frozen=True)
class AddHeader:
    name: str
    value: str  # as it goes after the colon (with its leading space under HDR_LEADSPC)

    letter = b"h"

    def payload(self) -> bytes:
        return _bytes(self.name) + b"\0" + _bytes(self.value) + b"\0"


@dataclass(frozen=True)
class InsertHeader:
    index: int  # 0: before every header; Postfix counts its own Received header here
    name: str
    value: str

    letter = b"i"

    def payload(self) -> bytes:
        return _indexed_field(self.index, self.name, self.value)


@dataclass(frozen=True)
class ChangeHeader:
    index: int  # 1: the first field of that name (Postfix's own Received header not counted)
    name: str
    value: str  # "" deletes the field

    letter = b"m"

    def payload(self) -> bytes:
        return _indexed_field(self.index, self.name, self.value)


@dataclass(frozen=True)
class DeleteRecipient:
    address: str  # as Postfix gave it in SMFIC_RCPT (angle brackets and all)

    letter = b"-"

    def payload(self) -> bytes:
        return _bytes(self.address) + b"\0"


def _indexed_field(index: int, name: str, value: str) -> bytes:
    return struct.pack("!I", index) + _bytes(name) + b"\0" + _bytes(value) + b"\0"


Response = OptNeg | Decision | ReplyCode | AddHeader | InsertHeader | ChangeHeader | DeleteRecipient


def encode(response: Response) -> bytes:
    """One response as a packet, length included."""
    letter = b"O" if isinstance(response, OptNeg) else response.letter
    payload = response.payload() if hasattr(response, "payload") else b""
    return struct.pack("!I", 1 + len(payload)) + letter + payload
