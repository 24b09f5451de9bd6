"""The relay against a real Postfix: delivery, lock-step answers, XCLIENT, no open relay."""
from __future__ import annotations

import smtplib
import subprocess
import uuid

from realservers import TEST_DOMAIN


def send(port: int, rcpts, body: bytes, sender: str = "sender@outside.example", **kw):
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.outside.example")
        return s.sendmail(sender, rcpts, body, **kw)


def tagged_message(tag: str, extra: str = "") -> bytes:
    return (f"From: a@outside.example\r\nTo: user@{TEST_DOMAIN}\r\nSubject: test {tag}\r\n"
            f"Message-ID: <{tag}@outside.example>\r\n{extra}\r\nbody {tag}\r\n").encode()


def test_swaks_message_reaches_maildir_with_our_headers(postfix, mailguard):
    tag = uuid.uuid4().hex
    res = subprocess.run(["swaks", "--server", f"127.0.0.1:{mailguard.port}", "--to", f"user@{TEST_DOMAIN}",
                          "--from", "alice@outside.example", "--header", f"Subject: swaks {tag}",
                          "--body", f"hello {tag}"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "queued as" in res.stdout
    path = postfix.wait_delivered("user", lambda b: tag.encode() in b)
    data = path.read_bytes()
    headers = data.split(b"\n\n", 1)[0]
    assert b"X-Spam-Flag: NO" in headers
    assert b"X-Spam-Status: No, score=" in headers
    assert b"by mailguard.test.example (mailguard)" in headers  # front mode: our Received header


def test_unknown_recipient_refused_at_rcpt(postfix, mailguard):
    with smtplib.SMTP("127.0.0.1", mailguard.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        assert s.mail("a@outside.example")[0] == 250
        code, text = s.rcpt(f"nobody-here@{TEST_DOMAIN}")
        assert code == 550 and b"5.1.1" in text
        assert s.rcpt(f"user@{TEST_DOMAIN}")[0] == 250


def test_no_open_relay_and_postfix_sees_real_client(postfix, mailguard):
    # The client connects from 127.0.0.2; mailguard reaches Postfix from 127.0.0.1.
    tag = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", mailguard.port, timeout=60, source_address=("127.0.0.2", 0)) as s:
        s.ehlo(f"client-{tag}.outside.example")
        assert s.mail("a@outside.example")[0] == 250
        code, text = s.rcpt("victim@elsewhere.example")
        assert code == 554 and b"Relay access denied" in text
        assert s.rcpt(f"user@{TEST_DOMAIN}")[0] == 250
        s.data(tagged_message(tag))
    postfix.wait_delivered("user", lambda b: tag.encode() in b)
    log = postfix.log()
    assert f"helo=<client-{tag}.outside.example>" in log  # the reject line names the client's HELO
    assert "client=unknown[127.0.0.2]" in log  # XCLIENT: Postfix saw the real client address


def test_serve_warns_when_its_host_name_is_not_a_fully_qualified_domain_name(start_sink, start_mailguard):
    sink = start_sink()
    short = start_mailguard(sink.port, server={"hostname": "localhost"})
    assert "our host name 'localhost' is not a fully-qualified domain name" in short.log()
    assert "set [server] hostname" in short.log()
    named = start_mailguard(sink.port)  # mailguard.test.example
    assert "fully-qualified" not in named.log()
