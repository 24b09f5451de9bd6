"""Spam reports by forwarding, end to end: users write to Postfix (as by submission or webmail),
Postfix's transport_maps bring the abuse addresses to mailguard (README, "Spam reports by
forwarding"), and mailguard records, learns, lists repeat sources, releases, refuses the
advertiser, acknowledges and reports onward in ARF — real Postfix, real `mailguard serve`."""
from __future__ import annotations

import email
import email.policy
import json
import smtplib
import subprocess
import uuid
from pathlib import Path

import pytest

import reportshapes as shapes
from adtools import ad
from realservers import TEST_DOMAIN, Mailguard, Postfix, config_for, free_port, milter_postfix, wait_for
from rulestools import QUARANTINE_RULE

USER, OTHER, ARF_BOX = f"user@{TEST_DOMAIN}", f"other@{TEST_DOMAIN}", f"big@{TEST_DOMAIN}"
ABUSE, NOTSPAM = f"abuse@{TEST_DOMAIN}", f"notspam@{TEST_DOMAIN}"


class Setup:
    def __init__(self, base: Path, dns_address: str) -> None:
        self.mg_port = free_port()
        to_mailguard = f"smtp:[127.0.0.1]:{self.mg_port}"
        # The abuse addresses exist for Postfix (a virtual alias to themselves) and are routed to
        # mailguard from every path: what README.md tells an admin to write, with inline: maps.
        self.postfix = Postfix(base / "postfix", free_port(), extra_main=(
            f"virtual_alias_maps = inline:{{{ABUSE}={ABUSE}, {NOTSPAM}={NOTSPAM}}}\n"
            f"transport_maps = inline:{{{ABUSE}={to_mailguard}, {NOTSPAM}={to_mailguard}}}\n"))
        site = base / "rules.d"
        site.mkdir(parents=True)
        (site / "test.toml").write_text(QUARANTINE_RULE)
        self.mailguard = Mailguard(base / "mg", config_for(
            self.postfix.port, server={"listen": f"127.0.0.1:{self.mg_port}"}, dns={"servers": [dns_address]},
            rules={"site_dir": str(site)},
            reports={"spam_addresses": [ABUSE], "ham_addresses": [NOTSPAM], "local_domains": [TEST_DOMAIN],
                     "block_after_reporters": 2, "forward_to": [ARF_BOX]}))

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return self.mailguard.cli(*args)

    def json_lines(self, *args: str) -> list[dict]:
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    def report(self, message: bytes, reporter: str = USER, to: str = ABUSE) -> None:
        """As a user's client does: to Postfix, which routes the abuse address to mailguard."""
        with smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=60) as s:
            s.sendmail(reporter, [to], message)

    def report_of(self, subject_part: str) -> dict:
        def found():
            return next((r for r in self.json_lines("reports", "list") if subject_part in r["subject"]), None)
        return wait_for(found, 60, what=f"a report about {subject_part!r}")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, session_dns):
    s = Setup(tmp_path_factory.mktemp("reports"), session_dns.address)
    s.postfix.setup()
    s.postfix.start()
    s.mailguard.start()
    yield s
    s.mailguard.stop()
    s.postfix.close()


def delivered_with(postfix: Postfix, user: str, needle: bytes) -> bytes:
    return postfix.wait_delivered(user, lambda b: needle in b, timeout=60).read_bytes()


SHAPES = {
    "thunderbird attached": shapes.thunderbird_attached,
    "outlook attached": shapes.outlook_attached,
    "gmail inline": shapes.gmail_inline,
    "outlook inline": shapes.outlook_inline,
    "apple inline": shapes.apple_inline,
    "vietnamese inline": shapes.vietnamese_inline,
    "arf": shapes.arf_report,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_forward_shape_is_recorded_and_the_reporter_acknowledged(setup, shape):
    tag = uuid.uuid4().hex[:10]
    original = shapes.spam_original(subject=f"You won {tag}", message_id=f"<{tag}@prize.example>")
    setup.report(SHAPES[shape](original, USER, ABUSE))
    record = setup.report_of(tag)
    assert record["reporter"] == USER and record["kind"] == "spam" and record["status"] == "received"
    assert record["sender"] == "win@prize.example"
    if shape in ("thunderbird attached", "outlook attached", "arf"):
        assert record["client_ip"] == shapes.SPAMMER_IP  # the first hop outside the provider
    ack = delivered_with(setup.postfix, "user", record["id"].encode())
    shown = setup.cli("reports", "show", record["id"])
    assert "learnt spam" in shown.stderr + shown.stdout
    parsed = email.message_from_bytes(ack, policy=email.policy.default)
    assert parsed["Auto-Submitted"] == "auto-replied" and tag in parsed.get_body(("plain",)).get_content()


def test_a_report_from_outside_the_site_is_refused_with_a_clear_reply(setup):
    tag = uuid.uuid4().hex[:10]
    message = shapes.thunderbird_attached(shapes.spam_original(subject=f"outsider {tag}"), "x@outside.example", ABUSE)
    with smtplib.SMTP("127.0.0.1", setup.mg_port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.mail("competitor@outside.example")
        assert s.rcpt(ABUSE)[0] == 250
        code, text = s.data(message)
    assert code == 550 and b"Report refused" in text
    assert not [r for r in setup.json_lines("reports", "list") if tag in r["subject"]]


def test_two_reporters_list_the_sender_and_its_next_message_is_refused(setup):
    tag = uuid.uuid4().hex[:10]
    spammer = f"win@spam-{tag}.example"
    for n, reporter in enumerate((USER, OTHER)):
        original = shapes.spam_original(sender=f"Prize <{spammer}>", subject=f"repeat {tag} {n}",
                                        message_id=f"<{tag}-{n}@spam.example>", client_ip=f"198.51.100.{n + 50}")
        setup.report(shapes.thunderbird_attached(original, reporter, ABUSE), reporter=reporter)
        setup.report_of(f"repeat {tag} {n}")
    wait_for(lambda: any(e["kind"] == "address" and e["value"] == spammer
                         for e in setup.json_lines("blocklist", "list")), 60, what="the sender on the block list")
    with smtplib.SMTP("127.0.0.1", setup.mg_port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.mail(spammer)
        s.rcpt(USER)
        code, text = s.data(f"From: {spammer}\r\nSubject: again {tag}\r\n\r\nhello\r\n".encode())
    assert code == 550 and text.startswith(b"5.7.1 Message rejected: sender or client on our block list (id "), text
    assert setup.cli("blocklist", "remove", f"address:{spammer}").returncode == 0
    assert not any(e["value"] == spammer for e in setup.json_lines("blocklist", "list"))


def test_notspam_releases_the_quarantined_original_to_the_reporter(setup):
    tag = uuid.uuid4().hex[:10]
    original = (f"From: colleague@partner.example\r\nTo: {USER}\r\nSubject: contract {tag}\r\n"
                f"Message-ID: <{tag}@partner.example>\r\n\r\nquarantine-me please, the contract {tag}\r\n").encode()
    with smtplib.SMTP("127.0.0.1", setup.mg_port, timeout=60) as s:
        s.sendmail("colleague@partner.example", [USER], original)
    held = wait_for(lambda: [q for q in setup.json_lines("quarantine", "list") if tag in q["subject"]], 30,
                    what="the message quarantined")
    assert len(held) == 1
    setup.report(shapes.thunderbird_attached(original, USER, NOTSPAM), to=NOTSPAM)
    record = setup.report_of(f"contract {tag}")
    assert record["kind"] == "ham"
    delivered_with(setup.postfix, "user", f"the contract {tag}".encode())
    wait_for(lambda: not [q for q in setup.json_lines("quarantine", "list") if tag in q["subject"]], 30,
             what="the quarantine entry gone")
    shown = setup.cli("reports", "show", record["id"])
    assert "released" in shown.stderr + shown.stdout
    assert "learnt ham" in shown.stderr + shown.stdout  # the learning moves to ham


def test_reporting_an_ad_refuses_its_advertiser_for_the_reporter(setup):
    tag = uuid.uuid4().hex[:10]
    advertiser = f"shop-{tag}.example"
    setup.report(shapes.thunderbird_attached(ad(advertiser=advertiser, tag=tag), USER, ABUSE))
    wait_for(lambda: any(r["advertiser"] == advertiser and r["recipient"] == USER and r["source"] == "report"
                         for r in setup.json_lines("ads", "refusals", "list")), 60, what="the refusal recorded")


def test_the_report_goes_onward_in_arf(setup):
    tag = uuid.uuid4().hex[:10]
    setup.report(shapes.thunderbird_attached(shapes.spam_original(subject=f"onward {tag}"), USER, ABUSE))
    raw = delivered_with(setup.postfix, "big", f"onward {tag}".encode())
    report = email.message_from_bytes(raw, policy=email.policy.default)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "feedback-report"
    parts = [p.get_content_type() for p in report.iter_parts()]
    assert parts[:3] == ["text/plain", "message/feedback-report", "message/rfc822"]
    feedback = list(report.iter_parts())[1]
    fields = feedback.get_payload()[0] if feedback.is_multipart() else email.message_from_bytes(
        feedback.get_payload(decode=True) or b"")
    assert fields["Feedback-Type"] == "abuse" and fields["Source-IP"] == shapes.SPAMMER_IP


def test_milter_mode_takes_a_report_and_postfix_delivers_nothing(tmp_path, session_dns):
    """Postfix is the SMTP server; the abuse address exists for it (a virtual alias to itself),
    the milter takes the report (stored, acknowledged) and Postfix discards the message."""
    milter_port, plain_port = free_port(), free_port()
    postfix = milter_postfix(tmp_path / "postfix", milter_port, plain_port,
                             f"virtual_alias_maps = inline:{{{ABUSE}={ABUSE}}}\n")
    mg = Mailguard(tmp_path / "mg", config_for(plain_port, server={"listen": ""},
                                               milter={"listen": f"127.0.0.1:{milter_port}"},
                                               dns={"servers": [session_dns.address]},
                                               reports={"spam_addresses": [ABUSE], "local_domains": [TEST_DOMAIN]}))
    mg.start()
    postfix.setup()
    postfix.start()
    try:
        tag = uuid.uuid4().hex[:10]
        message = shapes.gmail_inline(shapes.spam_original(subject=f"milter {tag}"), USER, ABUSE)
        with smtplib.SMTP("127.0.0.1", postfix.port, timeout=60) as s:
            s.ehlo("client.test.example")
            s.mail(USER)
            assert s.rcpt(ABUSE)[0] == 250
            assert s.data(message)[0] == 250
        def stored():
            rows = [json.loads(line) for line in mg.cli("reports", "list", "--json").stdout.splitlines()]
            return next((r for r in rows if tag in r["subject"]), None)

        record = wait_for(stored, 60, what="the report stored")
        assert record["sender"] == "win@prize.example" and record["reporter"] == USER
        delivered_with(postfix, "user", record["id"].encode())  # the acknowledgement, via the plain smtpd
        wait_for(lambda: "milter triggers DISCARD action" in postfix.log(), 30, what="Postfix discarding it")
    finally:
        postfix.close()
        mg.stop()
