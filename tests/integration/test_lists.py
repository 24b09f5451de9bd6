"""Local lists: the file format, reload on change, and their effect through the proxy."""
from __future__ import annotations

import logging
import os
import signal
import smtplib
import uuid

import pytest

from mailguard.lists.registry import ListError, LocalLists
from mailguard.lists.contents import parse
from mailguard.lists.spec import ListFile, ListsSettings
from realdns import txt
from realservers import TEST_DOMAIN, wait_for

LIST_TEXT = """\
# the national authority's list, imported nightly
192.0.2.7
198.51.100.0/24        # a whole provider range
2001:db8:bad::/48
spam-domain.test
*.wild.test
@at-form.test
Spammer@Sender.TEST    # addresses compare without case
xn--e1afmkfd.test
203.0.113.50   reported 2026-11-01 by the authority
!!!bogus!!!
user@
"""


def test_every_entry_form_matches_what_it_should():
    c = parse(LIST_TEXT)
    assert c.match_ip("192.0.2.7") == "192.0.2.7/32"
    assert c.match_ip("192.0.2.8") is None
    assert c.match_ip("198.51.100.200") == "198.51.100.0/24"
    assert c.match_ip("::ffff:198.51.100.9") == "198.51.100.0/24"  # IPv4-mapped IPv6
    assert c.match_ip("2001:db8:bad:1::5") == "2001:db8:bad::/48"
    assert c.match_ip("2001:db8:bae::5") is None
    assert c.match_domain("spam-domain.test") == "spam-domain.test"
    assert c.match_domain("mail.SPAM-domain.test.") == "spam-domain.test"  # subdomains, case, trailing dot
    assert c.match_domain("notspam-domain.test") is None  # a suffix match is by label, not by text
    assert c.match_domain("a.wild.test") == "wild.test" and c.match_domain("at-form.test") == "at-form.test"
    assert c.match_domain("пример.test") == "xn--e1afmkfd.test"  # IDN compared in punycode
    assert c.match_address("spammer@sender.test") == "spammer@sender.test"
    assert c.match_address("other@sender.test") is None
    assert c.match_address("anyone@sub.spam-domain.test") == "spam-domain.test"


def test_bad_lines_are_reported_with_their_number_and_skipped():
    c = parse(LIST_TEXT)
    assert [(p.line, p.text) for p in c.problems] == [(11, "!!!bogus!!!"), (12, "user@")]
    assert c.size == 9  # every good line kept
    assert c.match_ip("203.0.113.50")  # "ADDRESS  reason text": the first field is the entry


def lists_for(path, **spec) -> ListsSettings:
    return ListsSettings(check_seconds=3600, file=(ListFile(name="site", path=str(path), **spec),))


def test_a_changed_file_is_reread_and_a_vanished_one_keeps_its_entries(tmp_path, caplog):
    path = tmp_path / "site.list"
    path.write_text("192.0.2.7\n")
    lists = LocalLists.load(lists_for(path))
    assert lists.get("site").contents.match_ip("192.0.2.7")
    path.write_text("192.0.2.7\n203.0.113.0/24\n")
    lists.refresh()  # within check_seconds: not looked at
    assert not lists.get("site").contents.match_ip("203.0.113.5")
    lists.refresh(force=True)
    assert lists.get("site").contents.match_ip("203.0.113.5")
    path.unlink()
    with caplog.at_level(logging.ERROR, logger="mailguard.lists"):
        lists.refresh(force=True)
    assert lists.get("site").contents.match_ip("203.0.113.5")
    assert "keeping the 2 entries" in caplog.text and str(path) in caplog.text


def test_a_missing_file_at_start_is_an_error_naming_it(tmp_path):
    path = tmp_path / "absent.list"
    with pytest.raises(ListError) as caught:
        LocalLists.load(lists_for(path))
    assert str(path) in str(caught.value) and "'site'" in str(caught.value)


def test_a_missing_file_at_reload_keeps_the_previous_contents(tmp_path):
    path = tmp_path / "site.list"
    path.write_text("spam-domain.test\n")
    first = LocalLists.load(lists_for(path))
    os.unlink(path)
    again = LocalLists.load(lists_for(path), previous=first)
    assert again.get("site").contents.match_domain("spam-domain.test")


# --- through the proxy ---------------------------------------------------------------------


def block_list(path, reject=True, **extra) -> dict:
    return {"file": [{"name": "national", "path": str(path), "use": "block", "reject": reject, **extra}]}


def rcpt_answer(port: int, sender: str, xforward: str | None = None) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.outside.example")
        if xforward:
            assert s.docmd("XFORWARD", xforward)[0] == 250
        s.mail(sender)
        return s.rcpt(f"user@{TEST_DOMAIN}")


def test_a_listed_sender_is_refused_at_rcpt(postfix, start_mailguard, tmp_path):
    path = tmp_path / "national.list"
    path.write_text("spam-domain.test\n")
    mg = start_mailguard(postfix.port, lists=block_list(path))
    code, text = rcpt_answer(mg.port, "promo@mail.spam-domain.test")
    assert code == 550 and text.startswith(b"5.7.1"), (code, text)
    assert rcpt_answer(mg.port, "friend@outside.example")[0] == 250


def test_serve_logs_the_lines_of_a_list_it_skips(start_sink, start_mailguard, tmp_path):
    path = tmp_path / "national.list"
    path.write_text("spam-domain.test\n192.0.2.300\n")
    mg = start_mailguard(start_sink().port, lists=block_list(path))
    assert f"{path}:2: list national: '192.0.2.300' skipped: not a valid IP address or CIDR range" in mg.log()


def test_a_listed_client_address_is_refused_at_rcpt(postfix, start_mailguard, tmp_path):
    path = tmp_path / "national.list"
    path.write_text("203.0.113.0/24\n")
    mg = start_mailguard(postfix.port, lists=block_list(path), relay={"mode": "behind"},
                         server={"trusted_networks": ["127.0.0.0/8"]})
    code, _ = rcpt_answer(mg.port, "a@outside.example", "ADDR=203.0.113.9 PROTO=ESMTP")
    assert code == 550
    assert rcpt_answer(mg.port, "a@outside.example", "ADDR=192.0.2.1 PROTO=ESMTP")[0] == 250


def test_a_list_edited_then_sighup_takes_effect(postfix, start_mailguard, tmp_path):
    path = tmp_path / "national.list"
    path.write_text("# empty for now\n")
    mg = start_mailguard(postfix.port, lists={"check_seconds": 3600, **block_list(path)})
    assert rcpt_answer(mg.port, "promo@late-spammer.test")[0] == 250
    path.write_text("late-spammer.test\n")
    mg.signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in mg.log(), 10, what="reload")
    assert rcpt_answer(mg.port, "promo@late-spammer.test")[0] == 550


def test_an_edited_list_takes_effect_without_a_signal(postfix, start_mailguard, tmp_path):
    path = tmp_path / "national.list"
    path.write_text("# empty for now\n")
    mg = start_mailguard(postfix.port, lists={"check_seconds": 0.2, **block_list(path)})
    assert rcpt_answer(mg.port, "promo@later.test")[0] == 250
    path.write_text("".join(f"198.18.{i // 256}.{i % 256}\n" for i in range(20000)) + "later.test\n")
    # Re-read in a worker thread after a session notices the change; sessions meanwhile use the old list.
    wait_for(lambda: rcpt_answer(mg.port, "promo@later.test")[0] == 550, 20, what="the edited list in use")
    assert "list national reloaded" in mg.log() and "20001 entries" in mg.log()


def test_sessions_are_served_while_a_sighup_rereads_a_large_list(postfix, start_mailguard, tmp_path):
    path = tmp_path / "national.list"
    path.write_text("# empty for now\n")
    mg = start_mailguard(postfix.port, lists={"check_seconds": 3600, **block_list(path)})
    # About 3 s of parsing: the reload runs in a worker thread, not on the event loop.
    path.write_text("".join(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n" for i in range(250_000)))
    mg.signal(signal.SIGHUP)
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        assert s.ehlo("client.outside.example")[0] == 250
        assert s.noop()[0] == 250
    assert "configuration reloaded" not in mg.log()  # answered while the reload was still reading
    wait_for(lambda: "configuration reloaded" in mg.log(), 60, what="reload")


def test_a_block_list_without_reject_scores_the_delivered_message(postfix, start_mailguard, tmp_path):
    path = tmp_path / "links.list"
    path.write_text("shady-links.test\n")
    mg = start_mailguard(postfix.port, lists=block_list(path, reject=False, links=True, score=2.5))
    tag = uuid.uuid4().hex
    body = f"Subject: {tag}\r\n\r\nsee https://www.shady-links.test/offer\r\n".encode()
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"], body)
    data = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
    assert b"LIST_NATIONAL(2.50)" in data.replace(b"\n\t", b" ").replace(b"\r", b""), data[:2000]


@pytest.fixture
def spf_dns(start_dns):
    return start_dns([
        txt("friend.example.", "v=spf1 ip4:127.0.0.0/8 -all"),
        txt("forged.example.", "v=spf1 ip4:192.0.2.0/24 -all"),
    ])


def test_an_allow_entry_counts_only_for_an_authenticated_sender(postfix, start_mailguard, tmp_path, spf_dns):
    path = tmp_path / "friends.list"
    path.write_text("friend.example\nforged.example\n")
    mg = start_mailguard(postfix.port, dns={"servers": [spf_dns.address]},
                         lists={"file": [{"name": "friends", "path": str(path), "use": "allow", "score": 20.0}]})
    tags = {}
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        for domain in ("friend.example", "forged.example"):
            tags[domain] = uuid.uuid4().hex
            s.sendmail(f"news@{domain}", [f"user@{TEST_DOMAIN}"],
                       f"From: news@{domain}\r\nSubject: {tags[domain]}\r\n\r\nhello\r\n".encode())
    friend = postfix.wait_delivered("user", lambda b: tags["friend.example"].encode() in b).read_bytes()
    forged = postfix.wait_delivered("user", lambda b: tags["forged.example"].encode() in b).read_bytes()
    assert b"LIST_FRIENDS(-20.00)" in friend.replace(b"\n\t", b" ")
    assert b"LIST_FRIENDS" not in forged  # SPF fails for forged.example from 127.0.0.1
