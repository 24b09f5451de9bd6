"""The keys that a message's DKIM-Signature and ARC headers name, fetched before verifying.

dkimpy looks a key up in the middle of verification and reads any DNS failure as a bad
signature, where RFC 6376 §6.1.2 wants TEMPFAIL. So the tag lists are parsed first (dkimpy's
parsers), every key name `s._domainkey.d` is looked up concurrently through the shared resolver
and classified, and dkimpy then runs in a worker thread with a `dnsfunc` (`PrefetchedKeys`)
that only reads what was fetched here: no network inside the thread.
"""
from __future__ import annotations

import asyncio
import enum
import functools
import re
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TypeVar

from dkim.util import InvalidTagValueList, parse_tag_value

from mailguard.dnsresolver import DnsTempError, Resolver
from mailguard.dnsresolver.answer import normalize_name
from mailguard.scan.headers import split_header_block

# Caps on the work a hostile message can ask for. Each signature costs a DNS lookup and a pass
# of canonicalization and hashing over the whole body. Worse, a few of dkimpy's steps are
# quadratic, and those running inside one regex call hold the GIL: the whole process stalls, the
# event loop included, and no deadline can interrupt them. What would feed them is refused.
MAX_DKIM_SIGNATURES = 10  # DKIM-Signature fields verified, top first; the rest are not looked at
MAX_ARC_SETS = 50  # RFC 8617 §4.2.1: i= goes to 50 at most; a longer chain fails unverified
# dkimpy's header parser is quadratic in the continuation lines of a field (3 MB of them: 20 s);
# a larger header block is not given to it, and its signatures are permerror.
MAX_HEADER_BYTES = 256 * 1024
# One DKIM-Signature / ARC field (real ones are about 1 KB, folded every line with 2-3 blanks).
# dkimpy's b= regex backtracks quadratically on runs of white space (60 KB of folding: 10 s).
MAX_SIGNATURE_BYTES = 16 * 1024
MAX_WHITESPACE_RUN = 64
# Relaxed body canonicalization is quadratic in each run of blanks that does not end a line (one
# run of 80 KB: 5 s). Its cost is estimated as the sum of the squared lengths of the body's runs
# of at least BLANK_RUN characters; above this (a 7,000-character run, some 40 ms) a signature
# with relaxed body canonicalization is not verified.
MAX_RELAXED_BODY_COST = 50_000_000
BLANK_RUN = 64

_BYTES_REPR = re.compile(r"b'([^']*)'")
# A field: its name, and its value with every continuation line (each branch consumes a line
# end, so the match is linear).
_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.MULTILINE)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_LONG_WHITESPACE = re.compile(rb"\s{%d,}" % (MAX_WHITESPACE_RUN + 1))
_TAB_TO_SPACE = bytes.maketrans(b"\t", b" ")
_SPACES = re.compile(b" +")

V = TypeVar("V")
HeaderList = Sequence[tuple[bytes, bytes]]  # (name, value) as dkimpy's rfc822_parse gives them


class KeyStatus(str, enum.Enum):
    FOUND = "found"
    MISSING = "missing"  # NXDOMAIN or no TXT record: the signature's permerror
    TEMPERROR = "temperror"  # DNS failed for now, or time ran out: the signature's temperror


@dataclass(frozen=True)
class KeyRecord:
    name: str  # s._domainkey.d, lower case, no trailing dot
    status: KeyStatus
    text: bytes = b""  # the key record (character-strings joined) when FOUND
    detail: str = ""  # why, when not FOUND


@dataclass(frozen=True)
class SignedHeader:
    """One DKIM-Signature, ARC-Seal or ARC-Message-Signature field and its tags."""

    index: int  # position among the fields of its name, top first (dkimpy's `idx`)
    tags: dict[bytes, bytes]  # empty when the tag list does not parse
    error: str = ""  # why the tag list is unusable; "" when it parsed

    def tag(self, name: bytes) -> str:
        """A tag's value fit for a header or a log line: folding collapsed, controls as "?"."""
        return printable(self.tags.get(name, b"").decode("utf-8", "replace"))

    @property
    def key_name(self) -> str | None:
        """Where the key is published (RFC 6376 §3.6.2.1), or None without a usable s= and d=."""
        selector, domain = self.tags.get(b"s", b"").strip(), self.tags.get(b"d", b"").strip()
        if not selector or not domain:
            return None
        try:
            return normalize_name((selector + b"._domainkey." + domain).decode("utf-8"))
        except UnicodeDecodeError:
            return None


def printable(text: str, limit: int = 200) -> str:
    """Text from a message (or a library quoting it) fit for a header or a log line: whitespace
    runs collapsed, control characters as "?", at most `limit` characters."""
    return _CONTROLS.sub("?", " ".join(text.split()))[:limit]


def dkimpy_text(message: object) -> str:
    """dkimpy's message (an exception, a comment) without Python's bytes quoting
    ("missing b'b'=" → "missing b=")."""
    return _BYTES_REPR.sub(r"\1", str(message))


def signed_headers(headers: HeaderList, name: bytes, limit: int) -> list[SignedHeader]:
    """The first `limit` fields called `name` (lower case), with their parsed tag lists."""
    values = [value for field_, value in headers if field_.lower() == name][:limit]
    found = []
    for index, value in enumerate(values):
        try:
            tags = parse_tag_value(value)
        except InvalidTagValueList as exc:
            found.append(SignedHeader(index, {}, f"unparsable tag list: {type(exc).__name__} {dkimpy_text(exc)}"))
            continue
        error = ""
        if len(value) > MAX_SIGNATURE_BYTES:
            error = f"field over {MAX_SIGNATURE_BYTES} bytes"
        elif _LONG_WHITESPACE.search(value):
            error = f"white space run over {MAX_WHITESPACE_RUN} characters"
        found.append(SignedHeader(index, tags, error))
    return found


def relaxed_body_cost(body: bytes) -> int:
    """The estimated cost of dkimpy's relaxed canonicalization of `body` (see
    MAX_RELAXED_BODY_COST); linear time."""
    text = body.translate(_TAB_TO_SPACE)
    needle = b" " * BLANK_RUN
    cost, start = 0, text.find(needle)
    while start >= 0:
        end = _SPACES.match(text, start).end()
        cost += (end - start) ** 2
        start = text.find(needle, end)
    return cost


def dkimpy_message(raw: bytes, make: Callable[[bytes], V]) -> tuple[V | None, str]:
    """`make(raw)` (dkim.DKIM, dkim.ARC: they parse the message), or None and why it cannot be."""
    if len(header_block(raw)) > MAX_HEADER_BYTES:
        return None, f"header block over {MAX_HEADER_BYTES} bytes"
    try:
        return make(raw), ""
    except Exception as exc:  # MessageFormatError, or IndexError for a leading continuation line
        return None, f"message headers unparsable: {type(exc).__name__}"


def header_block(raw: bytes) -> bytes:
    """The header fields of a message: up to the first empty line, as dkimpy reads it."""
    return split_header_block(raw)[0]


def lenient_headers(raw: bytes) -> list[tuple[bytes, bytes]]:
    """The header fields of a message dkimpy does not parse (see dkimpy_message), found the
    forgiving way (lines that are no field are skipped) and in linear time, so that its
    signatures can at least be reported."""
    return [(m.group(1), m.group(2)) for m in _FIELD.finditer(header_block(raw))]


async def in_thread(executor: Executor, deadline: float, fn: Callable[..., V], *args) -> V:
    """fn(*args) in the executor; TimeoutError at `deadline` (time.monotonic()), when the
    thread, if it started, goes on with no one waiting for it."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
        return await loop.run_in_executor(executor, functools.partial(fn, *args))


async def prefetch_keys(resolver: Resolver, names: Iterable[str | None], deadline: float) -> dict[str, KeyRecord]:
    """Each distinct key name looked up at once; every lookup gives up at `deadline`
    (time.monotonic())."""
    unique = list(dict.fromkeys(n for n in names if n))
    records = await asyncio.gather(*(_fetch(resolver, name, deadline) for name in unique))
    return dict(zip(unique, records))


async def _fetch(resolver: Resolver, name: str, deadline: float) -> KeyRecord:
    try:
        async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
            answer = await resolver.lookup(name, "TXT")
    except DnsTempError as exc:
        return KeyRecord(name, KeyStatus.TEMPERROR, detail=f"DNS error: {exc}")
    except TimeoutError:
        return KeyRecord(name, KeyStatus.TEMPERROR, detail=f"{name}: time ran out")
    except Exception as exc:  # not ours to judge: the key is unknown for now
        return KeyRecord(name, KeyStatus.TEMPERROR, detail=f"{name}: {type(exc).__name__}: {exc}")
    texts = answer.texts()
    if not texts:
        return KeyRecord(name, KeyStatus.MISSING, detail=f"no key for {name}")
    # Several TXT records at a key name leave the result undefined (RFC 6376 §3.6.2.2);
    # take the first that looks like a key, so that a stray text record does not hide it.
    return KeyRecord(name, KeyStatus.FOUND, next((t for t in texts if _looks_like_key(t)), texts[0]))


def _looks_like_key(text: bytes) -> bool:
    try:
        return b"p" in parse_tag_value(text)
    except InvalidTagValueList:
        return False


@dataclass
class PrefetchedKeys:
    """dkimpy's `dnsfunc` over the keys fetched beforehand; remembers which names it was asked,
    so that a failed ARC chain can be told from one that needed a key DNS could not give."""

    records: dict[str, KeyRecord]
    asked: list[str] = field(default_factory=list)

    def __call__(self, name: bytes, timeout: float = 0) -> bytes | None:
        key = normalize_name(name.decode("utf-8", "replace"))
        self.asked.append(key)
        record = self.records.get(key)
        return record.text if record is not None and record.status is KeyStatus.FOUND else None

    def temporary_failures(self) -> list[KeyRecord]:
        """The records asked for that DNS could not give now."""
        return [r for name in dict.fromkeys(self.asked)
                if (r := self.records.get(name)) is not None and r.status is KeyStatus.TEMPERROR]
