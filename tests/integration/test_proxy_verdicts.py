"""What the session does with a verdict, XFORWARD trust, scan --json, signals."""
from __future__ import annotations

import json
import signal
import smtplib
import subprocess
import uuid

from realservers import CORPORA, TEST_DOMAIN, VENV_BIN, wait_for


def test_gtube_refused_and_nothing_reaches_postfix(postfix, mailguard):
    gtube = (CORPORA / "samples" / "sample-spam.txt").read_bytes()
    tag = uuid.uuid4().hex
    before = len(postfix.delivered("other"))
    with smtplib.SMTP("127.0.0.1", mailguard.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.mail("a@outside.example")
        s.rcpt(f"other@{TEST_DOMAIN}")
        code, text = s.data(f"X-Tag: {tag}\r\n".encode() + gtube.replace(b"\n", b"\r\n"))
    assert code == 550 and text.startswith(b"5.7.1 Message rejected as spam (id ")
    assert len(postfix.delivered("other")) == before


def test_ham_sample_delivered_with_headers(postfix, mailguard):
    ham = (CORPORA / "samples" / "sample-nonspam.txt").read_bytes()
    tag = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", mailguard.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"], f"X-Tag: {tag}\r\n".encode() + ham)
    data = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
    assert b"X-Spam-Flag: NO" in data and b"X-Spam-Status: No, score=" in data


def test_forged_spam_headers_stripped(postfix, mailguard):
    tag = uuid.uuid4().hex
    msg = (f"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=99 forged-{tag}\r\nSubject: {tag}\r\n\r\nhi\r\n").encode()
    with smtplib.SMTP("127.0.0.1", mailguard.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"], msg)
    data = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
    assert f"forged-{tag}".encode() not in data
    assert data.count(b"X-Spam-Flag:") == 1 and b"X-Spam-Flag: NO" in data


def test_xforward_only_from_trusted_peers(postfix, start_mailguard):
    trusted = start_mailguard(postfix.port, relay={"mode": "behind"}, server={"trusted_networks": ["127.0.0.0/8"]})
    tag = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", trusted.port, timeout=60) as s:
        s.ehlo("postfix.before.filter")
        assert "xforward" in s.esmtp_features
        code, _ = s.docmd("XFORWARD", f"ADDR=203.0.113.9 NAME=mail-{tag}.example HELO=helo-{tag}.example PROTO=ESMTP")
        assert code == 250
        s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"], f"Subject: {tag}\r\n\r\nx\r\n".encode())
    data = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
    assert b"(mailguard)" not in data  # behind mode writes no Received header
    # XFORWARD was passed on: Postfix logs the original client
    wait_for(lambda: f"mail-{tag}.example[203.0.113.9]" in postfix.log(), 10, what="XFORWARD in Postfix log")

    untrusted = start_mailguard(postfix.port, relay={"mode": "behind"}, server={"trusted_networks": ["192.0.2.0/24"]})
    with smtplib.SMTP("127.0.0.1", untrusted.port, timeout=60) as s:
        s.ehlo("somebody")
        assert "xforward" not in s.esmtp_features
        code, text = s.docmd("XFORWARD", "ADDR=203.0.113.9")
        assert code == 550 and text.startswith(b"5.7.0")


def test_scan_json_matches_contract(tmp_path):
    res = subprocess.run([VENV_BIN / "mailguard", "scan", "--json", "--offline", "--state-dir", tmp_path,
                          CORPORA / "samples"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
    spam = by_name["sample-spam.txt"]
    assert set(spam) == {"path", "action", "score", "required", "forced", "symbols"}
    assert spam["action"] == "reject" and spam["forced"] == "reject"
    assert spam["symbols"]["GTUBE"]["score"] > 0 and "detail" in spam["symbols"]["GTUBE"]
    ham = by_name["sample-nonspam.txt"]
    assert ham["action"] == "accept" and ham["forced"] is None and ham["required"] == 5.0


def test_scan_reads_mbox(tmp_path):
    box = tmp_path / "box.mbox"
    box.write_bytes(b"From a@b Mon Jan 1 00:00:00 2024\nSubject: one\n\nbody\n\n"
                    b"From a@b Mon Jan 1 00:00:00 2024\nSubject: two\n\nbody\n")
    res = subprocess.run([VENV_BIN / "mailguard", "scan", "--json", "--offline", box], capture_output=True,
                         text=True, timeout=60)
    assert [json.loads(l)["path"] for l in res.stdout.splitlines()] == [f"{box}#1", f"{box}#2"]


def test_sighup_bad_config_keeps_running_and_sigterm_exits_zero(postfix, start_mailguard):
    mg = start_mailguard(postfix.port)
    mg.config_path.write_text("[server]\nmax_connections = \"lots\"\n")
    mg.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in mg.log(), 10, what="reload refusal")
    assert "max_connections" in mg.log()
    tag = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:  # still serving on the old config
        s.ehlo("c.example")
        s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"], f"Subject: {tag}\r\n\r\nx\r\n".encode())
    postfix.wait_delivered("user", lambda b: tag.encode() in b)
    assert mg.stop() == 0


def test_quarantine_then_release_through_postfix(postfix, start_mailguard):
    # Low thresholds: the MIME problem of this message (multipart without boundary) quarantines it.
    mg = start_mailguard(postfix.port, actions={"add_header": 0.5, "rewrite_subject": 0.6, "quarantine": 0.7,
                                                "reject": 100.0})
    tag = uuid.uuid4().hex
    msg = (f"Subject: q-{tag}\r\nContent-Type: multipart/mixed\r\n\r\nno boundary here {tag}\r\n").encode()
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.mail("a@outside.example")
        s.rcpt(f"other@{TEST_DOMAIN}")
        code, text = s.data(msg)
    assert code == 250
    queue_id = text.decode().rsplit(" ", 1)[-1]
    cli = [VENV_BIN / "mailguard", "quarantine"]
    opts = ["--config", mg.config_path, "--state-dir", mg.base / "state"]
    res = subprocess.run([*cli, "list", "--json", *opts], capture_output=True, text=True, timeout=60)
    rows = [json.loads(l) for l in res.stdout.splitlines()]
    assert [r["queue_id"] for r in rows] == [queue_id]
    assert rows[0]["action"] == "quarantine" and "MIME_BAD_BOUNDARY" in rows[0]["symbols"]
    assert not any(tag.encode() in p.read_bytes() for p in postfix.delivered("other"))

    res = subprocess.run([*cli, "release", queue_id, *opts], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    data = postfix.wait_delivered("other", lambda b: tag.encode() in b).read_bytes()
    assert f"no boundary here {tag}".encode() in data
    # The authentication verdicts of its arrival travel with it (not the "none" of an unchecked one)
    assert b"spf=none smtp.mailfrom=a@outside.example" in data and b"dmarc=permerror" in data
    # So does the trace of its arrival (front mode): our Received, with the id it was held under.
    assert f"by mailguard.test.example (mailguard) with ESMTP id {queue_id}".encode() in data
    res = subprocess.run([*cli, "list", "--json", *opts], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == ""
    res = subprocess.run([VENV_BIN / "mailguard", "history", "--json", *opts], capture_output=True, text=True, timeout=60)
    assert queue_id in res.stdout


def test_starttls_when_a_certificate_is_configured(postfix, start_mailguard, tmp_path):
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=mailguard.test.example", "-keyout", key, "-out", cert], check=True, capture_output=True)
    mg = start_mailguard(postfix.port, server={"tls_cert": str(cert), "tls_key": str(key)})
    tag = uuid.uuid4().hex
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        assert "starttls" in s.esmtp_features
        s.starttls(context=ctx)
        s.ehlo("client.outside.example")
        assert "starttls" not in s.esmtp_features
        s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"], f"Subject: {tag}\r\n\r\nx\r\n".encode())
    data = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
    assert b"with ESMTPS id" in data  # our Received header records the TLS hop


def test_check_that_raises_and_one_that_hangs_still_answer_the_client(postfix, start_mailguard):
    import time

    mg = start_mailguard(postfix.port, faults={"checks": ["raise", "hang"]}, server={"scan_timeout": 1.0})
    tag = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.mail("a@outside.example")
        s.rcpt(f"user@{TEST_DOMAIN}")
        started = time.monotonic()
        code, _ = s.data(f"Subject: {tag}\r\n\r\nx\r\n".encode())
        elapsed = time.monotonic() - started
    assert code == 250
    assert elapsed < 10  # a generous bound on the 1 s scan deadline
    data = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
    assert b"CHECK_ERROR_FAULT_RAISE" in data and b"CHECK_TIMEOUT_FAULT_HANG" in data
    assert "Traceback" in mg.log()  # the raising check is logged with its traceback
