"""Milter mode end to end: a real Postfix (smtpd_milters) in front of mailguard running the
milter alone ([server] listen = ""); clients talk SMTP to Postfix only.

The Postfix instance also has a second smtpd without milters: the downstream that
`mailguard quarantine release` and the proxy of the same-verdict test send to."""
from __future__ import annotations

import json
import re
import signal
import smtplib
import socket
import struct
import subprocess
import uuid
from pathlib import Path

import pytest

from mailguard.milter.protocol import MAX_PACKET
from rawmilter import milter_connect, milter_negotiate, milter_packet, milter_response
from realservers import CORPORA, TEST_DOMAIN, VENV_BIN, Mailguard, config_for, free_port, milter_postfix, wait_for
from rulestools import QUARANTINE_RULE, SPAMTRAP_RULE

RULES = QUARANTINE_RULE + '''
[[rule]]
name = "TAG_MARK"
kind = "body"
pattern = 'tag-me'
score = 9.0
description = "scores between [actions] rewrite_subject and quarantine"

''' + SPAMTRAP_RULE


class Setup:
    """mailguard (milter only) and its Postfix; the milter port is fixed so that mailguard can be
    stopped and started again behind the running Postfix."""

    def __init__(self, base: Path, dns_address: str) -> None:
        self.base = base
        self.milter_port = free_port()
        self.plain_port = free_port()
        site = base / "rules.d"
        site.mkdir(parents=True)
        (site / "test.toml").write_text(RULES)
        self.sections = {"dns": {"servers": [dns_address]}, "rules": {"site_dir": str(site)}}
        self.postfix = milter_postfix(base / "postfix", self.milter_port, self.plain_port)
        self.mailguard = Mailguard(base / "mg", self.config(server={"listen": ""},
                                                            milter={"listen": f"127.0.0.1:{self.milter_port}"}))

    def config(self, **sections) -> str:
        """The config of this setup, downstream the milter-less smtpd, with `sections` changed."""
        merged = {name: dict(values) for name, values in self.sections.items()}
        for name, values in sections.items():
            merged.setdefault(name, {}).update(values)
        return config_for(self.plain_port, **merged)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return self.mailguard.cli(*args)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, session_dns):
    s = Setup(tmp_path_factory.mktemp("milter"), session_dns.address)
    s.mailguard.start()
    s.postfix.setup()
    s.postfix.start()
    yield s
    s.postfix.close()
    s.mailguard.stop()


def send(port: int, rcpts: list[str], message: bytes, sender: str = "a@outside.example") -> dict[str, tuple[int, bytes]]:
    """The replies a client gets: "mail", each recipient, "data" (up to the first refusal)."""
    replies: dict[str, tuple[int, bytes]] = {}
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.outside.example")
        replies["mail"] = s.mail(sender)
        if replies["mail"][0] != 250:
            return replies
        for rcpt in rcpts:
            replies[rcpt] = s.rcpt(rcpt)
        if any(replies[r][0] == 250 for r in rcpts):
            replies["data"] = s.data(message)
    return replies


def header_names(message: bytes) -> list[str]:
    head = message.split(b"\n\n", 1)[0]
    return [line.split(b":", 1)[0].decode() for line in head.split(b"\n") if line and line[:1] not in b" \t"]


def after_our_fields(message: bytes) -> bytes:
    """The delivered message from the first field after X-Mailguard-Symbols (the last of ours)."""
    lines = message.split(b"\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"X-Mailguard-Symbols:")) + 1
    while lines[start][:1] in (b" ", b"\t"):
        start += 1
    return b"\n".join(lines[start:])


def test_serve_prints_the_milter_port_it_bound(tmp_path, session_dns):
    mg = Mailguard(tmp_path / "mg", config_for(free_port(), server={"listen": ""},
                                                dns={"servers": [session_dns.address]}),
                   args=["--milter", "127.0.0.1:0"]).start()
    try:
        assert mg.milter_port and not mg.port
        assert f"milter listening on 127.0.0.1:{mg.milter_port}" in mg.log()
        assert not any(line.startswith("listening on") for line in mg.stderr_lines)
    finally:
        assert mg.stop() == 0


def test_ham_is_delivered_with_our_headers_first_and_forged_ones_gone(setup):
    tag = uuid.uuid4().hex
    message = (f"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=99 forged-{tag}\r\nFrom: a@outside.example\r\n"
               f"x-spam-flag: YES\r\nSubject: ham {tag}\r\n\r\nJust a friendly note.\r\n").encode()
    replies = send(setup.postfix.port, [f"user@{TEST_DOMAIN}"], message)
    assert replies["data"][0] == 250
    data = setup.postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
    assert f"forged-{tag}".encode() not in data
    assert data.count(b"X-Spam-Flag:") == 1 and b"X-Spam-Flag: NO" in data
    names = header_names(data)
    # Postfix's Received first (it is the SMTP server), then ours, then the sender's fields.
    received = names.index("Received")
    assert names[received + 1:received + 6] == ["Authentication-Results", "X-Spam-Flag", "X-Spam-Score",
                                                "X-Spam-Status", "X-Mailguard-Symbols"]
    assert names[received + 6:] == ["From", "Subject"]
    assert names.count("Received") == 1 and b"(mailguard)" not in data  # Postfix wrote the trace header
    assert b"\r\nJust a friendly note." not in data and b"\nJust a friendly note.\n" in data  # body unchanged


def test_gtube_is_refused_by_postfix_with_our_reply(setup):
    gtube = (CORPORA / "samples" / "sample-spam.txt").read_bytes().replace(b"\n", b"\r\n")
    before = len(setup.postfix.delivered("other"))
    replies = send(setup.postfix.port, [f"other@{TEST_DOMAIN}"], gtube)
    code, text = replies["data"]  # the proxy's text, through SMFIR_REPLYCODE
    m = re.fullmatch(rb"5\.7\.1 Message rejected as spam \(id ([0-9A-F]{12})\)", text)
    assert code == 550 and m, text
    assert len(setup.postfix.delivered("other")) == before
    # One log line, with the id of the reply and Postfix's own queue id beside it.
    queue_id = m.group(1).decode()
    (line,) = wait_for(lambda: [l for l in setup.mailguard.stderr_lines if queue_id in l], 10, what="the log line")
    assert f"{queue_id} refused at data:" in line and "reason=spam" in line and re.search(r" postfix=[0-9A-Za-z]+ ", line)


def test_rewrite_subject_tags_the_subject(setup):
    tag = uuid.uuid4().hex
    message = (f"From: a@outside.example\r\nTo: user@{TEST_DOMAIN}\r\nDate: Mon, 1 Dec 2025 10:00:00 +0000\r\n"
               f"Message-ID: <{tag}@outside.example>\r\nSubject: offer\r\n {tag}\r\n\r\nplease tag-me\r\n").encode()
    assert send(setup.postfix.port, [f"user@{TEST_DOMAIN}"], message)["data"][0] == 250
    data = setup.postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
    assert f"Subject: ***SPAM*** offer\n {tag}\n".encode() in data and data.count(b"Subject:") == 1
    assert b"X-Spam-Flag: YES" in data and b"action=rewrite_subject" in data


def test_a_quarantined_message_is_not_delivered_until_released(setup):
    tag = uuid.uuid4().hex
    message = (f"From: a@outside.example\r\nTo: other@{TEST_DOMAIN}\r\nDate: Mon, 1 Dec 2025 10:00:00 +0000\r\n"
               f"Message-ID: <{tag}@outside.example>\r\nSubject: q-{tag}\r\n\r\nplease quarantine-me {tag}\r\n").encode()
    replies = send(setup.postfix.port, [f"other@{TEST_DOMAIN}"], message)
    assert replies["data"][0] == 250  # Postfix accepts, then discards: the message is ours now
    res = setup.cli("quarantine", "list", "--json")
    rows = [json.loads(line) for line in res.stdout.splitlines() if tag in line]
    assert len(rows) == 1 and rows[0]["action"] == "quarantine" and "QUARANTINE_MARK" in rows[0]["symbols"]
    wait_for(lambda: "milter-discard" in setup.postfix.log() or "discard" in setup.postfix.log(), 10,
             what="Postfix logging the discard")
    assert not any(tag.encode() in p.read_bytes() for p in setup.postfix.delivered("other"))

    res = setup.cli("quarantine", "release", rows[0]["queue_id"])
    assert res.returncode == 0, res.stderr
    data = setup.postfix.wait_delivered("other", lambda b: tag.encode() in b).read_bytes()
    assert f"please quarantine-me {tag}".encode() in data and data.count(b"X-Spam-Flag: YES") == 1
    assert tag not in setup.cli("quarantine", "list", "--json").stdout


def test_an_early_refusal_is_our_550_at_rcpt(setup):
    tag = uuid.uuid4().hex
    replies = send(setup.postfix.port, [f"trap@{TEST_DOMAIN}", f"user@{TEST_DOMAIN}"],
                   f"Subject: trap {tag}\r\n\r\nx\r\n".encode())
    code, text = replies[f"trap@{TEST_DOMAIN}"]
    assert code == 550 and re.fullmatch(rb"5\.7\.1 Recipient refused by policy \(id [0-9A-F]{12}\)", text), text
    assert replies[f"user@{TEST_DOMAIN}"][0] == 250 and replies["data"][0] == 250
    setup.postfix.wait_delivered("user", lambda b: tag.encode() in b)
    assert not any(tag.encode() in p.read_bytes() for p in setup.postfix.delivered("trap"))


def test_the_same_message_gets_the_same_verdict_from_proxy_milter_and_scan(setup, tmp_path):
    corpus = sorted((CORPORA / "spamassassin" / "easy_ham").iterdir())[1].read_bytes()
    body = corpus.split(b"\n", 1)[1] if corpus.startswith(b"From ") else corpus  # the mbox line is no header
    tag = uuid.uuid4().hex
    message = f"X-Tag: {tag}\n".encode() + body
    path = tmp_path / "message.eml"
    path.write_bytes(message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    rcpt = f"user@{TEST_DOMAIN}"

    assert send(setup.postfix.port, [rcpt], path.read_bytes())["data"][0] == 250
    proxy = Mailguard(tmp_path / "proxy", setup.config()).start()
    try:
        assert send(proxy.port, [rcpt], path.read_bytes())["data"][0] == 250
    finally:
        proxy.stop()

    def history(mg: Mailguard) -> dict | None:
        res = subprocess.run([VENV_BIN / "mailguard", "history", "--json", "--config", mg.config_path,
                              "--state-dir", mg.base / "state"], capture_output=True, text=True, timeout=60)
        rows = [json.loads(line) for line in res.stdout.splitlines() if tag in line]
        assert len(rows) <= 1, res.stdout
        return rows[0] if rows else None

    res = setup.cli("scan", "--json", "--client-ip", "127.0.0.1", "--helo", "client.outside.example",
                    "--mail-from", "a@outside.example", "--rcpt", rcpt, str(path))
    scanned = json.loads(res.stdout)
    by_milter, by_proxy = (wait_for(lambda: history(mg), 10, what="the history row") for mg in (setup.mailguard, proxy))
    verdicts = {(row["action"], round(row["score"], 2), tuple(sorted(row["symbols"])))
                for row in (scanned, by_milter, by_proxy)}
    assert len(verdicts) == 1, verdicts
    # and Postfix delivers, after our fields, the very bytes the client sent
    delivered = setup.postfix.wait_delivered("user", lambda b: tag.encode() in b and b"(mailguard)" not in b)
    sent = path.read_bytes().replace(b"\r\n", b"\n")
    # Postfix's cleanup drops a Return-Path field (delivery writes its own): not ours to keep
    sent = b"".join(line for line in sent.splitlines(keepends=True) if not line.startswith(b"Return-Path:"))
    assert after_our_fields(delivered.read_bytes()) == sent


def test_mailguard_stopped_means_postfix_tempfails(setup):
    setup.mailguard.stop()
    try:
        replies = send(setup.postfix.port, [f"user@{TEST_DOMAIN}"], b"Subject: down\r\n\r\nx\r\n")
        # milter_default_action = tempfail: the client is told to come back, nothing is accepted
        assert replies == {"mail": (451, b"4.7.1 Service unavailable - try again later")}
    finally:
        setup.mailguard.start()
    tag = uuid.uuid4().hex  # and back: the next message goes through again
    assert send(setup.postfix.port, [f"user@{TEST_DOMAIN}"], f"Subject: {tag}\r\n\r\nx\r\n".encode())["data"][0] == 250
    setup.postfix.wait_delivered("user", lambda b: tag.encode() in b)


def milter_envelope(conn: socket.socket, rcpt: str = f"user@{TEST_DOMAIN}") -> None:
    """Negotiation, CONNECT, HELO, MAIL, RCPT as Postfix sends them, each answered CONTINUE."""
    milter_negotiate(conn)
    milter_connect(conn, "192.0.2.7")
    conn.sendall(milter_packet(b"H", b"client.example\x00"))  # no reply: NR_HELO
    conn.sendall(milter_packet(b"M", b"<a@outside.example>\x00"))
    assert milter_response(conn) == b"c"
    conn.sendall(milter_packet(b"R", f"<{rcpt}>\x00".encode()))
    assert milter_response(conn) == b"c"


def test_the_milter_bounds_what_it_reads(tmp_path, session_dns):
    """Talking the protocol as Postfix does: a body over [server] max_message_size gets our 552
    (Postfix passes it to the client); a packet over the limit ends the connection."""
    mg = Mailguard(tmp_path / "mg", config_for(free_port(), server={"listen": "", "max_message_size": 2000},
                                                milter={"listen": "127.0.0.1:0"},
                                                dns={"servers": [session_dns.address]})).start()
    try:
        with socket.create_connection(("127.0.0.1", mg.milter_port), timeout=30) as conn:
            milter_envelope(conn)
            # no reply to the header (NR_HDR), one to the end of the headers
            conn.sendall(milter_packet(b"L", b"Subject\x00 big\x00") + milter_packet(b"N"))
            assert milter_response(conn) == b"c"
            conn.sendall(milter_packet(b"B", b"x" * 1500 + b"\r\n"))
            assert milter_response(conn) == b"c"
            conn.sendall(milter_packet(b"B", b"y" * 1500 + b"\r\n"))
            assert milter_response(conn) == b"y552 5.3.4 Error: message size exceeds fixed limit of 2000 bytes\x00"
            conn.sendall(milter_packet(b"A"))  # Postfix aborts the message; the connection goes on
            conn.sendall(milter_packet(b"M", b"<a@outside.example>\x00"))
            assert milter_response(conn) == b"c"
            conn.sendall(struct.pack("!I", MAX_PACKET + 1) + b"B")
            assert milter_response(conn) == b""  # closed
        wait_for(lambda: "milter protocol error" in mg.log(), 10, what="the protocol error in the log")
    finally:
        assert mg.stop() == 0


def test_both_listeners_share_reloads_and_shutdown(tmp_path, session_dns):
    site = tmp_path / "rules.d"
    site.mkdir()
    mg = Mailguard(tmp_path / "mg", config_for(free_port(), milter={"listen": "127.0.0.1:0"},
                                                rules={"site_dir": str(site)},
                                                dns={"servers": [session_dns.address]})).start()
    try:
        assert mg.port and mg.milter_port and mg.port != mg.milter_port
        (site / "reload.toml").write_text('''[[rule]]
name = "RELOADED_MARK"
kind = "body"
pattern = 'reloaded-mark'
score = 20.0
description = "a rule that arrives with SIGHUP"
''')
        mg.signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in mg.log(), 20, what="the reload in the log")
        with socket.create_connection(("127.0.0.1", mg.milter_port), timeout=30) as conn:
            milter_envelope(conn)
            conn.sendall(milter_packet(b"L", b"Subject\x00 hi\x00") + milter_packet(b"N"))
            assert milter_response(conn) == b"c"
            conn.sendall(milter_packet(b"B", b"the reloaded-mark\r\n"))
            assert milter_response(conn) == b"c"
            conn.sendall(milter_packet(b"E"))
            answer = milter_response(conn)
            assert answer.startswith(b"y550 5.7.1 Message rejected as spam (id "), answer  # the reloaded rule
    finally:
        assert mg.stop() == 0  # SIGTERM: both listeners close, exit 0
