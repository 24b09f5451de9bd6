"""The pipeline: thresholds → actions, forced actions, checks that fail or hang, our headers."""
from __future__ import annotations

import asyncio
import time

import pytest

from mailguard.config import ActionSettings
from mailguard.scan import headers
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.pipeline import Check, Pipeline, ScanContext
from mailguard.scan.verdict import Action, Symbol, decide
from scantools import scan_verdict

T = ActionSettings(add_header=5, rewrite_subject=8, quarantine=12, reject=15)
FACTS = MessageFacts(ClientFacts(ip="192.0.2.7", helo="h.example"), "a@b.example", ("u@test.example",), "Q1")


@pytest.mark.parametrize("score, action", [
    (0, Action.ACCEPT), (4.99, Action.ACCEPT), (5, Action.ADD_HEADER), (8, Action.REWRITE_SUBJECT),
    (12, Action.QUARANTINE), (15, Action.REJECT), (-100, Action.ACCEPT),
])
def test_thresholds_map_score_to_action(score, action):
    v = decide([Symbol("X", score)], T)
    assert v.action is action and v.score == score and v.required == 5


def test_strongest_forced_action_wins_and_tempfail_only_forced():
    v = decide([Symbol("A", 1, force=Action.TEMPFAIL), Symbol("B", 0, force=Action.REJECT)], T)
    assert v.action is Action.REJECT and v.forced is Action.REJECT
    v = decide([Symbol("A", 100)], T)
    assert v.action is Action.REJECT  # score never reaches tempfail
    v = decide([Symbol("A", 0, force=Action.TEMPFAIL)], T)
    assert v.action is Action.TEMPFAIL
    # an allow-list entry is a large negative score, not a forced action: GTUBE still rejects
    v = decide([Symbol("GTUBE", 1000, force=Action.REJECT), Symbol("ALLOW", -2000)], T)
    assert v.action is Action.REJECT


def test_symbol_names_unique():
    v = decide([Symbol("DKIM_VALID", 0, "d=a.example"), Symbol("DKIM_VALID", 0, "d=b.example")], T)
    assert [s.name for s in v.symbols] == ["DKIM_VALID"]
    assert v.symbols[0].detail == "d=a.example; d=b.example"


def test_check_that_raises_or_hangs_yields_symbols_within_deadline():
    async def boom(ctx):
        raise RuntimeError("bug")

    async def forever(ctx):
        await asyncio.Event().wait()

    async def slow(ctx):  # within its own budget, but past the overall deadline
        await asyncio.sleep(30)

    async def fine(ctx):
        return [Symbol("FINE", 1.0)]

    pipeline = Pipeline((Check("BOOM", boom, 1.0), Check("FOREVER", forever, 0.3),
                         Check("SLOW", slow, 60), Check("FINE", fine, 1.0)), T, deadline=0.6)
    started = time.monotonic()
    verdict = scan_verdict(pipeline, FACTS, b"Subject: x\r\n\r\nbody\r\n")
    elapsed = time.monotonic() - started
    names = {s.name for s in verdict.symbols}
    assert {"CHECK_ERROR_BOOM", "CHECK_TIMEOUT_FOREVER", "CHECK_TIMEOUT_SLOW", "FINE"} <= names
    assert verdict.score == 1.0
    assert elapsed < 5  # generous bound on a 0.6 s deadline


def test_score_overrides_apply_to_any_symbol():
    async def fine(ctx):
        return [Symbol("SPF_FAIL", 1.0)]

    class Overrides:  # what mailguard.rules gives the pipeline: [scores], and no meta rules here
        scores = {"SPF_FAIL": 6.0}

        def finish(self, symbols):
            return list(symbols)

    pipeline = Pipeline((Check("X", fine, 1.0),), T, deadline=1, rules=Overrides())
    assert scan_verdict(pipeline, FACTS, b"\r\n").action is Action.ADD_HEADER


def test_headers_in_spamassassin_format_and_forged_ones_stripped():
    v = decide([Symbol("B_RULE", 4.0), Symbol("A_RULE", 3.3)], T)
    raw = (b"X-Spam-Status: No, forged\r\nX-Spam-Flag: NO\r\nX-Mailguard-Symbols: fake\r\n"
           b"Authentication-Results: mailguard.test; spf=pass\r\n"
           b"Authentication-Results: other.example; spf=fail\r\n"
           b"Subject: hi\r\n\r\nbody\r\n")
    out = headers.forwarded_message(raw, v, authserv_id="mailguard.test", subject_tag="[SPAM]", extra_headers=[])
    text = out.decode()
    assert "X-Spam-Status: Yes, score=7.3 required=5.0 tests=A_RULE,B_RULE\r\n" in text
    assert "X-Spam-Flag: YES\r\n" in text
    assert "forged" not in text and "fake" not in text
    assert "mailguard.test; spf=pass" not in text
    assert "other.example; spf=fail" in text
    assert text.endswith("Subject: hi\r\n\r\nbody\r\n")


def test_rewrite_subject_prefixes_tag():
    v = decide([Symbol("X", 9)], T)
    out = headers.forwarded_message(b"Subject: offer\r\n\r\nb\r\n", v, authserv_id="m", subject_tag="***SPAM***",
                                    extra_headers=[])
    assert b"Subject: ***SPAM*** offer\r\n" in out


def test_early_phase_checks_reject_at_rcpt_and_count_in_the_final_verdict():
    async def blocklisted_client(ctx):
        assert ctx.raw == b""  # early phases run before the message exists
        return [Symbol("LOCAL_BL_IP", 0.0, ctx.facts.client.ip, force=Action.REJECT)]

    async def per_rcpt(ctx):
        return [Symbol("RCPT_SEEN", 1.0, ",".join(ctx.facts.rcpts))]

    async def body(ctx):
        return [Symbol("BODY", 2.0)]

    pipeline = Pipeline((Check("BL", blocklisted_client, 1.0, phase="connect"),
                         Check("R", per_rcpt, 1.0, phase="rcpt"), Check("B", body, 1.0)), T, deadline=1)

    async def run():
        early = await pipeline.run_phase("connect", FACTS)
        assert [s.name for s in early] == ["LOCAL_BL_IP"]
        assert pipeline.early_reject(early).action is Action.REJECT
        rcpt = await pipeline.run_phase("rcpt", FACTS)
        assert pipeline.early_reject(rcpt) is None  # a score alone never refuses a recipient
        verdict = await pipeline.evaluate(ScanContext(FACTS, b"\r\nx"), rcpt)
        return verdict

    verdict = asyncio.run(run())
    assert {s.name for s in verdict.symbols} == {"RCPT_SEEN", "BODY"}  # data phase ran only data checks
    assert verdict.score == 3.0


@pytest.mark.parametrize("raw, block", [
    (b"A: 1\r\nB: 2\r\n\r\nbody\r\n", b"A: 1\r\nB: 2\r\n"),
    (b"A: 1\nB: 2\n\nbody\n", b"A: 1\nB: 2\n"),
    (b"A: 1\n\r\nbody\r\n\r\nmore", b"A: 1\n"),  # LF then a CR LF empty line
    (b"A: 1\r\n\nbody", b"A: 1\r\n"),
    (b"A: 1\nB: 2\n\nbody\r\n\r\nX-Spam-Flag: YES\r\n", b"A: 1\nB: 2\n"),  # the first empty line, whatever its ends
    (b"\r\nbody\r\n\r\n", b""),
    (b"A: 1\r\nno empty line\r\n", b"A: 1\r\nno empty line\r\n"),
])
def test_one_header_block_end_for_every_reader(raw, block):
    from mailguard.auth.dkim_keys import header_block

    assert headers.split_header_block(raw) == (block, raw[len(block):])
    assert headers.header_block_end(raw) == len(block) and header_block(raw) == block
    assert headers.header_block_end(b"A: 1\r\n\r\nbody", 4) == 4  # none within the limit: the limit
