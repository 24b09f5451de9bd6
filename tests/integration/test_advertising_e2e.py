"""Decree 91/2020 end to end: the 24-hour ledger across a restart, per-recipient delivery and
quarantine in one message (proxy and milter), refusal by command at RCPT, the X-Advertising
header parsed back from the Maildir, outbound refusals — real Postfix, real `mailguard serve`."""
from __future__ import annotations

import json
import re
import smtplib
import uuid

from adtools import ad
from mailguard.advertising.delivery import parse_header
from realservers import TEST_DOMAIN, Mailguard, config_for, free_port, milter_postfix, wait_for

USER, OTHER = f"user@{TEST_DOMAIN}", f"other@{TEST_DOMAIN}"
ADS = {"domains": [TEST_DOMAIN]}


def send(port: int, rcpts: list[str], message: bytes, sender: str) -> dict[str, tuple[int, bytes]]:
    replies: dict[str, tuple[int, bytes]] = {}
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.outside.example")
        replies["mail"] = s.mail(sender)
        for rcpt in rcpts:
            replies[rcpt] = s.rcpt(rcpt)
        if any(replies[r][0] == 250 for r in rcpts):
            replies["data"] = s.data(message)
    return replies


def wait_done(postfix, message_id: str) -> None:
    """Until Postfix removed the queue file of the message: every recipient it had is done."""
    def queue_id() -> str | None:
        m = re.search(rf"(\w+): message-id={re.escape(message_id)}", postfix.log())
        return m.group(1) if m else None

    wait_for(queue_id, 30, what=f"Postfix queued {message_id}")
    wait_for(lambda: f"{queue_id()}: removed" in postfix.log(), 30, what=f"Postfix done with {message_id}")


def x_advertising(message: bytes) -> dict[str, str]:
    head = message.split(b"\n\n", 1)[0].decode("utf-8", "replace").replace("\n\t", " ").replace("\n ", " ")
    fields = [line.partition(":")[2].strip() for line in head.split("\n") if line.lower().startswith("x-advertising:")]
    assert len(fields) == 1, fields
    return parse_header(fields[0])


def test_three_ads_a_day_then_held_for_that_recipient_across_a_restart_and_released(postfix, start_mailguard):
    tag = uuid.uuid4().hex
    advertiser = f"shop-{tag[:8]}.example"
    mg = start_mailguard(postfix.port, advertising=ADS)
    counts = []
    for n in range(3):
        if n == 2:  # the ledger is in the store: a restart keeps the count
            mg.stop()
            mg.start()
        replies = send(mg.port, [USER], ad(n=n, advertiser=advertiser, tag=f"{tag}-{n}"), f"news@{advertiser}")
        assert replies["data"][0] == 250
        data = postfix.wait_delivered("user", lambda b, n=n: f"{tag}-{n}".encode() in b).read_bytes()
        counts.append(x_advertising(data)["count"])
    assert counts == ["1/3", "2/3", "3/3"]

    replies = send(mg.port, [USER, OTHER], ad(n=3, advertiser=advertiser, tag=f"{tag}-3"), f"news@{advertiser}")
    assert replies["data"][0] == 250  # one answer for both: never a bounce
    got = postfix.wait_delivered("other", lambda b: f"{tag}-3".encode() in b).read_bytes()
    assert x_advertising(got) == {"advertising": "yes", "label": "QC", "optout": "header",
                                  "advertiser": "present", "count": "1/3"}
    held = [json.loads(line) for line in mg.cli("quarantine", "list", "--json").stdout.splitlines()]
    assert len(held) == 1 and held[0]["rcpts"] == [USER]
    wait_done(postfix, f"<ad3.{tag}-3@{advertiser}>")
    assert not [p for p in postfix.delivered("user") if f"{tag}-3".encode() in p.read_bytes()]
    ledger = [json.loads(line) for line in mg.cli("ads", "ledger", "--recipient", USER, "--json").stdout.splitlines()]
    assert [(e["advertiser"], e["count"]) for e in ledger] == [(advertiser, 3)]

    released = mg.cli("quarantine", "release", held[0]["queue_id"])
    assert released.returncode == 0, released.stderr
    postfix.wait_delivered("user", lambda b: f"{tag}-3".encode() in b)


def test_a_refusal_by_command_refuses_that_recipient_at_rcpt_only(postfix, start_mailguard):
    tag = uuid.uuid4().hex
    advertiser = f"shop-{tag[:8]}.example"
    mg = start_mailguard(postfix.port, advertising=ADS)
    added = mg.cli("ads", "refusals", "add", "--recipient", USER.upper(), "--advertiser", f"news.{advertiser}")
    assert added.returncode == 0, added.stderr
    forged = b"X-Advertising: no; label=QC\r\n"  # the sender's copy goes; ours is the only one
    replies = send(mg.port, [USER, OTHER], forged + ad(advertiser=advertiser, tag=tag), f"news@{advertiser}")
    code, text = replies[USER]
    assert code == 550 and b"Decree 91/2020 Art. 20" in text and advertiser.encode() in text
    assert replies[OTHER][0] == 250 and replies["data"][0] == 250
    data = postfix.wait_delivered("other", lambda b: tag.encode() in b).read_bytes()
    assert x_advertising(data)["label"] == "QC" and b"X-Advertising: no" not in data
    assert mg.cli("ads", "refusals", "remove", "--recipient", USER, "--advertiser", advertiser).returncode == 0
    replies = send(mg.port, [USER], ad(advertiser=advertiser, tag=f"{tag}-again"), f"news@{advertiser}")
    assert replies[USER][0] == 250 and replies["data"][0] == 250


def test_outbound_mode_refuses_an_unlabelled_ad_naming_the_article(postfix, start_mailguard):
    tag = uuid.uuid4().hex
    mg = start_mailguard(postfix.port, advertising={"outbound": True})
    replies = send(mg.port, [OTHER], ad("[ADV] Giảm giá 50% toàn bộ cửa hàng", tag=tag), "news@shop.example")
    code, text = replies["data"]
    assert code == 550 and b"[QC]" in text and b"Decree 91/2020 Art. 18" in text
    replies = send(mg.port, [OTHER], ad(tag=f"{tag}-ok"), "news@shop.example")
    assert replies["data"][0] == 250


def test_milter_mode_delivers_to_the_recipient_within_the_limit_and_holds_the_other(tmp_path, session_dns):
    """Postfix is the SMTP server; the held recipient is removed from the message by the milter."""
    milter_port, plain_port = free_port(), free_port()
    postfix = milter_postfix(tmp_path / "postfix", milter_port, plain_port)
    mg = Mailguard(tmp_path / "mg", config_for(plain_port, server={"listen": ""},
                                               milter={"listen": f"127.0.0.1:{milter_port}"},
                                               dns={"servers": [session_dns.address]},
                                               advertising={"domains": [TEST_DOMAIN], "daily_limit": 1}))
    mg.start()
    postfix.setup()
    postfix.start()
    try:
        tag = uuid.uuid4().hex
        first = send(postfix.port, [USER], ad(tag=f"{tag}-1"), "news@shop.example")
        assert first["data"][0] == 250
        data = postfix.wait_delivered("user", lambda b: f"{tag}-1".encode() in b).read_bytes()
        assert x_advertising(data)["count"] == "1/1"
        second = send(postfix.port, [USER, OTHER], ad(tag=f"{tag}-2"), "news@shop.example")
        assert second["data"][0] == 250
        postfix.wait_delivered("other", lambda b: f"{tag}-2".encode() in b)
        wait_done(postfix, f"<ad0.{tag}-2@shop.example>")
        held = [json.loads(line) for line in mg.cli("quarantine", "list", "--json").stdout.splitlines()]
        assert len(held) == 1 and held[0]["rcpts"] == [USER]
        # Postfix delivered the message to `other` only: the removed recipient got no copy.
        assert not [p for p in postfix.delivered("user") if f"{tag}-2".encode() in p.read_bytes()]
    finally:
        postfix.close()
        mg.stop()


def test_mail_that_is_not_advertising_gets_no_x_advertising_and_loses_a_forged_one(postfix, start_mailguard):
    tag = uuid.uuid4().hex
    mg = start_mailguard(postfix.port, advertising=ADS)
    message = (f"X-Advertising: yes; label=QC; optout=header; advertiser=present; count=1/3\r\n"
               f"From: friend@outside.example\r\nTo: {OTHER}\r\nSubject: lunch {tag}\r\n\r\n"
               "Are we still on for lunch tomorrow?\r\n").encode()
    assert send(mg.port, [OTHER], message, "friend@outside.example")["data"][0] == 250
    data = postfix.wait_delivered("other", lambda b: tag.encode() in b).read_bytes()
    assert b"X-Advertising" not in data
