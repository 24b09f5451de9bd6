"""Rules and per-domain policies in the running proxy: recipients of two policy groups are
never mixed (452 4.5.3), the group's thresholds and lists decide, and a broken rule file on
SIGHUP keeps the last good rules running."""
from __future__ import annotations

import signal
import smtplib
import uuid

from realservers import TEST_DOMAIN, Mailguard, config_for, wait_for
from rulestools import SPAMTRAP_RULE

RULES = '''[[rule]]
name = "POLICY_MARK"
kind = "body"
pattern = '(?i)\\b{w}policy-mark\\b{w}'
score = 2.0
description = "the test's marker"

''' + SPAMTRAP_RULE


def _start(tmp_path, downstream_port: int, dns_address: str) -> Mailguard:
    site = tmp_path / "rules.d"
    site.mkdir()
    (site / "test.toml").write_text(RULES)
    (tmp_path / "shopblock.txt").write_text("sender.example\n")
    text = config_for(downstream_port, dns={"servers": [dns_address]}, rules={"site_dir": str(site)},
                      auth={"enabled": False}, dnsbl={"enabled": False})
    text += f'''
[[lists.file]]
name = "shopblock"
path = "{tmp_path / 'shopblock.txt'}"
use = "rules"
score = 0.5

[[policy.group]]
name = "hosted"
domains = ["{TEST_DOMAIN}"]
add_header = 1.0
block_lists = ["shopblock"]
'''
    return Mailguard(tmp_path / "mg", text).start()


def test_policy_groups_are_not_mixed_and_decide_the_verdict(tmp_path, postfix, session_dns):
    mg = _start(tmp_path, postfix.port, session_dns.address)
    try:
        tag = uuid.uuid4().hex
        with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
            s.ehlo("client.outside.example")
            s.mail("a@sender.example")
            assert s.rcpt(f"user@{TEST_DOMAIN}")[0] == 250
            code, text = s.rcpt("someone@elsewhere.example")  # another group: its own transaction
            assert code == 452 and text.startswith(b"4.5.3"), text
            assert s.rcpt(f"other@{TEST_DOMAIN}")[0] == 250  # same group: fine
            code, _ = s.data(f"Subject: {tag}\r\n\r\nplease see the policy-mark here\r\n".encode())
            assert code == 250
        data = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
        # score 2.0 + 0.5 is spam for this group (add_header = 1.0), not under [actions] (5.0)
        assert b"X-Spam-Flag: YES" in data
        assert b"POLICY_MARK(2.00)" in data and b"LIST_SHOPBLOCK(0.50)" in data, data.decode()

        # A broken edit and SIGHUP: refused, logged, the last good rules keep running.
        (tmp_path / "rules.d" / "test.toml").write_text(RULES.replace("\\b{w}policy", "(?=x)policy"))
        mg.signal(signal.SIGHUP)
        wait_for(lambda: "rules reload refused" in mg.log(), 20, what="reload refused in the log")
        assert "test.toml:4: POLICY_MARK: lookahead (?=...) is not supported" in mg.log()
        tag = uuid.uuid4().hex
        with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
            s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"],
                       f"Subject: {tag}\r\n\r\npolicy-mark again\r\n".encode())
        data = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
        assert b"POLICY_MARK(2.00)" in data
    finally:
        mg.stop()


def test_first_recipient_fixes_the_group(tmp_path, start_sink, session_dns):
    sink = start_sink()
    mg = _start(tmp_path, sink.port, session_dns.address)
    try:
        with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
            s.ehlo("client.outside.example")
            s.mail("a@outside.example")
            assert s.rcpt("one@elsewhere.example")[0] == 250  # no group: [actions]
            assert s.rcpt("two@another.example")[0] == 250
            code, text = s.rcpt(f"user@{TEST_DOMAIN}")
            assert code == 452 and b"separate transaction" in text
            assert s.data(b"Subject: x\r\n\r\nhello\r\n")[0] == 250
            s.mail("a@outside.example")  # the refused recipient, in a new transaction
            assert s.rcpt(f"user@{TEST_DOMAIN}")[0] == 250
            assert s.data(b"Subject: x\r\n\r\nhello\r\n")[0] == 250
    finally:
        mg.stop()


def test_envelope_rule_forcing_reject_refuses_that_recipient_at_rcpt(tmp_path, start_sink, session_dns):
    sink = start_sink()
    mg = _start(tmp_path, sink.port, session_dns.address)
    try:
        with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
            s.ehlo("client.outside.example")
            s.mail("a@outside.example")
            code, text = s.rcpt("trap@elsewhere.example")
            assert code == 550 and text.startswith(b"5.7.1 Recipient refused by policy (id "), text
            assert s.rcpt("one@elsewhere.example")[0] == 250  # the others are not concerned
            assert s.data(b"Subject: x\r\n\r\nhello\r\n")[0] == 250
    finally:
        mg.stop()


def test_a_reload_whose_rules_are_refused_does_not_say_the_configuration_was_reloaded(tmp_path, start_sink,
                                                                                      start_mailguard):
    site = tmp_path / "rules.d"
    site.mkdir()
    (site / "test.toml").write_text(RULES)
    mg = start_mailguard(start_sink().port, rules={"site_dir": str(site)})
    (site / "test.toml").write_text(RULES.replace("\\b{w}policy", "(?=x)policy"))
    mg.signal(signal.SIGHUP)
    wait_for(lambda: "but not its rule files" in mg.log(), 20, what="the reload's outcome in the log")
    assert "rules reload refused, keeping the last good rules" in mg.log()
    assert "test.toml:4: POLICY_MARK: lookahead (?=...) is not supported" in mg.log()
    assert "configuration reloaded" not in mg.log()
    (site / "test.toml").write_text(RULES)  # mended: the next reload is a reload
    mg.signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded from" in mg.log(), 20, what="the reload in the log")
