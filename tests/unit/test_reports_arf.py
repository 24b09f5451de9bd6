"""ARF reports onward (RFC 5965): what we build parses back with the stdlib's parser, has the
report's structure and fields, and carries the original whole, byte for byte — 8-bit, non-UTF-8
and long-lined originals too. The digest: a summary, then each report as one ARF message."""
from __future__ import annotations

import email
import email.policy

import pytest

from mailguard import __version__
from mailguard.reports.arf import ReportItem, digest_report, feedback_report

ARRIVAL = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 +0000

ASCII = (b"Received: from spam.example ([192.0.2.7])\r\n\tby mx.example.vn; Tue, 14 Nov 2023 22:13:19 +0000\r\n"
         b"From: Spammer <s@spam.example>\r\nTo: an@example.vn\r\nSubject: Earn money\r\n"
         b"Message-ID: <1@spam.example>\r\n\r\nBuy now: http://spam.example/x\r\n")
UTF8_HEADERS = ("From: Người bán <bán@spam.example>\r\nTo: an@example.vn\r\nSubject: Kiếm tiền nhanh\r\n"
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                "Mua ngay hôm nay!\r\n").encode()  # RFC 6532 headers, 8-bit body
LEGACY = (b"From: s@spam.example\r\nSubject: =?windows-1258?q?Gi=E1m_gi=E1?=\r\n"
          b"Content-Type: text/plain; charset=windows-1258\r\n\r\nGi\xe1m gi\xe1 \xd0\xf2 \xff\xfe\r\n")  # not UTF-8
LONG_LINES = b"From: s@spam.example\r\nSubject: long\r\n\r\n" + b"x" * 5000 + b"\r\n"
BARE_LF = b"From: s@spam.example\nSubject: lf\n\nline one\nline two\n"


def build(original: bytes, **kw) -> bytes:
    args = dict(reporter_domain="example.vn", source_ip="192.0.2.7", original_mail_from="bounce@spam.example",
                original_rcpt="an@example.vn", arrival=ARRIVAL, to="chongthurac@vncert.vn",
                from_="postmaster@example.vn", date=ARRIVAL + 60)
    args.update(kw)
    return feedback_report(original, **args)


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def attached_bytes(raw: bytes, msg, index: int) -> bytes:
    """The body of the index-th part (1-based) as written, between its headers and the boundary."""
    chunk = raw.split(b"--" + msg.get_boundary().encode())[index]
    body = chunk[2:].split(b"\r\n\r\n", 1)[1]
    assert body.endswith(b"\r\n")  # the CRLF before a boundary belongs to the boundary
    return body[:-2]


@pytest.mark.parametrize("original", [ASCII, UTF8_HEADERS, LEGACY, LONG_LINES, BARE_LF],
                         ids=["ascii", "utf8-headers", "windows-1258", "long-lines", "bare-lf"])
def test_report_structure_and_original_byte_for_byte(original):
    raw = build(original)
    msg = parse(raw)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "feedback-report"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["MIME-Version"] == "1.0"
    human, report, attached = msg.iter_parts()
    assert human.get_content_type() == "text/plain"
    assert "example.vn" in human.get_content() and "192.0.2.7" in human.get_content()
    assert report.get_content_type() == "message/feedback-report"
    assert attached.get_content_type() == "message/rfc822"
    assert attached_bytes(raw, msg, 3) == original
    cte = attached["Content-Transfer-Encoding"]
    assert cte == ("binary" if original is LONG_LINES else "8bit" if not original.isascii() else "7bit")
    assert not msg.defects and not any(p.defects for p in msg.walk())


def test_feedback_fields():
    msg = parse(build(ASCII, reported_uris=["http://spam.example/x"],
                      authentication_results=["mx.example.vn; spf=fail smtp.mailfrom=spam.example"],
                      reporting_mta="mx.example.vn"))
    fields = list(msg.iter_parts())[1].get_payload(0)  # the parser reads the fields as headers
    assert fields["Feedback-Type"] == "abuse"
    assert fields["User-Agent"] == f"mailguard/{__version__}"
    assert fields["Version"] == "1"
    assert fields["Original-Mail-From"] == "<bounce@spam.example>"
    assert fields["Original-Rcpt-To"] == "<an@example.vn>"
    assert fields["Arrival-Date"] == "Tue, 14 Nov 2023 22:13:20 +0000"
    assert fields["Source-IP"] == "192.0.2.7"
    assert fields.get_all("Reported-Domain") == ["spam.example"]
    assert fields["Reported-URI"] == "http://spam.example/x"
    assert fields["Reporting-MTA"] == "dns; mx.example.vn"
    assert fields["Authentication-Results"].startswith("mx.example.vn; spf=fail")
    assert msg["From"] == "postmaster@example.vn" and msg["To"] == "chongthurac@vncert.vn"
    assert msg["Date"] == "Tue, 14 Nov 2023 22:14:20 +0000"
    assert msg["Subject"] == "Abuse report from example.vn about 192.0.2.7"
    assert msg["Message-ID"].endswith("@example.vn>")
    attached = list(msg.iter_parts())[2].get_content()
    assert attached["Subject"] == "Earn money" and attached["Message-ID"] == "<1@spam.example>"


def test_optional_fields_left_out_and_null_sender():
    msg = parse(build(ASCII, source_ip=None, original_mail_from="", subject="FW: Earn money",
                      feedback_type="fraud", user_agent="mailguard/test"))
    fields = list(msg.iter_parts())[1].get_payload(0)
    assert fields["Source-IP"] is None and fields["Reported-Domain"] is None
    assert fields["Original-Mail-From"] == "<>" and fields["Feedback-Type"] == "fraud"
    assert fields["User-Agent"] == "mailguard/test"
    assert msg["Subject"] == "FW: Earn money"


def test_unknown_feedback_type_is_refused():
    with pytest.raises(ValueError, match="feedback type"):
        build(ASCII, feedback_type="spam")


def test_every_line_ends_in_crlf_outside_the_original():
    raw = build(ASCII)
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_digest_attaches_each_report_as_one_arf_message():
    items = [ReportItem(ASCII, "192.0.2.7", "s@spam.example", "an@example.vn", ARRIVAL, subject="Earn money"),
             ReportItem(LEGACY, None, "", "binh@example.vn", ARRIVAL + 3600, subject="Giảm giá\r\nBcc: x"),
             ReportItem(UTF8_HEADERS, "2001:db8::7", "bán@spam.example", "an@example.vn", ARRIVAL + 7200)]
    raw = digest_report(items, reporter_domain="example.vn", to="chongthurac@vncert.vn",
                        from_="postmaster@example.vn", date=ARRIVAL + 86400)
    msg = parse(raw)
    assert msg.get_content_type() == "multipart/mixed" and msg["Auto-Submitted"] == "auto-generated"
    parts = list(msg.iter_parts())
    assert len(parts) == 4
    summary = parts[0].get_content()
    assert "3 abuse reports" in summary and "Bcc: x" in summary  # the subject folded onto its one line
    assert len([line for line in summary.splitlines() if line[:2] in ("1.", "2.", "3.")]) == 3
    for n, (part, item) in enumerate(zip(parts[1:], items), start=2):
        assert part.get_content_type() == "message/rfc822"
        report_raw = attached_bytes(raw, msg, n)
        report = parse(report_raw)
        assert report.get_param("report-type") == "feedback-report"
        assert attached_bytes(report_raw, report, 3) == item.original
        fields = list(report.iter_parts())[1].get_payload(0)
        assert fields["Arrival-Date"] == email.utils.format_datetime(
            email.utils.datetime.datetime.fromtimestamp(item.arrival, email.utils.datetime.timezone.utc))
    with pytest.raises(ValueError):
        digest_report([], reporter_domain="example.vn", to="a@b.example", from_="c@d.example")


def test_an_smtputf8_sender_is_written_as_it_is():
    raw = build(UTF8_HEADERS, original_mail_from="bán@spam.example", original_rcpt="ân@example.vn")
    report = list(parse(raw).iter_parts())[1]
    assert report["Content-Transfer-Encoding"] == "8bit"
    fields = report.get_payload(0)
    assert fields["Original-Mail-From"] == "<bán@spam.example>" and fields["Original-Rcpt-To"] == "<ân@example.vn>"
    assert "Original-Mail-From: <bán@spam.example>\r\n".encode() in raw  # not RFC 2047-encoded


def test_a_vietnamese_subject_reads_back_with_its_spaces():
    subject = "Báo cáo thư rác từ người dùng của example.vn về thư quảng cáo không mong muốn"
    msg = parse(build(ASCII, subject=subject))
    assert msg["Subject"] == subject
    raw = build(ASCII, subject=subject)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
