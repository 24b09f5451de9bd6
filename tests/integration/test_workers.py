"""`serve --workers 2` before a real Postfix: every message delivered once, both workers serving,
SIGHUP reaching each, SIGTERM losing nothing, and a worker killed during a burst (issue 19)."""
from __future__ import annotations

import re
import signal
import smtplib
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

from metricstools import scrape
from rawsmtp import RawClient
from realservers import TEST_DOMAIN, Mailguard, config_for, free_port, milter_postfix, wait_for

WORKER = re.compile(r" worker=(\d+): ")


def message(tag: str) -> bytes:
    return (f"From: a@outside.example\r\nTo: user@{TEST_DOMAIN}\r\nSubject: workers {tag}\r\n"
            f"Message-ID: <{tag}@outside.example>\r\n\r\nbody {tag}\r\n").encode()


def send(port: int, tag: str) -> str:
    """What the client saw: "250", "4xx" (with the code), "dropped"; a 5xx fails the test."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.ehlo("client.outside.example")
            s.sendmail(f"{tag}@outside.example", [f"user@{TEST_DOMAIN}"], message(tag))
        return "250"
    except smtplib.SMTPResponseException as exc:
        assert 400 <= exc.smtp_code < 500, f"{tag}: {exc.smtp_code} {exc.smtp_error!r}"
        return str(exc.smtp_code)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        assert all(400 <= c < 500 for c in codes), f"{tag}: {exc.recipients}"
        return str(codes[0])
    except (smtplib.SMTPServerDisconnected, ConnectionError):
        return "dropped"


def burst(port: int, tags: list[str], clients: int = 8) -> dict[str, str]:
    with ThreadPoolExecutor(clients) as pool:
        return dict(zip(tags, pool.map(lambda t: send(port, t), tags)))


def copies(postfix, tags: list[str]) -> dict[str, int]:
    """How many times each tag's message is in the Maildir."""
    counts = dict.fromkeys(tags, 0)
    wanted = {f"Message-ID: <{t}@outside.example>".encode(): t for t in tags}
    for path in postfix.delivered("user"):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        for marker, tag in wanted.items():
            if marker in data:
                counts[tag] += 1
    return counts


def trail_workers(mg, tags: list[str]) -> dict[str, int]:
    """The worker whose log trail line says it accepted each tag's message."""
    seen = {}
    for line in mg.stderr_lines:
        if " accepted at data:" in line and (m := WORKER.search(line)):
            for tag in tags:
                if f"from=<{tag}@outside.example>" in line:
                    seen[tag] = int(m.group(1))
    return seen


def worker_pid(mg, worker: int) -> int:
    """The pid of the running `worker` as the supervisor logged its start (the latest)."""
    pids = [int(m.group(1)) for line in mg.stderr_lines
            if (m := re.search(rf"worker {worker} started \(pid (\d+)\)", line))]
    return pids[-1]


def test_two_workers_deliver_every_message_once_and_both_take_connections(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, args=["--workers", "2"])
    assert sum(1 for line in mg.stderr_lines if line.startswith("listening on ")) == 1
    tags = [f"w{uuid.uuid4().hex}" for _ in range(40)]
    results = burst(mg.port, tags)
    assert set(results.values()) == {"250"}, results
    wait_for(lambda: all(copies(postfix, tags).values()), 60, what="all 40 messages delivered")
    assert set(copies(postfix, tags).values()) == {1}
    by_worker = wait_for(lambda: len(w := trail_workers(mg, tags)) == len(tags) and w, 10,
                         what="a trail line for every message")
    assert set(by_worker.values()) == {0, 1}
    # Both workers wrote history into the one store at once: every message is in it.
    history = mg.cli("history", "--json", "--limit", "1000")
    assert history.returncode == 0, history.stderr
    assert all(history.stdout.count(f"{tag}@outside.example") >= 1 for tag in tags)


def test_sighup_reaches_every_worker(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, args=["--workers", "2"])
    text = mg.config_path.read_text()
    mg.config_path.write_text(text + "\n[actions]\nadd_header = -100.0\n")  # every message is spam now
    mg.signal(signal.SIGHUP)
    wait_for(lambda: {int(m.group(1)) for line in mg.stderr_lines if "configuration reloaded" in line
                      and (m := WORKER.search(line))} == {0, 1}, 30, what="both workers reloaded")
    tags: list[str] = []
    for _ in range(40):  # until each worker has taken one (sequential connections go to either)
        tags.append(f"h{uuid.uuid4().hex}")
        assert send(mg.port, tags[-1]) == "250"
        if set(trail_workers(mg, tags).values()) == {0, 1}:
            break
    assert set(trail_workers(mg, tags).values()) == {0, 1}
    actions = [line for line in mg.stderr_lines if " accepted at data:" in line and any(t in line for t in tags)]
    assert actions and all("action=add_header" in line for line in actions)


def test_sigterm_during_a_burst_exits_0_and_every_250_is_delivered(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, args=["--workers", "2"])
    tags = [f"t{uuid.uuid4().hex}" for _ in range(40)]
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(burst, mg.port, tags)
        wait_for(lambda: len(trail_workers(mg, tags)) >= 5, 60, what="the burst under way")
        mg.signal(signal.SIGTERM)
        assert mg.proc.wait(60) == 0
        results = running.result(120)
    accepted = [t for t, r in results.items() if r == "250"]
    assert len(accepted) >= 5
    wait_for(lambda: all(copies(postfix, accepted).values()), 60, what="every 250 delivered")
    got = copies(postfix, tags)
    assert all(got[t] == 1 for t in accepted)
    assert all(n <= 1 for n in got.values())
    assert "all workers stopped" in mg.log()


def test_a_worker_killed_during_a_burst_loses_and_doubles_nothing_and_is_restarted(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, args=["--workers", "2"])
    victim = worker_pid(mg, 1)
    tags = [f"k{uuid.uuid4().hex}" for _ in range(100)]
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(burst, mg.port, tags, 10)
        wait_for(lambda: len(trail_workers(mg, tags)) >= 15, 60, what="the burst under way")
        subprocess.run(["kill", "-9", str(victim)], check=True)
        results = running.result(300)
    assert set(results.values()) <= {"250", "dropped"} | {str(c) for c in range(400, 500)}, results
    accepted = [t for t, r in results.items() if r == "250"]
    assert len(accepted) >= 15
    wait_for(lambda: all(copies(postfix, accepted).values()), 60, what="every 250 delivered")
    got = copies(postfix, tags)
    assert all(got[t] == 1 for t in accepted)
    assert all(n <= 1 for n in got.values())  # a dropped client may retry: nothing was doubled for it
    assert f"worker 1 (pid {victim}) killed by signal SIGKILL; restarting it" in mg.log()
    restarted = wait_for(lambda: (p := worker_pid(mg, 1)) != victim and p, 30, what="worker 1 restarted")
    wait_for(lambda: f"worker 1 ready (pid {restarted})" in mg.log(), 30, what="the restarted worker ready")
    assert send(mg.port, f"k{uuid.uuid4().hex}") == "250"


def test_the_per_client_connection_limit_counts_the_connections_of_every_worker(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, args=["--workers", "2"],
                         server={"client_limit_exceptions": [], "max_connections_per_ip": 3})
    clients = []
    try:
        for _ in range(8):  # each held open; either worker may take it
            clients.append(RawClient(mg.port, source="127.0.0.2"))
            clients[-1].greeting = clients[-1].reply()
        greetings = [c.greeting[:3] for c in clients]
        assert greetings.count(b"220") == 3, greetings
        assert greetings.count(b"421") == 5
        assert all(b"too many connections from your address" in c.greeting for c in clients if c.greeting[:3] == b"421")
    finally:
        for c in clients:
            c.close()


def test_metrics_add_up_the_workers_and_keep_a_dead_workers_counts(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, args=["--workers", "2"], metrics={"listen": "127.0.0.1:0"})
    assert sum(1 for line in mg.stderr_lines if line.startswith("metrics listening on ")) == 1
    tags = [f"m{uuid.uuid4().hex}" for _ in range(20)]
    assert set(burst(mg.port, tags, 4).values()) == {"250"}
    taken_by = set(wait_for(lambda: len(w := trail_workers(mg, tags)) == len(tags) and w, 10,
                            what="a trail line for every message").values())
    assert scrape(mg.metrics_port).total("mailguard_messages_total", frontend="smtp") == 20
    victim = worker_pid(mg, 1)
    subprocess.run(["kill", "-9", str(victim)], check=True)
    restarted = wait_for(lambda: (p := worker_pid(mg, 1)) != victim and p, 30, what="worker 1 restarted")
    wait_for(lambda: f"worker 1 ready (pid {restarted})" in mg.log(), 30, what="the restarted worker ready")
    after = scrape(mg.metrics_port)
    assert after.total("mailguard_messages_total", frontend="smtp") == 20  # what the dead worker counted stays
    assert after.get("mailguard_connections_open", frontend="smtp") == 0
    assert taken_by == {0, 1}


def test_two_workers_on_the_milter_port_scan_every_message_once(tmp_path, session_dns):
    milter_port, plain_port = free_port(), free_port()
    postfix = milter_postfix(tmp_path / "postfix", milter_port, plain_port)
    mg = Mailguard(tmp_path / "mg", config_for(plain_port, server={"listen": ""}, dns={"servers": [session_dns.address]},
                                               milter={"listen": f"127.0.0.1:{milter_port}"}), ["--workers", "2"])
    mg.start()
    try:
        postfix.setup()
        postfix.start()
        assert sum(1 for line in mg.stderr_lines if line.startswith("milter listening on ")) == 1
        tags = [f"r{uuid.uuid4().hex}" for _ in range(30)]
        assert set(burst(postfix.port, tags, 6).values()) == {"250"}
        wait_for(lambda: all(copies(postfix, tags).values()), 60, what="all 30 messages delivered")
        assert set(copies(postfix, tags).values()) == {1}
        for path in postfix.delivered("user"):
            assert b"X-Spam-Status: No, score=" in path.read_bytes().split(b"\n\n", 1)[0]
        assert set(wait_for(lambda: len(w := trail_workers(mg, tags)) == len(tags) and w, 10,
                            what="a trail line for every message").values()) == {0, 1}
    finally:
        postfix.close()
        assert mg.stop() == 0
