"""Hostile input against every offline check at once: real corpus messages, randomly damaged
(bytes replaced, NULs, stray MIME and encoded-word openers, truncation, blown-up repeats), go
through the MIME parse, the shipped rules, the lists and a trained Bayes model. No check may
raise (CHECK_ERROR_*) or overrun its budget (CHECK_TIMEOUT_*), and every message gets a verdict.
Seeded, so a failure names a message that can be replayed."""
from __future__ import annotations

import asyncio
import random

from hostile import damaged
from offline import FACTS, broken_symbols, offline_config, offline_pipeline
from realservers import CORPORA
from scantools import scan_async

INSERTS = [b"\x00", b"\r", b"\n\n", b"=?utf-8?b?", b"=?gb2312?q?=A1", b'<a href="', b"<!--", b"--",
           b"\xe1\xba", b"\xff\xfe", b"Content-Type: multipart/mixed; boundary=x\r\n", b"http://",
           b"hxxp://\xe2\x80\x8b", b"\\" * 50, b"=" * 100, b"\t" * 300]


def test_damaged_corpus_mail_never_breaks_a_check(tmp_path):
    config = offline_config(tmp_path)
    sources = sorted((CORPORA / "spamassassin" / "spam_2").iterdir())[:60] + \
        sorted((CORPORA / "spamassassin" / "hard_ham").iterdir())[:40]
    rng = random.Random(20261130)

    async def scan_all() -> list[tuple[int, list[str]]]:
        pipeline = offline_pipeline(config)
        broken, bayes_seen = [], 0
        for n in range(400):
            verdict = await scan_async(pipeline, FACTS, damaged(rng.choice(sources).read_bytes(), rng, INSERTS))
            names = [s.name for s in verdict.symbols]
            bayes_seen += any(name.startswith("BAYES_") for name in names)
            if bad := broken_symbols(names):
                broken.append((n, bad))
        assert bayes_seen > 0  # the model was really scoring
        return broken

    assert asyncio.run(scan_all()) == []
