"""The reliability suite, faults: Postfix stopped in the middle of a burst, mailguard killed in
the middle of one. Checked message by message: every 250 is in the Maildir exactly once; a 4xx
or a lost connection is the client's to retry (and is then delivered at most by that retry)."""
from __future__ import annotations

import signal
import smtplib
import threading
import uuid

import pytest

from realservers import TEST_DOMAIN, Postfix, free_port, wait_for

pytestmark = pytest.mark.reliability


def message(tag: str) -> bytes:
    return (f"From: a@outside.example\r\nTo: user@{TEST_DOMAIN}\r\nSubject: fault {tag}\r\n"
            f"Message-ID: <{tag}@outside.example>\r\n\r\nbody {tag}\r\n").encode()


def burst(port: int, tags: list[str], outcome: dict[str, object], threads: int = 10) -> list[threading.Thread]:
    """`threads` clients sending their share of `tags`, one connection per message."""
    def one(share: list[str]) -> None:
        for tag in share:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
                    s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"], message(tag))
                outcome[tag] = 250
            except smtplib.SMTPResponseException as exc:
                outcome[tag] = exc.smtp_code
            except (OSError, smtplib.SMTPException) as exc:
                outcome[tag] = type(exc).__name__

    workers = [threading.Thread(target=one, args=(tags[i::threads],)) for i in range(threads)]
    for w in workers:
        w.start()
    return workers


def delivered_counts(postfix: Postfix, run: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in postfix.delivered("user"):
        data = path.read_bytes()
        if f"fault {run}".encode() in data:
            tag = data.split(b"Subject: fault ", 1)[1].split(b"\n", 1)[0].strip().decode()
            counts[tag] = counts.get(tag, 0) + 1
    return counts


def check(postfix: Postfix, run: str, outcome: dict[str, object]) -> dict[str, int]:
    accepted = {t for t, code in outcome.items() if code == 250}
    wait_for(lambda: accepted <= set(delivered_counts(postfix, run)), 120, what="every 250 delivered")
    counts = delivered_counts(postfix, run)
    assert all(counts[t] == 1 for t in accepted), "a message answered 250 was delivered twice"
    refused = {t for t, code in outcome.items() if isinstance(code, int) and code >= 500}
    assert not refused & set(counts), "a message answered 5xx was delivered"
    assert all(code == 250 or (isinstance(code, int) and 400 <= code < 500) or isinstance(code, str)
               for code in outcome.values())
    return counts


@pytest.fixture
def own_postfix(tmp_path):
    pf = Postfix(tmp_path / "postfix", free_port())
    pf.setup()
    pf.start()
    yield pf
    pf.close()


def started_burst(port: int, count: int = 200) -> tuple[str, list[str], dict[str, object], list[threading.Thread]]:
    """A burst under way: its run id, its tags, the outcome per tag (filled in), the workers."""
    run = uuid.uuid4().hex[:8]
    tags = [f"{run}-{i}" for i in range(count)]
    outcome: dict[str, object] = {}
    return run, tags, outcome, burst(port, tags, outcome)


def test_postfix_stopped_mid_burst(own_postfix, start_mailguard, report_figure):
    mg = start_mailguard(own_postfix.port)
    run, tags, outcome, workers = started_burst(mg.port)
    wait_for(lambda: len(outcome) >= 50, 120, what="a quarter of the burst")
    own_postfix.stop()
    wait_for(lambda: len(outcome) >= 100, 120, what="messages sent while Postfix is down")
    own_postfix.start()
    for w in workers:
        w.join(180)
    assert len(outcome) == len(tags)
    counts = check(own_postfix, run, outcome)
    deferred = sum(1 for c in outcome.values() if c != 250)
    assert deferred, "Postfix was down for part of the burst: some messages must have been deferred"
    queued_unanswered = sum(counts.values()) - (len(tags) - deferred)
    report_figure(f"faults: Postfix stopped mid-burst: {len(tags)} messages, {len(tags) - deferred} got 250 "
                  f"and are delivered once each, {deferred} deferred (4xx); {queued_unanswered} of those "
                  f"Postfix had queued when it stopped without answering (the client's retry doubles them)")


def test_mailguard_killed_mid_burst(own_postfix, start_mailguard, report_figure):
    mg = start_mailguard(own_postfix.port)
    run, tags, outcome, workers = started_burst(mg.port)
    wait_for(lambda: len(outcome) >= 60, 120, what="part of the burst")
    mg.signal(signal.SIGKILL)
    for w in workers:
        w.join(180)
    assert len(outcome) == len(tags)
    counts = check(own_postfix, run, outcome)
    accepted = sum(1 for c in outcome.values() if c == 250)
    report_figure(f"faults: mailguard SIGKILLed mid-burst: {len(tags)} messages, {accepted} got 250 and are "
                  f"delivered once each, {len(tags) - accepted} failed at the client (to retry), "
                  f"{sum(counts.values()) - accepted} of those reached Postfix before the kill")
