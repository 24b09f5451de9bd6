"""Intake of spam reports sent by forwarding (issue 16 item 1): every shape as its client writes
it (tests/reportshapes.py) gives back the original's sender, client, Subject, Message-ID, link
domains and a body to learn from; what cannot be read is said precisely; hostile reports never
raise and cost little."""
from __future__ import annotations

import ipaddress
import random

import pytest

import reportshapes as shapes
from hostile import damaged
from mailguard.reports.forwards import find_inline, sender_of
from mailguard.reports.intake import NOTHING_FOUND, Intake, ReportedOriginal, read_report
from mailguard.reports.received import first_outside_hop, hop_of
from mailguard.scan.message import ParsedMessage

TRUSTED = tuple(ipaddress.ip_network(n) for n in shapes.PROVIDER_TRUSTED)
REPORTER, ABUSE = "user@test.example", "abuse@test.example"
BODY = b"Claim your prize now at http://claim.prize.example/x"


def intake(raw: bytes, trusted: tuple = TRUSTED, local: tuple[str, ...] = shapes.LOCAL_DOMAINS) -> Intake:
    return read_report(ParsedMessage.from_bytes(raw), trusted, local)


def only(raw: bytes, **kw) -> ReportedOriginal:
    result = intake(raw, **kw)
    assert result.problem == "" and len(result.originals) == 1, result
    return result.originals[0]


ATTACHED = [shapes.thunderbird_attached, shapes.outlook_attached]
INLINE = [shapes.gmail_inline, lambda o, r, t: shapes.gmail_inline(o, r, t, lang="vi"),
          shapes.outlook_inline, lambda o, r, t: shapes.outlook_inline(o, r, t, lang="vi"),
          lambda o, r, t: shapes.outlook_inline(o, r, t, html_only=True), shapes.outlook_web_inline,
          shapes.apple_inline, shapes.vietnamese_inline]
INLINE_IDS = ["gmail", "gmail-vi", "outlook", "outlook-vi", "outlook-html", "outlook-web", "apple", "vietnamese"]


@pytest.mark.parametrize("build", ATTACHED, ids=["thunderbird", "outlook"])
def test_an_attached_original_is_read_with_its_client_beyond_the_provider(build):
    original = shapes.spam_original()
    got = only(build(original, REPORTER, ABUSE))
    assert got.shape == "attached"
    assert got.raw == original  # the bytes as attached
    assert got.sender == "win@prize.example"
    # Received: store ← mx1 (198.51.100.25, named mx1.test.example), mx1 ← localhost, mx1 ← the
    # spammer: the first hop outside the provider is the spammer, not its own internal one below.
    assert got.client_ip == shapes.SPAMMER_IP
    assert got.subject == "You won a prize" and got.message_id == "<win-1@prize.example>"
    assert got.link_domains == ("prize.example", "bulkmail.example")


def test_two_attached_at_once_give_one_original_each():
    first = shapes.spam_original()
    second = shapes.spam_original(sender="Pharmacy <sales@meds.example>", subject="Cheap meds",
                                  message_id="<m2@meds.example>", client_ip="198.51.100.77",
                                  body="Order at https://shop.meds.example/buy today\n")
    got = intake(shapes.attached_many([first, second], REPORTER, ABUSE))
    assert got.problem == ""
    assert [(o.shape, o.sender, o.client_ip, o.subject, o.message_id) for o in got.originals] == [
        ("attached", "win@prize.example", shapes.SPAMMER_IP, "You won a prize", "<win-1@prize.example>"),
        ("attached", "sales@meds.example", "198.51.100.77", "Cheap meds", "<m2@meds.example>")]
    assert got.originals[1].link_domains == ("meds.example", "bulkmail.example")
    assert [o.raw for o in got.originals] == [first, second]


def test_attached_originals_are_bounded():
    many = [shapes.spam_original(message_id=f"<n{i}@prize.example>") for i in range(14)]
    got = intake(shapes.attached_many(many, REPORTER, ABUSE))
    assert len(got.originals) == 10


@pytest.mark.parametrize("build", INLINE, ids=INLINE_IDS)
def test_an_inline_forward_is_rebuilt_from_the_quoted_lines(build):
    original = shapes.spam_original()
    got = only(build(original, REPORTER, ABUSE))
    assert got.shape == "inline"
    assert got.sender == "win@prize.example"
    assert got.client_ip is None  # no Received lines quoted
    assert got.subject == "You won a prize" and got.message_id == ""
    assert "prize.example" in got.link_domains
    rebuilt = ParsedMessage.from_bytes(got.raw)
    assert "Claim your prize now at http://claim.prize.example/x" in rebuilt.text
    assert "please block" not in rebuilt.text  # the reporter's own words are not the original's
    assert [a.address for a in rebuilt.addresses("from")] == ["win@prize.example"]
    assert rebuilt.subject == "You won a prize"


@pytest.mark.parametrize("build", INLINE, ids=INLINE_IDS)
def test_an_inline_forward_keeps_vietnamese_names_and_subjects(build):
    original = shapes.spam_original(sender='"Khuyến Mãi Lớn" <km@uudai.example>',
                                    subject="Ưu đãi đặc biệt hôm nay",
                                    body="Nhận quà tại https://qua.uudai.example/nhan ngay!\n")
    got = only(build(original, REPORTER, ABUSE))
    assert (got.sender, got.subject) == ("km@uudai.example", "Ưu đãi đặc biệt hôm nay")
    assert got.link_domains[0] == "uudai.example"
    rebuilt = ParsedMessage.from_bytes(got.raw)
    assert rebuilt.subject == "Ưu đãi đặc biệt hôm nay" and "Nhận quà tại" in rebuilt.text
    assert rebuilt.from_header == "Khuyến Mãi Lớn <km@uudai.example>"


@pytest.mark.parametrize("build", [shapes.gmail_inline, shapes.outlook_inline, shapes.apple_inline],
                         ids=["gmail", "outlook", "apple"])
def test_links_the_reporter_wrote_above_the_forward_are_not_the_originals(build):
    raw = build(shapes.spam_original(), REPORTER, ABUSE, note="Spam again, see https://blog.reporter.example/spam")
    got = only(raw)
    assert "reporter.example" not in got.link_domains
    assert "prize.example" in got.link_domains
    assert "reporter.example" in ParsedMessage.from_bytes(raw).domains  # it was in the report


def test_gmail_html_keeps_the_links_only_its_html_has():
    got = only(shapes.gmail_inline(shapes.spam_original(), REPORTER, ABUSE))
    # bulkmail.example is an <a href> of the original's HTML, not in its text
    assert got.link_domains == ("prize.example", "bulkmail.example")
    assert b'class="gmail_quote' in got.raw or b"gmail_quote" in got.raw


def test_an_arf_report_takes_the_source_ip_of_its_feedback_part_first():
    original = shapes.spam_original()
    got = only(shapes.arf_report(original, "fbl@isp.example", ABUSE, source_ip="192.0.2.55"))
    assert got.shape == "arf" and got.raw == original
    assert got.client_ip == "192.0.2.55"  # Source-IP, not the Received chain's 203.0.113.9
    assert (got.sender, got.subject, got.message_id) == ("win@prize.example", "You won a prize",
                                                        "<win-1@prize.example>")
    assert got.link_domains == ("prize.example", "bulkmail.example")


def test_an_arf_report_without_a_usable_source_ip_falls_back_to_the_chain():
    raw = shapes.arf_report(shapes.spam_original(), "fbl@isp.example", ABUSE, source_ip="10.1.2.3")
    assert only(raw).client_ip == shapes.SPAMMER_IP
    raw = raw.replace(b"Source-IP: 10.1.2.3\r\n", b"")
    assert only(raw).client_ip == shapes.SPAMMER_IP


def test_an_arf_report_with_headers_only():
    original = shapes.spam_original()
    got = only(shapes.arf_report(original, "fbl@isp.example", ABUSE, headers_only=True))
    assert got.shape == "arf"
    assert got.raw.startswith(b"Received: from mx1.test.example") and b"Message-ID: <win-1@prize.example>" in got.raw
    assert (got.sender, got.client_ip, got.subject) == ("win@prize.example", shapes.SPAMMER_IP, "You won a prize")
    assert got.link_domains == ()  # no body


def test_an_arf_report_without_the_original_keeps_what_its_fields_say():
    raw = shapes.arf_report(shapes.spam_original(), "fbl@isp.example", ABUSE)
    cut = raw.rfind(b"\r\n------=_Part_4183_1398842203.1733105702811\r\nContent-Type: message/rfc822")
    raw = raw[:cut] + b"\r\n------=_Part_4183_1398842203.1733105702811--\r\n"
    got = only(raw)
    assert (got.shape, got.raw, got.sender, got.client_ip) == ("arf", b"", "win@prize.example", shapes.SPAMMER_IP)


@pytest.mark.parametrize("raw", [shapes.bare_forward(shapes.spam_original(), REPORTER, ABUSE),
                                 shapes.empty_report(REPORTER, ABUSE), b"", b"\r\n\r\n",
                                 b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n"],
                         ids=["bare", "empty", "nothing", "blank", "empty-multipart"])
def test_nothing_recognisable_says_what_to_do(raw):
    assert intake(raw) == Intake((), problem=NOTHING_FOUND)
    assert NOTHING_FOUND == "no forwarded message found: attach the spam as a file, or forward it inline"


# -- the client, from the Received chain --------------------------------------------------------
@pytest.mark.parametrize("value,address,name", [
    ("from mail.prize.example (mail.prize.example [203.0.113.9])\r\n\tby mx1.test.example (Postfix) with ESMTP id 1",
     "203.0.113.9", "mail.prize.example"),
    ("from [192.0.2.1] (unknown [203.0.113.9]) by mx1.test.example", "203.0.113.9", ""),  # HELO literal ignored
    ("from bulk.example ([198.51.100.7] helo=bulk.example) by mx.example with esmtp (Exim 4.96)", "198.51.100.7", ""),
    ("from [198.51.100.7] (helo=bulk.example) by mx.example with esmtp (Exim 4.96)", "198.51.100.7", ""),
    ("from EX01.corp.example (10.1.2.3) by EX02.corp.example (10.1.2.4) with Microsoft SMTP Server", "10.1.2.3", ""),
    ("from unknown (HELO bulk) (198.51.100.8) by qmail.example with SMTP", "198.51.100.8", ""),
    ("from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS",
     "209.85.220.41", "mail-sor-f41.google.com"),
    ("from x (x.example [IPv6:2001:db8::5]) by y", "2001:db8::5", "x.example"),
    ("by 2002:a05:6a10:1234 with SMTP id x; Tue, 1 Dec 2026", None, ""),
    ("(qmail 1234 invoked by uid 89); 1 Dec 2026", None, ""),
])
def test_the_address_of_a_hop_is_the_one_its_receiver_recorded(value, address, name):
    assert hop_of(value) == (address, name)


def test_the_first_hop_outside_the_provider():
    chain = ParsedMessage.from_bytes(shapes.spam_original()).headers_named("received")
    assert first_outside_hop(chain, TRUSTED, ("test.example",)) == shapes.SPAMMER_IP
    # Without its name among the local domains, the provider's own MX (public address) is the first outside
    assert first_outside_hop(chain, TRUSTED, ()) == "198.51.100.25"
    # ... unless its network is trusted
    assert first_outside_hop(chain, TRUSTED + (ipaddress.ip_network("198.51.100.0/24"),), ()) == shapes.SPAMMER_IP
    assert first_outside_hop(chain, ("127.0.0.0/8", "198.51.100.25/32"), ()) == shapes.SPAMMER_IP  # as text too
    # A HELO is the sender's to write: a local one claimed by an outside client is not believed,
    # nor the local `by` host of a header it wrote below
    forged = ["from mx9.test.example (unknown [203.0.113.9]) by mx1.test.example (Postfix)",
              "from mx9.test.example (mx9.test.example [192.0.2.200]) by mx9.test.example"]
    assert first_outside_hop(forged, TRUSTED, ("test.example",)) == "203.0.113.9"
    assert first_outside_hop(["by host with LMTP", "from localhost (localhost [127.0.0.1]) by x"], TRUSTED, ()) is None
    assert first_outside_hop([], TRUSTED, ()) is None


def test_quoted_received_lines_give_an_inline_original_its_client():
    text = ("see below\n\n---------- Forwarded message ---------\n"
            "Received: from mail.prize.example (mail.prize.example [203.0.113.9])\n"
            "        by mx1.test.example (Postfix) with ESMTP id 4Bq9\n"
            "From: Prize <win@prize.example>\nSubject: You won\nMessage-ID: <w@prize.example>\n\nClaim now\n")
    raw = b"From: user@test.example\r\nSubject: Fwd\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode()
    got = only(raw)
    assert (got.client_ip, got.sender, got.message_id) == ("203.0.113.9", "win@prize.example", "<w@prize.example>")


# -- the pieces of an inline forward ----------------------------------------------------------
@pytest.mark.parametrize("value,address", [
    ("Spammer <win@prize.example>", "win@prize.example"), ("win@prize.example", "win@prize.example"),
    ("Spammer [mailto:win@prize.example]", "win@prize.example"), ('"Spam, Inc." <x@y.example>', "x@y.example"),
    ("<mailto:win@prize.example>", "win@prize.example"), ("Spammer", ""), ("", ""),
])
def test_the_sender_of_a_quoted_from_line(value, address):
    assert sender_of(value) == address


def test_quoted_forwards_with_prefixes_and_bold_labels():
    got = find_inline("> > ---------- Forwarded message ---------\n> > *From:* A <a@spam.example>\n"
                      "> > *Subject:* Hi\n> >\n> > the body\n")
    assert got is not None and got.first("From") == "A <a@spam.example>" and got.first("Subject") == "Hi"
    assert got.body == "the body"
    assert find_inline("From: a@b.example\nhello\n") is None  # a From line alone is no block
    assert find_inline("Begin forwarded message:\n\nthe end\n") is None  # a marker without a block


# -- hostile reports ----------------------------------------------------------------------------
INSERTS = [b"\x00", b"\r", b"\n\n", b"=?utf-8?b?", b"--", b"\xe1\xba", b"\xff", b"From: ", b"> ",
           b"---------- Forwarded message ---------\n", b"Content-Type: message/rfc822\r\n\r\n",
           b"Received: from x ([", b"(" * 200, b"[" * 200, b"Source-IP: ", b"<div class=\"gmail_quote\">"]


def test_mutated_reports_never_raise():
    original = shapes.spam_original()
    reports = [shapes.thunderbird_attached(original, REPORTER, ABUSE), shapes.outlook_attached(original, REPORTER, ABUSE),
               shapes.gmail_inline(original, REPORTER, ABUSE), shapes.outlook_inline(original, REPORTER, ABUSE),
               shapes.apple_inline(original, REPORTER, ABUSE), shapes.vietnamese_inline(original, REPORTER, ABUSE),
               shapes.arf_report(original, "fbl@isp.example", ABUSE)]
    rng = random.Random(20261202)
    read = 0
    for _ in range(300):
        got = intake(damaged(rng.choice(reports), rng, INSERTS))
        assert isinstance(got, Intake)
        assert bool(got.originals) != bool(got.problem)
        for o in got.originals:
            assert o.shape in ("attached", "inline", "arf") and isinstance(o.raw, bytes)
            assert o.client_ip is None or ipaddress.ip_address(o.client_ip)
        read += bool(got.originals)
    assert read > 150  # most damaged reports are still read


@pytest.mark.parametrize("text", [
    "From: a@b.example\n" * 60_000,  # every line could start a block
    "---------- Forwarded message ---------\n" * 40_000,  # every line a marker with no block
    ">" * 1_000_000,
    "From: " + "(" * 200_000 + "\nSent: x\n\nbody",
    "x" * 2_000_000,
    ("---------- Forwarded message ---------\nFrom: a <a@spam.example>\nTo: " + "b@c.example, " * 50_000 + "\n\nz"),
])
def test_hostile_text_gives_an_answer(text):
    """Never a traceback; what it costs is benchmarks' business (tests never assert speed)."""
    raw = b"From: user@test.example\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode()
    got = read_report(ParsedMessage.from_bytes(raw), TRUSTED, shapes.LOCAL_DOMAINS)
    assert isinstance(got, Intake)


def test_only_the_first_received_headers_are_read():
    chain = ["from " + "(" * 5_000 + "[" * 5_000 + " by x"] * 1_000 + ["from a (a [203.0.113.9]) by b"]
    assert first_outside_hop(chain, TRUSTED, ()) is None  # only the first 50 are read


def test_read_report_never_raises_on_what_is_not_a_report():
    assert read_report(None, TRUSTED, ()).problem == NOTHING_FOUND  # type: ignore[arg-type]
    assert read_report(ParsedMessage.from_bytes(b"x"), None, None).problem == NOTHING_FOUND  # type: ignore[arg-type]


def test_an_attached_original_sent_base64_is_decoded():
    import base64
    original = shapes.spam_original()
    raw = shapes.thunderbird_attached(original, REPORTER, ABUSE)
    encoded = base64.encodebytes(original).replace(b"\n", b"\r\n")
    raw = raw.replace(b"Content-Transfer-Encoding: 8bit\r\n\r\n" + original,
                      b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded)
    raw = raw.replace(b"Content-Transfer-Encoding: 7bit\r\n\r\n" + original,
                      b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded)
    assert encoded in raw
    got = only(raw)
    assert got.raw == original and got.sender == "win@prize.example" and got.client_ip == shapes.SPAMMER_IP


def test_an_outlook_item_attached_is_named_in_the_problem():
    from mailguard.reports.intake import OUTLOOK_ITEM
    raw = (b"From: user@test.example\r\nSubject: FW: spam\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nspam\r\n"
           b"--b\r\nContent-Type: application/vnd.ms-outlook; name=\"You won.msg\"\r\n"
           b"Content-Disposition: attachment; filename=\"You won.msg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"0M8R4KGxGuEAAAAAAAAAAAAAAAAAAAAAPgADAP7/CQAGAAAAAAAAAAAAAAAB\r\n--b--\r\n")
    assert intake(raw) == Intake((), OUTLOOK_ITEM)
