"""Issue 13, items 8–11: hostile content never stalls the proxy nor switches a check off. Real
corpus mail with one hostile piece added scores (nearly) as it does without it, the piece
itself shows as a MIME_* problem, and no check raises."""
from __future__ import annotations

import dataclasses
import logging
import re

import pytest

from mailguard.config import Config
from mailguard.lists.spec import ListFile, ListsSettings
from mailguard.scan.verdict import Action
from offline import FACTS, broken_symbols, offline_config, offline_pipeline
from realservers import CORPORA
from scantools import scan_verdict

pytestmark = pytest.mark.reliability

SPAM = CORPORA / "spamassassin" / "spam_2" / "00379.b2ab58d60315cdc423cd8640466092ed"


def with_part(raw: bytes, part: bytes) -> bytes:
    """`raw` (a multipart message) with `part` (headers, blank line, body) added as its last part."""
    boundary = re.search(rb'boundary="?([^";\r\n]+)', raw).group(1)
    return raw.rstrip(b"\r\n") + b"\n--" + boundary + b"\n" + part + b"\n--" + boundary + b"--\n"


@pytest.fixture
def pipeline(tmp_path):
    return offline_pipeline(offline_config(tmp_path))


def scan(pipeline, raw: bytes):
    return scan_verdict(pipeline, FACTS, raw)


@pytest.mark.parametrize("charset", [b"idna", b"undefined", b"punycode", b"rot13", b"base64_codec",
                                     b'"utf\x00-8"', b"*=utf-8''idna"])
def test_a_part_in_a_bad_charset_does_not_blind_the_scan(pipeline, charset):
    raw = SPAM.read_bytes()
    before = scan(pipeline, raw)
    assert before.is_spam
    param = b"charset" + charset if charset.startswith(b"*") else b"charset=" + charset
    after = scan(pipeline, with_part(raw, b"Content-Type: text/plain; " + param + b"\n\nhello w\xe9rld\n"))
    names = {s.name for s in after.symbols}
    assert after.is_spam and abs(after.score - before.score) <= 1.5, (before.score, after.score, names)
    assert "BASE64_TEXT_PART" in names  # the base64 part was still decoded and read
    assert "MIME_PARSE_ERROR" not in names and "MIME_BAD_CHARSET" in names
    assert not broken_symbols(names)


BOMBS = {
    "a second From of parentheses": b"From: spammer@sender.test\nFrom: " + b"(" * 3000 + b"x@y.test\n",
    "parentheses around the address": b"From: " + b"(" * 3000 + b" <spammer@sender.test>\n",
    "colons before the address": b"From: " + b": " * 3000 + b"spammer@sender.test\n",
    "a To of parentheses": b"From: spammer@sender.test\nTo: " + b"(" * 3000 + b"\n",
}


@pytest.mark.parametrize("headers", BOMBS.values(), ids=BOMBS.keys())
def test_an_unparseable_address_header_never_lowers_the_score(tmp_path, capfd, caplog, headers):
    listed = tmp_path / "block.list"
    listed.write_text("spammer@sender.test\n")
    config = dataclasses.replace(Config(), lists=ListsSettings(file=(ListFile("site", str(listed), score=12.0),)))
    pipeline = offline_pipeline(offline_config(tmp_path, config))
    raw = headers + b"Subject: hello\nMessage-ID: <1@sender.test>\n\nan ordinary line of text\n"
    with caplog.at_level(logging.WARNING):
        verdict = scan(pipeline, raw)
    names = {s.name for s in verdict.symbols}
    assert "LIST_SITE" in names and "MIME_BAD_ADDRESS_HEADER" in names, names
    assert not broken_symbols(names)
    assert verdict.action in (Action.QUARANTINE, Action.REJECT) and verdict.score >= 12.0
    assert capfd.readouterr().err == "" and not caplog.records
