"""The acknowledgement to a reporter: parses back, plain text in UTF-8, Vietnamese first and
English below (or the other way with lang="en"), Auto-Submitted: auto-replied (RFC 3834), no
Precedence and no list headers, and the original's Subject quoted on one clean line."""
from __future__ import annotations

import email
import email.policy

import pytest

from mailguard.reports.ack import acknowledgement


def ack(**kw) -> bytes:
    args = dict(from_="postmaster@example.vn", kind="spam", subject_of_original="Kiếm tiền nhanh",
                report_id="r-20231114-0001", outcome="learnt as spam; the sender was counted", date=1_700_000_000)
    args.update(kw)
    return acknowledgement("an@example.vn", **args)


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_spam_acknowledgement():
    raw = ack(in_reply_to="<report-1@example.vn>")
    msg = parse(raw)
    assert msg["Subject"] == "Đã nhận báo cáo thư rác / Spam report received"
    assert msg["From"] == "postmaster@example.vn" and msg["To"] == "an@example.vn"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Precedence"] is None and msg["List-Unsubscribe"] is None and msg["List-Id"] is None
    assert msg["In-Reply-To"] == msg["References"] == "<report-1@example.vn>"
    assert msg["Message-ID"].endswith("@example.vn>")
    assert msg["Date"] == "Tue, 14 Nov 2023 22:13:20 +0000"
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert not msg.is_multipart()
    body = msg.get_content()
    vi, en = body.index("Chúng tôi đã nhận"), body.index("We received your report")
    assert vi < en  # Vietnamese first
    assert body.count("r-20231114-0001") == 2 and body.count("learnt as spam; the sender was counted") == 2
    assert "“Kiếm tiền nhanh” là thư rác" in body and "“Kiếm tiền nhanh” is spam" in body
    assert "http" not in body  # no links, nothing to sell
    assert len(body.splitlines()) < 15
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_ham_and_english_first():
    msg = parse(ack(kind="ham", lang="en"))
    assert msg["Subject"] == "Not-spam report received / Đã nhận báo cáo thư không phải thư rác"
    body = msg.get_content()
    assert body.index("We received") < body.index("Chúng tôi") and "is not spam" in body
    assert msg["In-Reply-To"] is None


def test_the_quoted_subject_is_one_clean_line():
    hostile = "Win\r\nBcc: victim@example.com\u202e\u200b" + "x" * 500
    msg = parse(ack(subject_of_original=hostile, outcome="kept\nBcc: y"))
    assert msg["Bcc"] is None
    body = msg.get_content()
    line = next(l for l in body.splitlines() if l.startswith("Chúng tôi"))
    assert "Win Bcc: victim@example.com" in line and "\u202e" not in body and "\u200b" not in body
    assert len(line) < 300 and "…" in line
    assert "Kết quả: kept Bcc: y" in body
    assert "(không có tiêu đề / no subject)" in parse(ack(subject_of_original="")).get_content()


@pytest.mark.parametrize("kw", [{"kind": "abuse"}, {"lang": "fr"}])
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        ack(**kw)
