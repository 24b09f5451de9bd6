"""`[metrics] listen`: what a mail admin's Prometheus scrapes from /metrics after a few messages
through the proxy (in front of a real Postfix) and through the milter (behind one)."""
from __future__ import annotations

import signal
import smtplib
import urllib.error
import urllib.request
import uuid

import pytest

from bayestools import saved_model
from metricstools import scrape
from realservers import CORPORA, TEST_DOMAIN, Mailguard, config_for, free_port, milter_postfix, wait_for
from rulestools import QUARANTINE_RULE

METRICS = {"listen": "127.0.0.1:0"}
USER = f"user@{TEST_DOMAIN}"


def message(tag: str, body: str = "a friendly note") -> bytes:
    return (f"From: a@outside.example\r\nTo: {USER}\r\nSubject: {tag}\r\nMessage-ID: <{tag}@outside.example>\r\n"
            f"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n{body} {tag}\r\n").encode()


def gtube() -> bytes:
    return (CORPORA / "samples" / "sample-spam.txt").read_bytes().replace(b"\n", b"\r\n")


def data_reply(s: smtplib.SMTP, raw: bytes, sender: str = "a@outside.example", rcpt: str = USER) -> int:
    assert s.mail(sender)[0] == 250
    assert s.rcpt(rcpt)[0] == 250
    return s.data(raw)[0]


def test_proxy_metrics_count_messages_refusals_checks_and_read_the_quarantine_and_model(
        postfix, start_mailguard, tmp_path):
    state = tmp_path / "mailguard0" / "state"
    state.mkdir(parents=True)
    saved_model(state / "bayes.model", 3, 2)
    listed = tmp_path / "national.list"
    listed.write_text("spam-domain.test\n")
    site = tmp_path / "rules.d"
    site.mkdir()
    (site / "quarantine.toml").write_text(QUARANTINE_RULE)
    mg = start_mailguard(postfix.port, metrics=METRICS, rules={"site_dir": str(site)},
                         bayes={"min_spam": 3, "min_ham": 2},
                         lists={"file": [{"name": "national", "path": str(listed), "use": "block", "reject": True}]},
                         server={"client_limit_exceptions": [], "max_connections_per_ip": 1})
    assert f"metrics listening on 127.0.0.1:{mg.metrics_port}" in mg.log()
    start = scrape(mg.metrics_port)
    assert start.get("mailguard_messages_total", action="reject", frontend="smtp") == 0
    assert start.get("mailguard_quarantine_messages") == 0

    tag = uuid.uuid4().hex
    held = message(f"held {tag}", "please quarantine-me")
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        assert scrape(mg.metrics_port).get("mailguard_connections_open", frontend="smtp") == 1
        with pytest.raises(smtplib.SMTPConnectError):  # max_connections_per_ip = 1
            smtplib.SMTP("127.0.0.1", mg.port, timeout=60)
        assert data_reply(s, message(f"ham {tag}")) == 250
        assert data_reply(s, gtube()) == 550
        assert data_reply(s, held) == 250
        assert s.mail("promo@mail.spam-domain.test")[0] == 250
        assert s.rcpt(USER)[0] == 550  # the block list, at RCPT
        s.rset()
        assert s.mail("a@outside.example")[0] == 250
        assert s.rcpt(f"nobody-here@{TEST_DOMAIN}")[0] == 550  # Postfix: unknown user
        s.rset()
    postfix.wait_delivered("user", lambda b: f"ham {tag}".encode() in b)

    m = scrape(mg.metrics_port)
    assert m.get("mailguard_messages_total", action="accept", frontend="smtp") == 1
    assert m.get("mailguard_messages_total", action="reject", frontend="smtp") == 1
    assert m.get("mailguard_messages_total", action="quarantine", frontend="smtp") == 1
    assert m.total("mailguard_messages_total", frontend="milter") == 0
    assert m.get("mailguard_symbols_total", symbol="GTUBE") == 1
    assert m.get("mailguard_symbols_total", symbol="QUARANTINE_MARK") == 1
    assert m.get("mailguard_symbols_total", symbol="LIST_NATIONAL") == 1
    assert m.get("mailguard_rcpt_refused_total", reason="policy") == 1
    assert m.get("mailguard_rcpt_refused_total", reason="downstream") == 1
    assert m.get("mailguard_connections_refused_total", limit="per_ip", frontend="smtp") == 1
    assert m.get("mailguard_scan_seconds_count") == 3
    assert m.get("mailguard_check_seconds_count", check="BAYES") == 3
    assert m.total("mailguard_check_errors_total") == 0 and m.total("mailguard_check_timeouts_total") == 0
    assert m.get("mailguard_downstream_seconds_count") == 1  # the one message relayed
    assert m.total("mailguard_downstream_errors_total") == 0
    assert m.get("mailguard_dns_queries_total") > 0
    assert m.get("mailguard_quarantine_messages") == 1
    assert m.get("mailguard_quarantine_bytes") == len(held)
    assert m.get("mailguard_bayes_model_loaded") == 1
    assert m.get("mailguard_bayes_learnt_messages", **{"class": "spam"}) == 3
    assert m.get("mailguard_bayes_learnt_messages", **{"class": "ham"}) == 2
    assert 0 <= m.get("mailguard_bayes_model_age_seconds") < 3600
    wait_for(lambda: scrape(mg.metrics_port).get("mailguard_connections_open", frontend="smtp") == 0, 10,
             what="the closed connections to be counted out")

    mg.signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in mg.log(), 30, what="the reload")
    mg.config_path.write_text(mg.config_text + "\n[no_such_section]\n")
    mg.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in mg.log(), 30, what="the refused reload")
    m = scrape(mg.metrics_port)
    assert m.get("mailguard_reloads_total", result="ok") == 1
    assert m.get("mailguard_reloads_total", result="failed") == 1


def test_a_downstream_that_cannot_be_reached_is_counted(start_mailguard):
    mg = start_mailguard(free_port(), metrics=METRICS, relay={"connect_timeout": 5.0})
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        code, text = s.mail("a@outside.example")
        assert code == 451, text
    m = scrape(mg.metrics_port)
    assert m.get("mailguard_downstream_errors_total", stage="mail") == 1
    assert m.get("mailguard_downstream_errors_total", stage="data") == 0


def test_a_downstream_lost_at_data_is_an_error_and_its_own_refusal_is_not(start_mailguard, start_sink):
    for option, errors in (("-q", 1), ("-r", 0)):  # smtp-sink hangs up at DATA / answers it 4xx
        mg = start_mailguard(start_sink(option, "data").port, metrics=METRICS)
        with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
            s.ehlo("client.outside.example")
            assert data_reply(s, message(uuid.uuid4().hex)) // 100 == 4
        m = scrape(mg.metrics_port)
        assert m.get("mailguard_downstream_errors_total", stage="data") == errors, option
        assert m.get("mailguard_downstream_seconds_count") == 1
        assert m.get("mailguard_messages_total", action="accept", frontend="smtp") == 1


def test_checks_that_fail_are_counted_by_check(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, metrics=METRICS, faults={"checks": ["raise", "hang"]},
                         server={"scan_timeout": 1.0})
    tag = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        assert data_reply(s, message(tag)) == 250  # a broken check costs no message
    m = scrape(mg.metrics_port)
    assert m.get("mailguard_check_errors_total", check="FAULT_RAISE") == 1
    assert m.get("mailguard_check_timeouts_total", check="FAULT_HANG") == 1
    assert m.get("mailguard_symbols_total", symbol="CHECK_ERROR_FAULT_RAISE") == 1
    assert m.get("mailguard_symbols_total", symbol="CHECK_TIMEOUT_FAULT_HANG") == 1
    assert m.get("mailguard_messages_total", action="accept", frontend="smtp") == 1


def test_only_metrics_paths_are_served(start_mailguard):
    mg = start_mailguard(free_port(), metrics=METRICS)
    assert "mailguard_messages_total" in scrape(mg.metrics_port, "/").names()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{mg.metrics_port}/admin", timeout=30)
    assert refused.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{mg.metrics_port}/metrics", data=b"x"),
                               timeout=30)
    assert refused.value.code == 405


def test_no_metrics_listener_unless_configured(start_mailguard):
    mg = start_mailguard(free_port())
    assert "metrics listening" not in mg.log()


def test_milter_metrics_count_messages_by_the_milter_front_end(tmp_path, session_dns):
    milter_port = free_port()
    postfix = milter_postfix(tmp_path / "postfix", milter_port)
    mg = Mailguard(tmp_path / "mg", config_for(free_port(), server={"listen": ""}, metrics=METRICS,
                                                milter={"listen": f"127.0.0.1:{milter_port}"},
                                                dns={"servers": [session_dns.address]}))
    mg.start()
    try:
        postfix.setup()
        postfix.start()
        tag = uuid.uuid4().hex
        with smtplib.SMTP("127.0.0.1", postfix.port, timeout=60) as s:
            s.ehlo("client.outside.example")
            assert data_reply(s, message(tag)) == 250
            assert data_reply(s, gtube(), rcpt=f"other@{TEST_DOMAIN}") == 550
        postfix.wait_delivered("user", lambda b: tag.encode() in b)
        m = scrape(mg.metrics_port)
        assert m.get("mailguard_messages_total", action="accept", frontend="milter") == 1
        assert m.get("mailguard_messages_total", action="reject", frontend="milter") == 1
        assert m.total("mailguard_messages_total", frontend="smtp") == 0
        assert m.get("mailguard_symbols_total", symbol="GTUBE") == 1
        assert m.get("mailguard_scan_seconds_count") == 2
        wait_for(lambda: scrape(mg.metrics_port).get("mailguard_connections_open", frontend="milter") == 0, 30,
                 what="Postfix's milter connections to be counted out")
    finally:
        postfix.close()
        mg.stop()
