"""Sender authentication end to end: a real SMTP client, mailguard, a real unbound serving SPF,
DKIM and DMARC records, and the message as real Postfix delivered it."""
from __future__ import annotations

import re
import smtplib
import time
import uuid

import pytest

from dkimtools import DkimKey, message, rsa_key, sign
from realdns import txt
from realservers import TEST_DOMAIN

AUTHSERV = "mx.mailguard.test"


@pytest.fixture(scope="module")
def key() -> DkimKey:
    return rsa_key("outside.example", "mg")


@pytest.fixture
def auth_dns(start_dns, key):
    return start_dns([
        key.zone_line(),
        txt("outside.example.", "v=spf1 ip4:127.0.0.0/8 -all"),
        txt("_dmarc.outside.example.", "v=DMARC1; p=reject"),
        txt("bank.example.", "v=spf1 ip4:192.0.2.0/24 -all"),
        txt("_dmarc.bank.example.", "v=DMARC1; p=reject"),
    ])


def delivered_header_block(data: bytes) -> str:
    return data.split(b"\n\n", 1)[0].decode()


def test_authentication_results_in_the_delivered_message(postfix, start_mailguard, auth_dns, key):
    mg = start_mailguard(postfix.port, dns={"servers": [auth_dns.address]}, auth={"authserv_id": AUTHSERV})
    tag = uuid.uuid4().hex
    signed = sign(message(subject=tag, sender="alice@outside.example", to=f"user@{TEST_DOMAIN}"), key)
    forged = (f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=forged-{tag}.example\r\n"
              f"Authentication-Results: other.example; spf=pass smtp.mailfrom=kept-{tag}.example\r\n").encode()
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.sendmail("bounce@outside.example", [f"user@{TEST_DOMAIN}"], forged + signed)
    headers = delivered_header_block(postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes())
    ours = [block for block in headers.split("\nAuthentication-Results: ")[1:] if block.startswith(AUTHSERV)]
    assert len(ours) == 1, headers
    mine = " ".join(ours[0].split())
    assert "spf=pass smtp.mailfrom=bounce@outside.example" in mine
    assert "dkim=pass" in mine and "header.d=outside.example" in mine and "header.s=mg" in mine
    assert "dmarc=pass header.from=outside.example" in mine
    assert f"forged-{tag}" not in headers  # RFC 8601 §5: a header claiming our id is removed
    assert f"kept-{tag}" in headers  # someone else's stays


def test_a_dmarc_reject_failure_is_refused_at_data(postfix, start_mailguard, auth_dns):
    mg = start_mailguard(postfix.port, dns={"servers": [auth_dns.address]}, auth={"authserv_id": AUTHSERV})
    tag = uuid.uuid4().hex
    before = len(postfix.delivered("user"))
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.mail("alerts@bank.example")
        s.rcpt(f"user@{TEST_DOMAIN}")
        code, text = s.data(message(subject=tag, sender="alerts@bank.example", to=f"user@{TEST_DOMAIN}"))
    # The reason class is DMARC, not spam: the sender's admin knows what to fix.
    assert code == 550 and re.fullmatch(rb"5\.7\.1 Message rejected: DMARC policy of the sender's domain "
                                        rb"\(id [0-9A-F]{12}\)", text), (code, text)
    assert len(postfix.delivered("user")) == before


def test_a_dead_dns_server_does_not_stall_the_session(postfix, start_mailguard, silent_dns):
    mg = start_mailguard(postfix.port, dns={"servers": [silent_dns.address], "timeout": 0.5},
                         auth={"authserv_id": AUTHSERV, "budget_ms": 1000})
    tag = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.mail("alerts@bank.example")
        s.rcpt(f"user@{TEST_DOMAIN}")
        started = time.monotonic()
        code, _ = s.data(message(subject=tag, sender="alerts@bank.example", to=f"user@{TEST_DOMAIN}"))
        elapsed = time.monotonic() - started
    assert code == 250
    assert elapsed < 5.0  # a few times the 1 s budget
    headers = " ".join(delivered_header_block(
        postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()).split())
    assert "spf=temperror" in headers and "dmarc=temperror" in headers
