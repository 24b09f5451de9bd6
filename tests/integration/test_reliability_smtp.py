"""The reliability suite, SMTP side: framing, what a client can put in our headers, odd HELO
names, per-client limits, junk commands, the bytes-in-flight budget and the client's wait for
our answer to the dot — against the real Postfix, message by message (a 250 means delivered,
anything else means not delivered by our doing)."""
from __future__ import annotations

import time
import uuid

import pytest

from rawsmtp import RawClient
from realservers import TEST_DOMAIN, Postfix, free_port, wait_for
from mailguard.scan.headers import field_name, header_fields, split_header_block

pytestmark = pytest.mark.reliability


def message(tag: str, body: str = "") -> bytes:
    return (f"From: a@outside.example\r\nTo: user@{TEST_DOMAIN}\r\nSubject: test {tag}\r\n"
            f"Message-ID: <{tag}@outside.example>\r\n\r\nbody {tag}\r\n{body}").encode()


def greeted(c: RawClient, helo: bytes = b"client.outside.example") -> None:
    assert c.reply().startswith(b"220")
    assert c.command(b"EHLO " + helo).startswith(b"250")


def start_data(c: RawClient, rcpt: str = "user") -> None:
    """MAIL, RCPT and DATA, each answered as a good transaction is."""
    assert c.command(b"MAIL FROM:<a@outside.example>").startswith(b"250")
    assert c.command(f"RCPT TO:<{rcpt}@{TEST_DOMAIN}>".encode()).startswith(b"250")
    assert c.command(b"DATA").startswith(b"354")


def delivered_with(postfix: Postfix, user: str, tag: str) -> list[bytes]:
    return [p.read_bytes() for p in postfix.delivered(user) if tag.encode() in p.read_bytes()]


# --- 1. framing: no command is ever read from inside DATA -----------------------------------

def test_over_long_line_ending_in_a_dot_does_not_end_the_data(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, server={"max_line_length": 1000})
    tag = uuid.uuid4().hex
    with RawClient(mg.port) as c:
        greeted(c)
        start_data(c)
        # The reader's limit is 2,050 bytes: the first piece it takes of this line ends in ".".
        c.send(b"A" * 2051 + b".")
        # A pause so that the proxy reads that piece alone (the assertions below are about what
        # was answered and delivered, not about time).
        time.sleep(0.5)
        c.send(b"\r\nMAIL FROM:<a@outside.example>\r\n"
               + f"RCPT TO:<other@{TEST_DOMAIN}>\r\nDATA\r\n".encode()
               + message(tag) + b".\r\n")
        first = c.reply()
        c.send(b"QUIT\r\n")
        rest = c.rest()
    # One answer for the one message (too long a line), then QUIT's: nothing was run as a command.
    assert first.startswith(b"552 5.3.4")
    assert [r[:3] for r in rest] == [b"221"]
    assert not delivered_with(postfix, "other", tag)


@pytest.mark.parametrize("ending", [b"\n.\n", b"\r.\n", b"\n.\r\n", b"\r\n.\r", b"\r\n.\n", b"\r.\r"])
def test_bare_line_ends_never_end_the_data(postfix, mailguard, ending):
    """Smuggling: a bare CR or LF around a dot is content here and must stay content downstream."""
    tag, hidden = uuid.uuid4().hex, uuid.uuid4().hex
    smuggled = (ending + b"MAIL FROM:<a@outside.example>\r\n" + f"RCPT TO:<other@{TEST_DOMAIN}>\r\n".encode()
                + b"DATA\r\n" + message(hidden) + b"\r\n.\r\n")
    with RawClient(mailguard.port) as c:
        greeted(c)
        start_data(c)
        c.send(message(tag) + smuggled)
        assert c.reply().startswith(b"250")
        c.send(b"QUIT\r\n")
        assert [r[:3] for r in c.rest()] == [b"221"]
    postfix.wait_delivered("user", lambda b: tag.encode() in b)
    assert not delivered_with(postfix, "other", hidden)


# --- 2. nothing from the client reaches a header unescaped -------------------------------------

@pytest.mark.parametrize("helo, seen", [(b"x\rX-Spam-Flag: NO", b"from x?X-Spam-Flag: NO "), (b"x\r\r", b"from x "),
                                        (b"x\x00\x0bX-Spam-Score: -50", b"from x??X-Spam-Score: -50 ")])
def test_helo_with_control_bytes_cannot_forge_or_move_our_headers(postfix, mailguard, helo, seen):
    tag = uuid.uuid4().hex
    with RawClient(mailguard.port) as c:
        greeted(c, helo)
        start_data(c)
        c.send(message(tag) + b".\r\n")
        assert c.reply().startswith(b"250")
    data = postfix.wait_delivered("user", lambda b: tag.encode() in b)
    block, _ = split_header_block(data.read_bytes())
    names = [field_name(f) for f in header_fields(block)]
    # Our headers are all in the header block, once each, and no line holds a stray CR.
    assert names.count("x-spam-flag") == 1 and names.count("x-spam-score") == 1
    assert names.count("x-spam-status") == 1 and names.count("x-mailguard-symbols") == 1
    assert b"\r" not in block.replace(b"\r\n", b"")
    assert not any(0 < b < 32 and b not in (9, 10, 13) for b in block)
    received = [f for f in header_fields(block) if b"(mailguard)" in f]
    assert received and received[0].startswith(b"Received: " + seen)


def test_control_bytes_in_addresses_are_a_syntax_error(mailguard):
    with RawClient(mailguard.port) as c:
        greeted(c)
        assert c.command(b'MAIL FROM:<"a\rX-Spam-Flag: NO"@outside.example>').startswith(b"501 5.5.2")
        assert c.command(b"MAIL FROM:<a\x00b@outside.example>").startswith(b"501 5.5.2")
        assert c.command(b"MAIL FROM:<a@outside.example>").startswith(b"250")
        assert c.command(f"RCPT TO:<user\x00@{TEST_DOMAIN}>".encode()).startswith(b"501 5.5.2")
        assert c.command(b"QUIT").startswith(b"221")


# --- 3. odd HELO names work as Postfix treats them ------------------------------------------------

@pytest.mark.parametrize("helo, seen", [
    (b"foo bar", b"from foo?bar "),  # Postfix writes a space in a HELO name as '?'
    (b"foo\tbar", b"from foo?bar "),
    ("h\u00e9llo.example".encode(), b"from h?llo.example "),
    (b"foo\x00bar", b"from foo?bar "),
    (b"a" * 300, b"from " + b"a" * 300 + b" "),
])
def test_odd_helo_names_are_passed_on_and_the_mail_delivered(postfix, mailguard, helo, seen):
    tag = uuid.uuid4().hex
    with RawClient(mailguard.port) as c:
        greeted(c, helo)
        for _ in range(3):  # every MAIL, not just the first, works
            assert c.command(b"MAIL FROM:<a@outside.example>").startswith(b"250")
            assert c.command(b"RSET").startswith(b"250")
        start_data(c)
        c.send(message(tag) + b".\r\n")
        assert c.reply().startswith(b"250")
    data = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
    # Postfix's own Received header names the client's HELO as Postfix took it.
    postfix_received = [f for f in header_fields(split_header_block(data)[0])
                        if field_name(f) == "received" and b"mx.test.example" in f]
    assert postfix_received and seen in postfix_received[0].replace(b"\n\t", b" ").replace(b"\n ", b" ")
    assert "Traceback" not in mailguard.log() and "misconfigured" not in mailguard.log()


def test_repeated_faulty_commands_log_once(mailguard):
    before = len(mailguard.stderr_lines)
    with RawClient(mailguard.port) as c:
        greeted(c)
        c.send(b"MAIL FROM:<a\x00@outside.example>\r\n" * 200)
        replies = [c.reply() for _ in range(200)]
        assert all(r.startswith(b"501 5.5.2") for r in replies)
    assert len(mailguard.stderr_lines) - before < 10


# --- 4. one client cannot lock others out -------------------------------------------------------

def test_per_client_connection_limits(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, server={"max_connections_per_ip": 2, "max_connections_per_net": 4,
                                               "client_limit_exceptions": []})
    held: list[RawClient] = []
    try:
        def connect(source: str) -> bytes:
            c = RawClient(mg.port, source)
            held.append(c)
            return c.reply()

        assert connect("127.0.0.5").startswith(b"220")
        assert connect("127.0.0.5").startswith(b"220")
        assert connect("127.0.0.5").startswith(b"421 4.7.0")   # a third from one address
        assert connect("127.0.0.6").startswith(b"220")         # another address still gets in
        assert connect("127.0.0.7").startswith(b"220")
        assert connect("127.0.0.8").startswith(b"421 4.7.0")   # a fifth from one /24
        assert connect("127.0.1.9").startswith(b"220")         # another /24
    finally:
        for c in held:
            c.close()


def test_a_closed_session_frees_its_slot_before_the_client_reconnects(postfix, start_mailguard):
    """Clients that reconnect the moment they hear 221 never find their old slot still taken."""
    import threading

    clients, rounds = 10, 30
    mg = start_mailguard(postfix.port, server={"max_connections": clients})
    greetings: list[bytes] = []

    def one() -> None:
        for _ in range(rounds):
            with RawClient(mg.port) as c:
                greeting = c.reply()
                greetings.append(greeting[:3])
                if greeting.startswith(b"220"):
                    c.command(b"EHLO client.outside.example")
                    c.send(b"QUIT\r\n")  # and gone, without waiting for the 221 (as smtp-source)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(greetings) == clients * rounds
    assert set(greetings) == {b"220"}


# --- 5. junk commands are limited -------------------------------------------------------------

def test_junk_commands_end_the_session(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, server={"junk_command_limit": 10})
    with RawClient(mg.port) as c:
        greeted(c)
        for cmd in [b"NOOP", b"RSET", b"VRFY user", b"HELP", b"NOOP"] * 2:
            assert c.command(cmd)[:1] in (b"2", b"5")
        assert c.command(b"NOOP").startswith(b"421 4.7.0")
        assert c.rest() == []  # closed


def test_junk_count_starts_again_after_a_message(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, server={"junk_command_limit": 3})
    tag = uuid.uuid4().hex
    with RawClient(mg.port) as c:
        greeted(c)
        for _ in range(2):
            for _ in range(3):
                assert c.command(b"NOOP").startswith(b"250")
            assert c.command(b"MAIL FROM:<a@outside.example>").startswith(b"250")
            assert c.command(f"RCPT TO:<user@{TEST_DOMAIN}>".encode()).startswith(b"250")
            assert c.command(b"DATA").startswith(b"354")
            c.send(message(tag) + b".\r\n")
            assert c.reply().startswith(b"250")
        assert c.command(b"QUIT").startswith(b"221")


# --- 6. memory: a budget of bytes in flight ----------------------------------------------------

def test_bytes_in_flight_budget_defers_new_data(postfix, start_sink, start_mailguard):
    sink = start_sink("-w", "30")  # holds the first message: no answer to its DATA for 30 s
    mg = start_mailguard(sink.port, server={"max_bytes_in_flight": 1_000_000, "log_level": "debug"})
    held = RawClient(mg.port)
    try:
        greeted(held)
        start_data(held)
        held.send(message("held") + (b"y" * 998 + b"\r\n") * 700 + b".\r\n")  # 700 kB held
        wait_for(lambda: any("DATA read" in line for line in mg.stderr_lines), 30, what="the DATA read")
        with RawClient(mg.port) as c:
            greeted(c)
            # Declared too big for what is left: deferred at MAIL.
            assert c.command(b"MAIL FROM:<a@outside.example> SIZE=400000").startswith(b"452 4.3.1")
            # Undeclared: read to its end (nothing of it kept past the budget), then deferred.
            assert c.command(b"MAIL FROM:<a@outside.example>").startswith(b"250")
            assert c.command(f"RCPT TO:<user@{TEST_DOMAIN}>".encode()).startswith(b"250")
            assert c.command(b"DATA").startswith(b"354")
            c.send(message("second") + (b"z" * 998 + b"\r\n") * 400 + b".\r\n")
            assert c.reply().startswith(b"452 4.3.1")
            # A small one still fits.
            assert c.command(b"MAIL FROM:<a@outside.example> SIZE=1000").startswith(b"250")
            assert c.command(b"QUIT").startswith(b"221")
    finally:
        held.close()


# --- 7. the client never hears a 4xx for a message Postfix delivered ----------------------------

@pytest.fixture(scope="module")
def slow_postfix(tmp_path_factory):
    """A Postfix that takes 6 s to answer the final dot (smtpd_end_of_data_restrictions)."""
    pf = Postfix(tmp_path_factory.mktemp("slowpostfix"), free_port())
    pf.setup()
    with (pf.etc / "main.cf").open("a") as f:
        f.write("smtpd_end_of_data_restrictions = sleep 6\n")
    pf.start()
    yield pf
    pf.close()


def test_slow_downstream_answer_reaches_the_client_once(slow_postfix, start_mailguard):
    # A client idle timeout shorter than the downstream's pause: it must not run while we wait.
    mg = start_mailguard(slow_postfix.port, server={"command_timeout": 2.0})
    tag = uuid.uuid4().hex
    with RawClient(mg.port) as c:
        greeted(c)
        start_data(c)
        c.send(message(tag) + b".\r\n")
        assert c.reply().startswith(b"250")
        assert c.command(b"QUIT").startswith(b"221")
    slow_postfix.wait_delivered("user", lambda b: tag.encode() in b)
    assert len(delivered_with(slow_postfix, "user", tag)) == 1


# --- 13. a bounded load run ----------------------------------------------------------------------

def _rss_kb(pid: int) -> int:
    from pathlib import Path
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_load_200_concurrent_sessions_lose_nothing(postfix, start_mailguard, report_figure):
    """200 sessions at once, 5 messages each, through Postfix: every 250 is in the Maildir once,
    nothing else is there."""
    import smtplib
    import threading

    mg = start_mailguard(postfix.port, server={"max_connections": 250})
    assert mg.proc is not None
    rss_start = _rss_kb(mg.proc.pid)
    sessions, per_session = 200, 5
    run = uuid.uuid4().hex[:8]
    outcome: dict[str, int] = {}
    barrier = threading.Barrier(sessions)

    def one(n: int) -> None:
        tags = [f"{run}-{n}-{i}" for i in range(per_session)]
        try:
            with smtplib.SMTP("127.0.0.1", mg.port, timeout=120) as s:
                s.ehlo("load.outside.example")
                barrier.wait(60)
                for tag in tags:
                    try:
                        s.sendmail("a@outside.example", [f"other@{TEST_DOMAIN}"], message(tag))
                        outcome[tag] = 250
                    except smtplib.SMTPResponseException as exc:
                        outcome[tag] = exc.smtp_code
        except (OSError, smtplib.SMTPException, threading.BrokenBarrierError):
            for tag in tags:
                outcome.setdefault(tag, -1)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    accepted = {t for t, code in outcome.items() if code == 250}

    def delivered() -> dict[str, int]:
        counts: dict[str, int] = {}
        for path in postfix.delivered("other"):
            data = path.read_bytes()
            if run.encode() in data:
                tag = data.split(b"Subject: test ", 1)[1].split(b"\n", 1)[0].strip().decode()
                counts[tag] = counts.get(tag, 0) + 1
        return counts

    wait_for(lambda: accepted <= set(delivered()), 120, what="every accepted message delivered")
    counts = delivered()
    rss_end = _rss_kb(mg.proc.pid)
    report_figure(f"load: {sessions} sessions x {per_session} messages through Postfix: "
                  f"{len(accepted)} accepted (250), {len(outcome) - len(accepted)} not, "
                  f"{sum(counts.values())} delivered, 0 lost, 0 doubled; mailguard RSS "
                  f"{rss_start / 1024:.0f} MB at start, {rss_end / 1024:.0f} MB at the end")
    assert set(counts) == accepted and all(n == 1 for n in counts.values())
    assert len(outcome) == sessions * per_session
    assert len(accepted) == sessions * per_session  # nothing refused under this load either
