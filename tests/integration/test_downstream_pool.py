"""Downstream connections reused across client sessions, against a real Postfix: every message
delivered once, each with its own client's attributes, the pool bounded, and a pooled connection
that Postfix closed meanwhile replaced without losing or doubling the next message."""
from __future__ import annotations

import re
import smtplib
import threading
import uuid

import pytest

from realservers import TEST_DOMAIN, Postfix, free_port, wait_for


@pytest.fixture
def own_postfix(tmp_path):
    """start(extra main.cf lines) → a Postfix of this test alone, so its log counts only our
    connections."""
    started: list[Postfix] = []

    def start(extra_main: str = "") -> Postfix:
        pf = Postfix(tmp_path / f"postfix{len(started)}", free_port(), extra_main=extra_main)
        started.append(pf)
        pf.setup()
        pf.start()
        return pf

    yield start
    for pf in started:
        pf.close()


def message(tag: str) -> bytes:
    return (f"From: a@outside.example\r\nTo: user@{TEST_DOMAIN}\r\nSubject: pool {tag}\r\n"
            f"Message-ID: <{tag}@outside.example>\r\n\r\nbody {tag}\r\n").encode()


def send(port: int, tag: str, source: str = "127.0.0.1") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60, source_address=(source, 0)) as s:
        s.ehlo(f"client-{tag[:8]}.outside.example")
        s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"], message(tag))


def smtpd_sessions(pf: Postfix) -> tuple[int, int]:
    """(connections opened, connections ended) as Postfix's smtpd logged them, leaving out the
    probes of the test's start-up (connected and closed without a word)."""
    log = pf.log()
    probes = len(re.findall(r"lost connection after CONNECT ", log))
    return (len(re.findall(r"smtpd\[\d+\]: connect from ", log)) - probes,
            len(re.findall(r"smtpd\[\d+\]: disconnect from ", log)) - probes)


def copies(pf: Postfix, tag: str) -> list[bytes]:
    return [b for p in pf.delivered("user") if f"<{tag}@outside.example>".encode() in (b := p.read_bytes())]


def postfix_received(mail: bytes) -> str:
    """Postfix's own Received field: the first of the message (it prepends it to ours)."""
    first = re.search(rb"^Received: (.*?)\r?\n(?![ \t])", mail, re.S | re.M)
    assert first and b"(Postfix)" in first.group(1), mail[:300]
    return first.group(1).decode()


def test_clients_of_different_addresses_share_a_connection_each_with_its_own_address(own_postfix, start_mailguard):
    pf = own_postfix()
    mg = start_mailguard(pf.port, relay={"pool_idle_timeout": 60.0})
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    send(mg.port, first, source="127.0.0.2")
    send(mg.port, second, source="127.0.0.3")
    wait_for(lambda: copies(pf, first) and copies(pf, second), 30, what="both deliveries")
    # One downstream connection carried both sessions, and XCLIENT gave Postfix each real client.
    assert smtpd_sessions(pf)[0] == 1, pf.log()
    assert "[127.0.0.2])" in postfix_received(copies(pf, first)[0])
    assert "[127.0.0.3])" in postfix_received(copies(pf, second)[0])
    assert f"client-{first[:8]}.outside.example" in postfix_received(copies(pf, first)[0])
    assert f"client-{second[:8]}.outside.example" in postfix_received(copies(pf, second)[0])
    assert re.search(r"client=unknown\[127\.0\.0\.2\]", pf.log()) and re.search(r"client=unknown\[127\.0\.0\.3\]", pf.log())


def test_many_sessions_at_once_each_message_delivered_once(own_postfix, start_mailguard):
    pf = own_postfix()
    mg = start_mailguard(pf.port, relay={"pool_idle_timeout": 60.0, "pool_size": 4})
    tags = [uuid.uuid4().hex for _ in range(40)]
    errors: list[BaseException] = []

    def worker(mine: list[str]) -> None:
        try:
            for tag in mine:
                send(mg.port, tag)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(tags[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    wait_for(lambda: all(copies(pf, t) for t in tags), 60, what="40 deliveries")
    assert all(len(copies(pf, t)) == 1 for t in tags)
    assert len(pf.delivered("user")) == 40
    # 40 client sessions, at most 8 at once: far fewer downstream connections than sessions.
    assert smtpd_sessions(pf)[0] <= 12, pf.log()


def test_the_pool_keeps_at_most_pool_size_idle_connections(own_postfix, start_mailguard):
    pf = own_postfix()
    mg = start_mailguard(pf.port, relay={"pool_idle_timeout": 60.0, "pool_size": 2})
    # Four sessions with a transaction open at once: four downstream connections.
    clients = []
    for _ in range(4):
        s = smtplib.SMTP("127.0.0.1", mg.port, timeout=60)
        s.ehlo("client.outside.example")
        assert s.mail("a@outside.example")[0] == 250
        assert s.rcpt(f"user@{TEST_DOMAIN}")[0] == 250
        clients.append(s)
    tags = [uuid.uuid4().hex for _ in clients]
    for s, tag in zip(clients, tags):
        assert s.data(message(tag))[0] == 250
        s.quit()
    # Two are kept, the other two ended at once.
    wait_for(lambda: smtpd_sessions(pf) == (4, 2), 30, what="two downstream connections ended")
    later = [uuid.uuid4().hex for _ in range(3)]
    for tag in later:
        send(mg.port, tag)
    wait_for(lambda: all(copies(pf, t) for t in tags + later), 30, what="seven deliveries")
    assert smtpd_sessions(pf) == (4, 2), pf.log()  # the later sessions reused the kept ones
    mg.stop()
    wait_for(lambda: smtpd_sessions(pf) == (4, 4), 30, what="the kept connections ended at shutdown")
    assert not re.search(r"lost connection after (?!CONNECT )", pf.log())  # ended with QUIT, not dropped


def test_a_kept_connection_postfix_timed_out_is_replaced_before_the_next_message(own_postfix, start_mailguard):
    # Postfix's smtpd_timeout shorter than our idle time: Postfix ends the kept connection
    # (421, close) while it is idle in the pool.
    pf = own_postfix("smtpd_timeout = 2s\n")
    mg = start_mailguard(pf.port, relay={"pool_idle_timeout": 60.0})
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    send(mg.port, first)
    wait_for(lambda: "timeout after END-OF-MESSAGE" in pf.log(), 30, what="Postfix timing out the kept connection")
    send(mg.port, second)  # smtplib raises on anything but 250
    wait_for(lambda: copies(pf, second), 30, what="the second delivery")
    assert len(copies(pf, first)) == 1 and len(copies(pf, second)) == 1
    assert smtpd_sessions(pf)[0] == 2


def test_a_kept_connection_of_a_restarted_postfix_is_replaced(own_postfix, start_mailguard):
    pf = own_postfix()
    mg = start_mailguard(pf.port, relay={"pool_idle_timeout": 60.0})
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    send(mg.port, first)
    wait_for(lambda: copies(pf, first), 30, what="the first delivery")
    pf.stop()
    pf.start()
    send(mg.port, second)
    wait_for(lambda: copies(pf, second), 30, what="the second delivery")
    assert len(copies(pf, first)) == 1 and len(copies(pf, second)) == 1
    assert "downstream" not in "\n".join(line for line in mg.log().splitlines() if "WARNING" in line or "ERROR" in line)


def test_behind_postfix_two_clients_through_one_kept_connection_each_forwarded_with_its_own_address(
        tmp_path, start_mailguard):
    import subprocess

    from realservers import wait_port

    before, filter_port = free_port(), free_port()
    pf = Postfix(tmp_path / "pf", free_port(),
                 extra_master=f"127.0.0.1:{before} inet n - n - - smtpd\n"
                              f"  -o smtpd_proxy_filter=127.0.0.1:{filter_port}\n"
                              f"  -o syslog_name=postfix/before\n")
    pf.setup()
    pf.start()
    try:
        start_mailguard(pf.port, relay={"mode": "behind", "pool_idle_timeout": 60.0},
                        server={"listen": f"127.0.0.1:{filter_port}", "trusted_networks": ["127.0.0.0/8"]})
        wait_port(before)
        tags = {"127.0.0.2": uuid.uuid4().hex, "127.0.0.3": uuid.uuid4().hex}
        for source, tag in tags.items():
            res = subprocess.run(["swaks", "--server", f"127.0.0.1:{before}", "--local-interface", source,
                                  "--to", f"user@{TEST_DOMAIN}", "--from", "alice@outside.example",
                                  "--helo", f"helo-{tag}.example", "--header", f"Subject: behind {tag}"],
                                 capture_output=True, text=True, timeout=60)
            assert res.returncode == 0, res.stdout + res.stderr
        for source, tag in tags.items():
            data = pf.wait_delivered("user", lambda b, t=tag: t.encode() in b).read_bytes()
            # The after-filter smtpd's Received header: XFORWARD gave it this transaction's client.
            assert re.search(rf"Received: from helo-{tag}\.example \([^)]*\[{re.escape(source)}\]\)".encode(), data), data[:400]
        after_filter_connects = len(re.findall(r"postfix/smtpd\[\d+\]: connect from ", pf.log()))
        assert after_filter_connects - len(re.findall(r"postfix/smtpd\[\d+\]: lost connection after CONNECT ", pf.log())) == 1, pf.log()
    finally:
        pf.close()
