"""Lock-step relay semantics against real Postfix and smtp-sink."""
from __future__ import annotations

import smtplib
import socket
import threading
import time
import uuid

import pytest

from realservers import CORPORA, TEST_DOMAIN, free_port
from mailguard.scan.headers import field_name, header_fields, split_header_block


def message(tag: str, body: str = "", subject: str | None = None) -> bytes:
    return (f"From: a@outside.example\r\nTo: user@{TEST_DOMAIN}\r\nSubject: {subject or 'test ' + tag}\r\n"
            f"Message-ID: <{tag}@outside.example>\r\n\r\nbody {tag}\r\n{body}").encode()


def client(port: int) -> smtplib.SMTP:
    s = smtplib.SMTP("127.0.0.1", port, timeout=60)
    s.ehlo("client.outside.example")
    return s


def test_downstream_down_gives_451(start_mailguard):
    port = free_port()  # nothing listens there
    mg = start_mailguard(port)
    with client(mg.port) as s:
        code, text = s.mail("a@outside.example")
    # Nothing of ours told (address, errno); the log says what happened.
    assert (code, text) == (451, b"4.4.1 Downstream temporarily unavailable")
    assert f"downstream 127.0.0.1:{port} unavailable" in mg.log()


def test_downstream_stall_gives_451_after_timeout(start_mailguard, start_sink):
    sink = start_sink("-w", "60")  # smtp-sink waits 60 s before answering DATA
    mg = start_mailguard(sink.port, relay={"data_timeout": 2.0})
    with client(mg.port) as s:
        assert s.mail("a@outside.example")[0] == 250
        assert s.rcpt(f"user@{TEST_DOMAIN}")[0] == 250
        started = time.monotonic()
        code, text = s.data(message("stall"))  # smtplib's data() returns the final reply
        elapsed = time.monotonic() - started
    assert (code, text) == (451, b"4.4.1 Downstream temporarily unavailable")
    assert elapsed < 20  # a generous bound on a 2 s budget


def test_downstream_disconnect_and_4xx_give_451(start_mailguard, start_sink):
    sink = start_sink("-q", "data")  # hangs up at DATA
    mg = start_mailguard(sink.port)
    with client(mg.port) as s:
        assert s.mail("a@outside.example")[0] == 250
        assert s.rcpt(f"user@{TEST_DOMAIN}")[0] == 250
        code, _ = s.data(message("drop"))
        assert code == 451
        # the session goes on: a second transaction gets a fresh downstream connection
        assert s.mail("a@outside.example")[0] in (250, 451)
    sink2 = start_sink("-r", "data")  # soft error at DATA
    mg2 = start_mailguard(sink2.port)
    with client(mg2.port) as s:
        assert s.mail("a@outside.example")[0] == 250
        assert s.rcpt(f"user@{TEST_DOMAIN}")[0] == 250
        code, _ = s.data(message("soft"))
        assert 400 <= code < 500


def test_rcpt_answers_are_the_downstreams(start_mailguard, start_sink):
    sink = start_sink("-r", "rcpt")
    mg = start_mailguard(sink.port)
    with client(mg.port) as s:
        s.mail("a@outside.example")
        code, _ = s.rcpt(f"user@{TEST_DOMAIN}")
        assert 400 <= code < 500
        # no accepted recipient: DATA refused, nothing relayed
        code, _ = s.docmd("DATA")
        assert code == 554


def test_oversize_refused_at_mail_and_during_data(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, server={"max_message_size": 20000})
    with client(mg.port) as s:
        assert "size" in s.esmtp_features and s.esmtp_features["size"] == "20000"
        code, text = s.mail("a@outside.example", ["SIZE=50000"])
        assert code == 552 and text.startswith(b"5.3.4")
        assert s.mail("a@outside.example")[0] == 250
        s.rcpt(f"user@{TEST_DOMAIN}")
        code, text = s.data(message("big", "x" * 100 + "\r\n") * 300)
        assert code == 552 and text.startswith(b"5.3.4")
        # still usable afterwards
        tag = uuid.uuid4().hex
        s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"], message(tag))
    postfix.wait_delivered("user", lambda b: tag.encode() in b)


def test_8bit_smtputf8_and_long_lines_arrive_intact(postfix, mailguard):
    tag = uuid.uuid4().hex
    long_line = ("L" * 5000).encode()
    latin = "café résumé".encode("latin-1")
    body = (f"From: a@outside.example\r\nTo: utf8@{TEST_DOMAIN}\r\nSubject: Khuyến mãi {tag}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nTiếng Việt có dấu\r\n").encode() + long_line + b"\r\n" + latin + b"\r\n"
    with client(mailguard.port) as s:
        assert "smtputf8" in s.esmtp_features and "8bitmime" in s.esmtp_features
        s.sendmail("người.gửi@outside.example", [f"utf8@{TEST_DOMAIN}"], body,
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    path = postfix.wait_delivered("utf8", lambda b: tag.encode() in b)
    data = path.read_bytes()
    assert long_line in data
    assert latin in data
    assert f"Subject: Khuyến mãi {tag}".encode() in data
    assert "người.gửi@outside.example".encode() in data  # Return-Path


def test_dsn_parameters_reach_postfix(postfix, mailguard):
    tag = uuid.uuid4().hex
    with client(mailguard.port) as s:
        assert "dsn" in s.esmtp_features
        code, _ = s.mail(f"other@{TEST_DOMAIN}", ["RET=HDRS", f"ENVID={tag}"])
        assert code == 250
        code, _ = s.rcpt(f"user@{TEST_DOMAIN}", ["NOTIFY=SUCCESS", f"ORCPT=rfc822;orig-{tag}@{TEST_DOMAIN}"])
        assert code == 250
        code, _ = s.data(message(tag))
        assert code == 250
    # Postfix honours NOTIFY=SUCCESS: a delivery report goes back to the sender, carrying
    # the ENVID and ORCPT it was given.
    report = postfix.wait_delivered("other", lambda b: tag.encode() in b and b"Original-Envelope-Id" in b)
    data = report.read_bytes()
    assert f"Original-Envelope-Id: {tag}".encode() in data
    assert f"orig-{tag}@{TEST_DOMAIN}".encode() in data


def test_pipelining(postfix, mailguard):
    tag = uuid.uuid4().hex
    with socket.create_connection(("127.0.0.1", mailguard.port), timeout=60) as sock:
        f = sock.makefile("rb")
        assert f.readline().startswith(b"220")
        sock.sendall(b"EHLO client.outside.example\r\n")
        ehlo = []
        while True:
            line = f.readline()
            ehlo.append(line)
            if line[3:4] == b" ":
                break
        assert any(b"PIPELINING" in l for l in ehlo)
        sock.sendall(b"MAIL FROM:<a@outside.example>\r\n"
                     + f"RCPT TO:<user@{TEST_DOMAIN}>\r\nRCPT TO:<nobody@{TEST_DOMAIN}>\r\nDATA\r\n".encode())
        replies = [f.readline() for _ in range(4)]
        assert [r[:3] for r in replies] == [b"250", b"250", b"550", b"354"]
        sock.sendall(message(tag) + b".\r\nQUIT\r\n")
        final = f.readline()
        assert final.startswith(b"250") and b"queued as" in final
        assert f.readline().startswith(b"221")
    postfix.wait_delivered("user", lambda b: tag.encode() in b)


def test_hundred_messages_over_one_connection(postfix, mailguard):
    tags = [uuid.uuid4().hex for _ in range(100)]
    with client(mailguard.port) as s:
        for tag in tags:
            s.sendmail("a@outside.example", [f"other@{TEST_DOMAIN}"], message(tag))
            s.rset()
    def all_there():
        blob = b"".join(p.read_bytes() for p in postfix.delivered("other"))
        return all(t.encode() in blob for t in tags)
    from realservers import wait_for
    wait_for(all_there, 60, what="100 deliveries")


def test_fifty_concurrent_connections(postfix, mailguard):
    tags = [uuid.uuid4().hex for _ in range(50)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(50)

    def one(tag: str) -> None:
        try:
            with client(mailguard.port) as s:
                barrier.wait(30)
                s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"], message(tag))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(t,)) for t in tags]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    from realservers import wait_for
    wait_for(lambda: all(any(t.encode() in p.read_bytes() for p in postfix.delivered("user")) for t in tags),
             60, what="50 deliveries")


def test_connection_limit_answers_421(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, server={"max_connections": 2})
    held = [client(mg.port), client(mg.port)]
    try:
        with pytest.raises(smtplib.SMTPConnectError) as err:
            smtplib.SMTP("127.0.0.1", mg.port, timeout=30)
        assert err.value.smtp_code == 421
    finally:
        for s in held:
            s.quit()


def _strip_added(delivered: bytes) -> list[bytes]:
    """The delivered message without what Postfix and mailguard prepended: everything up to our
    last header, X-Mailguard-Symbols."""
    block, rest = split_header_block(delivered.replace(b"\r\n", b"\n"))
    fields = header_fields(block)
    names = [field_name(f) for f in fields]
    cut = names.index("x-mailguard-symbols") + 1
    return fields[cut:] + [rest]


def _original(raw: bytes) -> list[bytes]:
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1]
    block, rest = split_header_block(raw.replace(b"\r\n", b"\n"))
    ours = {"x-spam-flag", "x-spam-score", "x-spam-status", "x-mailguard-symbols", "x-advertising",
            "return-path"}  # Postfix's cleanup removes Return-Path; virtual(8) writes its own
    return [f for f in header_fields(block) if field_name(f) not in ours] + [rest]


def test_spam_corpus_arrives_intact(postfix, start_mailguard):
    # Transport, not scoring, is under test: thresholds no rule can reach keep Subjects unrewritten.
    mailguard = start_mailguard(postfix.port, actions={"rewrite_subject": 1000.0, "quarantine": 1000.0,
                                                       "reject": 1000.0})
    files = sorted((CORPORA / "spamassassin" / "spam").iterdir())
    assert len(files) >= 500
    originals = {}
    with client(mailguard.port) as s:
        for path in files:
            raw = path.read_bytes()
            if raw.startswith(b"From "):
                raw = raw.split(b"\n", 1)[1]
            # GTUBE-like strings would be refused: the spam corpus has none, every one must pass
            s.sendmail("a@outside.example", [f"big@{TEST_DOMAIN}"], raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
            originals[path.name] = _original(path.read_bytes())
    from realservers import wait_for
    wait_for(lambda: len(postfix.delivered("big")) >= len(files), 120, what="corpus delivery")
    delivered = [_strip_added(p.read_bytes()) for p in postfix.delivered("big")]
    expected = list(originals.values())
    unmatched = [name for name, fields in originals.items() if fields not in delivered]
    assert not unmatched, f"{len(unmatched)} messages differ, e.g. {unmatched[:3]}"
    assert len(delivered) == len(expected)
