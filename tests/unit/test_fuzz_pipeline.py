"""Issue 13: a seeded fuzzer of MIME structure and headers over the offline pipeline (shipped
rules, a trained Bayes model). Random multipart trees (nesting, boundaries missing or wrong),
random headers (names, encoded words, bad charsets, folding, control characters, long values)
and random bodies (bytes, base64, quoted-printable, HTML). No exception may escape, no check may
raise (CHECK_ERROR_*) or overrun its budget (CHECK_TIMEOUT_*). Derandomized: the same cases
every run, so a failure replays."""
from __future__ import annotations

import base64
import quopri

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offline import FACTS, broken_symbols, offline_config, offline_pipeline
from scantools import scan_verdict

pytestmark = pytest.mark.reliability

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=1500,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

CHARSETS = ["utf-8", "iso-8859-1", "windows-1258", "gb2312", "shift_jis", "utf-16", "utf-7", "idna", "punycode",
            "undefined", "rot13", "base64_codec", "x-bogus", "", "utf\x00-8", "a" * 100]
NAMES = ["From", "To", "Cc", "Subject", "Reply-To", "Content-Type", "Content-Transfer-Encoding",
         "Content-Disposition", "Message-ID", "Received", "X-Mailer", "Date", "X-Junk"]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)


@st.composite
def encoded_word(draw) -> str:
    charset = draw(st.sampled_from(CHARSETS))
    data = draw(TEXT).encode("utf-8")
    if draw(st.booleans()):
        return f"=?{charset}?b?{base64.b64encode(data).decode()}?="
    return f"=?{charset}?q?{quopri.encodestring(data, header=True).decode('ascii', 'replace')}?="


@st.composite
def header_value(draw) -> bytes:
    pieces = draw(st.lists(st.one_of(
        TEXT.map(lambda t: t.encode("utf-8")), encoded_word().map(str.encode),
        st.binary(max_size=60), st.sampled_from([b"\r\n ", b"\n\t", b"(", b")" , b":", b";", b"<", b">", b"@",
                                                 b'"', b"\\", b"\x00", b"\x1b"]),
        st.integers(1, 3000).map(lambda n: b"(" * n),
        st.integers(1, 20000).map(lambda n: b"x" * n)), max_size=8))
    return b"".join(pieces)


@st.composite
def headers(draw, content_type: bytes | None = None) -> bytes:
    fields = draw(st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), st.from_regex(r"[!-9;-~]{1,30}", fullmatch=True)),
                                     header_value()), max_size=10))
    out = b"".join(name.encode() + b": " + value + b"\n" for name, value in fields)
    if content_type is not None:
        out += b"Content-Type: " + content_type + b"\n"
    return out


@st.composite
def body(draw) -> bytes:
    kind = draw(st.sampled_from(["bytes", "base64", "qp", "html", "text"]))
    data = draw(st.binary(max_size=400)) if kind == "bytes" else draw(TEXT).encode("utf-8")
    if kind == "base64":
        data = base64.encodebytes(data) + draw(st.sampled_from([b"", b"==", b"!*garbage", b"=A=="]))
    elif kind == "qp":
        data = quopri.encodestring(data) + draw(st.sampled_from([b"", b"=", b"=ZZ", b"=\n"]))
    elif kind == "html":
        data = b"<html><body><a href='http://x.example/" + data + b"'>" + data + b"</a><!--" * draw(st.integers(0, 2))
    return data


@st.composite
def part(draw, depth: int = 0) -> bytes:
    if depth < 6 and draw(st.integers(0, 3)) == 0:
        boundary = draw(st.sampled_from([b"b%d" % depth, b"", b'"q w"', b"--", b"b0"]))
        children = draw(st.lists(part(depth + 1), min_size=0, max_size=4))
        sep = draw(st.sampled_from([b"--" + boundary.strip(b'"'), b"--other"]))
        close = draw(st.sampled_from([sep + b"--\n", b""]))
        inner = b"".join(sep + b"\n" + c + b"\n" for c in children) + close
        return draw(headers(b"multipart/mixed; boundary=" + boundary)) + b"\n" + inner
    charset = draw(st.sampled_from(CHARSETS)).encode("latin-1")
    ctype = draw(st.sampled_from([b"text/plain", b"text/html", b"application/octet-stream", b"message/rfc822",
                                  b"message/delivery-status", b"text/plain; charset*=utf-8''idna"]))
    cte = draw(st.sampled_from([b"", b"base64", b"quoted-printable", b"8bit", b"x-uuencode", b"bogus"]))
    head = draw(headers(ctype + (b"; charset=" + charset if b"charset" not in ctype else b"")))
    if cte:
        head += b"Content-Transfer-Encoding: " + cte + b"\n"
    return head + b"\n" + draw(body())


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return offline_pipeline(offline_config(tmp_path_factory.mktemp("fuzz")))


def assert_scanned_cleanly(pipeline, raw: bytes) -> None:
    verdict = scan_verdict(pipeline, FACTS, raw)
    assert not broken_symbols(s.name for s in verdict.symbols), [s.name for s in verdict.symbols]


@FUZZ
@given(raw=part())
def test_random_mime_trees_never_break_a_check(pipeline, raw):
    assert_scanned_cleanly(pipeline, raw)


@FUZZ
@given(head=headers(), text=body(), newline=st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_random_headers_never_break_a_check(pipeline, head, text, newline):
    assert_scanned_cleanly(pipeline, (head + b"\n" + text).replace(b"\n", newline))
