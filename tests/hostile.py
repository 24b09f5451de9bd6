"""A generated set of hostile messages (issue 13): each built deterministically to hit one weak
spot of a parser or a check (combining-mark runs, huge and countless headers, deep MIME,
bombs in From, bad charsets, giant tokens, many links, capitals, garbage base64...), and the
CPU each offline check spends on one. Used by tests/test_hostile_cost.py and
benchmarks/hostile_cost."""
from __future__ import annotations

import asyncio
import base64
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mailguard.scan.message import ParsedMessage
from mailguard.scan.pipeline import Check, ScanContext

MB = 1024 * 1024
_HEAD = b"From: sender@hostile.example\nTo: user@test.example\nMessage-ID: <1@hostile.example>\n"



def damaged(raw: bytes, rng: random.Random, inserts: list[bytes]) -> bytes:
    """`raw` with 1 to 30 random edits: a byte replaced, one of `inserts` put in, a run of up
    to 200 bytes cut, a run of up to 2000 repeated up to 50 times (or nothing)."""
    b = bytearray(raw)
    for _ in range(rng.randint(1, 30)):
        i = rng.randrange(max(len(b), 1))
        op = rng.random()
        if op < 0.3:
            b[i:i + 1] = bytes([rng.randrange(256)])
        elif op < 0.55:
            b[i:i] = rng.choice(inserts)
        elif op < 0.7:
            del b[i:i + rng.randint(1, 200)]
        elif op < 0.8:
            b[i:i] = b[i:i + rng.randint(1, 2000)] * rng.randint(1, 50)
    return bytes(b)

def _text(body: str | bytes, headers: bytes = b"Subject: hostile\n", ctype: bytes = b"text/plain; charset=utf-8",
          cte: bytes = b"8bit") -> bytes:
    body = body.encode("utf-8") if isinstance(body, str) else body
    return (_HEAD + headers + b"MIME-Version: 1.0\nContent-Type: " + ctype +
            b"\nContent-Transfer-Encoding: " + cte + b"\n\n" + body + b"\n")


def _multipart(parts: list[bytes], boundary: bytes = b"B") -> bytes:
    body = b"".join(b"--" + boundary + b"\n" + p + b"\n" for p in parts) + b"--" + boundary + b"--\n"
    return (_HEAD + b"Subject: parts\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=" + boundary +
            b"\n\n" + body)


def _marks(pairs: int) -> str:
    return "a" + "\u0301\u0323" * pairs  # alternating combining classes: normalize()'s worst case


def _nested(depth: int) -> bytes:
    inner = b"Content-Type: text/plain\n\ndeep inside\n"
    for level in range(depth):
        b = b"b%d" % level
        inner = (b"Content-Type: multipart/mixed; boundary=" + b + b"\n\n--" + b + b"\n" + inner +
                 b"\n--" + b + b"--\n")
    return _HEAD + b"Subject: deep\nMIME-Version: 1.0\n" + inner


def _garbage_base64(rng: random.Random, size: int) -> bytes:
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=!*~ \t"
    raw = bytes(rng.choice(alphabet) for _ in range(size))
    return b"\n".join(raw[i:i + 76] for i in range(0, len(raw), 76))


def hostile_messages() -> Iterator[tuple[str, bytes]]:
    """(name, raw message) of every hostile message, in a fixed order; the same bytes every run."""
    rng = random.Random(13)
    yield "marks: 1 MB run in the body", _text(_marks(250_000))
    yield "marks: 480 Subjects of 7,000 pairs", _text("body", b"".join(
        b"Subject: " + _marks(7_000).encode() + b"\n" for _ in range(480)))
    yield "marks: HTML text and anchors", _text(
        "<html><body>" + ("<a href='http://x.example/'>" + _marks(2_000) + "</a><p>" + _marks(2_000)) * 60,
        ctype=b"text/html; charset=utf-8")
    yield "marks: Vietnamese NFD, 1 MB", _text(("Khuye\u0302\u0301n ma\u0323i gia\u0309m gia\u0301 " * 40_000))
    yield "marks: encoded-word Subject", _text("body", b"Subject: " + b" ".join(
        b"=?utf-8?b?" + base64.b64encode(_marks(300).encode()) + b"?=" for _ in range(40)) + b"\n")
    yield "headers: one of 1 MB", _text("body", b"X-Huge: " + b"x" * MB + b"\n")
    yield "headers: one folded 1 MB", _text("body", b"X-Folded: " + b"word word word\n " * 70_000 + b"\n")
    yield "headers: 20,000 headers", _text("body", b"".join(b"X-H%d: value %d\n" % (i, i) for i in range(20_000)))
    yield "headers: 500 Received", _text("body", b"".join(
        b"Received: from h%d.example (h%d.example [192.0.2.%d]) by mx.example; Mon, 1 Jan 2024\n" % (i, i, i % 250)
        for i in range(500)))
    yield "From: 3,000 nested parens", _text("body", b"From: " + b"(" * 3000 + b"x@y.example\n")
    yield "From: 3,000 colons", _text("body", b"From: " + b": " * 3000 + b"x@y.example\n")
    yield "From: 100 fields of 16 KB '@'", _text("body", b"".join(b"From: " + b"a@" * 8000 + b"\n" for _ in range(100)))
    yield "To: 5,000 addresses", _text("body", b"To: " + b", ".join(b"u%d@d%d.example" % (i, i) for i in range(5_000)) + b"\n")
    yield "MIME: 200 levels deep", _nested(200)
    yield "MIME: 3,000 parts", _multipart([b"Content-Type: text/plain\n\npart %d" % i for i in range(3_000)])
    yield "MIME: boundaries missing", _multipart([b"Content-Type: multipart/mixed\n\n--\n--C\n" * 200], b"C")
    yield "MIME: bad charsets", _multipart([b"Content-Type: text/plain; charset=" + cs + b"\n\nw\xe9rld " * 50
                                            for cs in (b"idna", b"undefined", b"punycode", b"rot13", b'"a\x00b"',
                                                       b"utf-7", b"x-bogus", b"uu", b"hex", b"zlib_codec")] +
                                           [b"Content-Type: text/plain; charset*=utf-8''idna\n\nx"])
    yield "MIME: 5,000 bad encoded words", _text("body", b"Subject: " + b" ".join(
        b"=?x-bad%d?q?=A1=B2?=" % i for i in range(5_000)) + b"\n")
    yield "MIME: 300 params", _text("body", ctype=b"text/plain; " + b"; ".join(b"p%d=v" % i for i in range(300)) +
                                    b"; charset=utf-8")
    yield "body: one 2 MB token", _text("x" * (2 * MB))
    yield "body: 1 MB of 'a@b' tokens", _text("a@b.c/d " * (MB // 8))
    yield "body: 20,000 URLs", _text(" ".join(f"http://h{i}.example{i % 50}.com/p?q={i}" for i in range(20_000)))
    yield "body: HTML 20,000 links", _text("".join(f"<a href='http://h{i}.ex{i % 40}.com/'>h{i}.other.com</a>"
                                                   for i in range(20_000)), ctype=b"text/html; charset=utf-8")
    yield "headers: 480 capital Subjects", _text("body", b"".join(
        b"Subject: " + b"FREE MONEY " * 2_900 + b"\n" for _ in range(480)))
    yield "body: 1 MB of capitals", _text(("FREE MONEY NOW CLICK HERE TO WIN BIG PRIZES TODAY\n" * 21_000))
    yield "body: 1 MB of accented capitals", _text(("ÀÉÎÕÜ ĐẶC BIỆT KHUYẾN MẠI GIẢM GIÁ HÔM NAY\n" * 20_000))
    yield "body: 1 MB one caps line", _text("A" * (MB - 99))  # a match: RE2's slow path on big programs
    yield "body: 1 MB one accented caps line", _text("É" * (MB // 2 - 99))
    yield "body: 1 MB garbage base64", _text(_garbage_base64(rng, MB), cte=b"base64")
    yield "body: 1 MB of '=' quoted-printable", _text(b"=" * MB, cte=b"quoted-printable")
    yield "body: 1 MB unclosed tags", _text("<a " * (MB // 3), ctype=b"text/html; charset=utf-8")
    yield "body: 1 MB unclosed comment", _text("<p>x<!--" + "-" * MB, ctype=b"text/html; charset=utf-8")
    yield "body: 1 MB of '<'", _text("<" * MB, ctype=b"text/html; charset=utf-8")
    yield "body: 4 MB random bytes", _text(rng.randbytes(4 * MB), ctype=b"text/plain; charset=iso-2022-jp")
    yield "body: 1 MB hxxp obfuscation", _text("hxxp[:]//" * (MB // 9))


@dataclass(frozen=True)
class Cost:
    """CPU milliseconds of one message: the parse, and each check over the parsed message."""

    parse: float
    checks: dict[str, float]

    @property
    def total(self) -> float:
        return self.parse + sum(self.checks.values())


def _cpu_ms(fn: Callable[[], object]) -> float:
    started = time.process_time()
    fn()
    return (time.process_time() - started) * 1000


def cost(checks: tuple[Check, ...], facts, raw: bytes) -> Cost:
    """What each of `checks` (data phase, offline: none waits on another) costs on `raw`."""
    ctx = ScanContext(facts, raw)
    parse = _cpu_ms(lambda: ctx.__dict__.setdefault("message", ParsedMessage.from_bytes(raw)))
    spent = {check.name: _cpu_ms(lambda: asyncio.run(check.run(ctx)))
             for check in checks if check.phase == "data"}
    return Cost(parse, spent)
