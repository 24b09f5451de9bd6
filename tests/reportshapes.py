"""Spam reports as each mail client writes them, for the intake tests (and the end-to-end tests
of the abuse address): every builder takes the original's bytes, the reporter's address and the
report address, and returns the report's bytes.

`spam_original()` is a spam as the reporter's mailbox holds it: Received by the reporter's
provider (test.example: mailguard in front of Postfix, then an internal hop to the store), from
the spammer's server 203.0.113.9, with links to prize.example and bulkmail.example.
"""
from __future__ import annotations

import base64
import email
import email.header
import email.policy
import email.utils
import html
import quopri

PROVIDER_TRUSTED = ("127.0.0.0/8", "10.0.0.0/8")
LOCAL_DOMAINS = ("test.example",)
SPAMMER_IP = "203.0.113.9"

_DATE = "Wed, 02 Dec 2026 09:15:02 +0700"


def spam_original(*, sender: str = '"Prize Team" <win@prize.example>', subject: str = "You won a prize",
                  message_id: str = "<win-1@prize.example>", client_ip: str = SPAMMER_IP,
                  rcpt: str = "user@test.example", body: str = "", eol: bytes = b"\r\n") -> bytes:
    body = body or ("Congratulations! Claim your prize now at http://claim.prize.example/x?id=42\n"
                    "Offer ends today.\n")
    html_body = (f"<html><body><p>{html.escape(body.splitlines()[0])}</p>"
                 '<p><a href="https://track.bulkmail.example/c?u=1">Claim here</a></p></body></html>')
    lines = [
        "Received: from mx1.test.example (mx1.test.example [198.51.100.25])",
        "\tby store.test.example (Postfix) with LMTP id 7F3A2C0123; Tue, 01 Dec 2026 17:00:03 +0700",
        "Received: from mx1.test.example (localhost [127.0.0.1])",
        "\tby mx1.test.example (Postfix) with ESMTP id 4Bq9Zt1Xyz; Tue, 01 Dec 2026 17:00:02 +0700",
        f"Received: from mail.prize.example (mail.prize.example [{client_ip}])",
        "\tby mx1.test.example (mailguard) with ESMTP id mg-1a2b3c",
        f"\tfor <{rcpt}>; Tue, 01 Dec 2026 10:00:01 +0000",
        "Received: from [192.168.1.20] (unknown [10.9.8.7])",
        "\tby mail.prize.example (Postfix) with ESMTPSA id 11AA22BB; Tue, 01 Dec 2026 10:00:00 +0000",
        f"From: {sender}",
        f"To: {rcpt}",
        f"Subject: {subject}",
        "Date: Tue, 01 Dec 2026 10:00:00 +0000",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="=_prize_alt"',
        "",
        "--=_prize_alt",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        *body.rstrip("\n").split("\n"),
        "--=_prize_alt",
        "Content-Type: text/html; charset=utf-8",
        "",
        html_body,
        "--=_prize_alt--",
        "",
    ]
    return eol.join(line.encode("utf-8") for line in lines)


# -- what the builders read of the original ----------------------------------------------------
class _Original:
    def __init__(self, raw: bytes) -> None:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.sender = str(msg.get("from", ""))
        self.to = str(msg.get("to", ""))
        self.subject = str(msg.get("subject", ""))
        self.date = str(msg.get("date", ""))
        self.address = email.utils.parseaddr(self.sender)[1]
        self.name = email.utils.parseaddr(self.sender)[0]
        self.quoted_from = f"{self.name} <{self.address}>" if self.name else self.address  # as clients quote it
        plain = msg.get_body(("plain",))
        rich = msg.get_body(("html",))
        self.text = plain.get_content() if plain is not None else ""
        self.html = rich.get_content() if rich is not None else "<p>" + html.escape(self.text) + "</p>"
        if "<body" in self.html.lower():  # the body's inside, as clients quote it
            low = self.html.lower()
            start = low.find(">", low.find("<body")) + 1
            end = low.rfind("</body")
            self.html = self.html[start:end if end > start else len(self.html)]


def _headers(fields: list[tuple[str, str]]) -> bytes:
    out = []
    for name, value in fields:
        if not value.isascii():
            value = email.header.Header(value, "utf-8").encode()
        out.append(f"{name}: {value}\r\n")
    return "".join(out).encode("ascii")


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").encode("utf-8")
    return quopri.encodestring(data).replace(b"\n", b"\r\n")


def _b64(text: str) -> bytes:
    data = base64.encodebytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))
    return data.replace(b"\n", b"\r\n")


def _alternative(boundary: str, plain: str, rich: str, *, plain_ctype: str = 'text/plain; charset="UTF-8"',
                 html_ctype: str = 'text/html; charset="UTF-8"') -> bytes:
    b = boundary.encode("ascii")
    return (b"--" + b + b"\r\nContent-Type: " + plain_ctype.encode()
            + b"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            + _qp(plain) + b"\r\n--" + b + b"\r\nContent-Type: " + html_ctype.encode()
            + b"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + _qp(rich) + b"\r\n--" + b + b"--\r\n")


def _reporter_name(reporter: str) -> str:
    return reporter.split("@", 1)[0].replace(".", " ").title()


# -- forward as attachment ------------------------------------------------------------------
def thunderbird_attached(original: bytes, reporter: str, to: str, *, filename: str = "Spam.eml",
                         more: tuple[bytes, ...] = ()) -> bytes:
    """Thunderbird's Forward As Attachment (`more`: further messages selected with it)."""
    boundary = "------------0Ab1Cd2Ef3Gh4Ij5Kl6Mn7"
    head = _headers([
        ("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
        ("Message-ID", "<3f1c2b8e-77aa-4c1e-9d0b-5e2f1a0c9d11@test.example>"),
        ("Date", _DATE), ("MIME-Version", "1.0"),
        ("User-Agent", "Mozilla Thunderbird"), ("Content-Language", "en-US"),
        ("To", to), ("From", f"{_reporter_name(reporter)} <{reporter}>"),
        ("Subject", "Fwd: " + _Original(original).subject),
    ])
    parts = [b"This is a multi-part message in MIME format.\r\n--" + boundary.encode()
             + b"\r\nContent-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
             + b"This is spam.\r\n\r\n"]
    for index, message in enumerate((original, *more)):
        name = filename if index == 0 else f"Spam {index + 1}.eml"
        cte = b"7bit" if message.isascii() else b"8bit"
        parts.append(b"--" + boundary.encode() + b"\r\nContent-Type: message/rfc822; charset=UTF-8; name=\""
                     + name.encode() + b"\"\r\nContent-Disposition: attachment; filename=\"" + name.encode()
                     + b"\"\r\nContent-Transfer-Encoding: " + cte + b"\r\n\r\n" + message
                     + (b"" if message.endswith(b"\n") else b"\r\n") + b"\r\n")
    return head + b"\r\n" + b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"


def attached_many(originals: list[bytes], reporter: str, to: str) -> bytes:
    """Several messages forwarded at once as attachments (Thunderbird, one part each)."""
    return thunderbird_attached(originals[0], reporter, to, more=tuple(originals[1:]))


def outlook_attached(original: bytes, reporter: str, to: str) -> bytes:
    """Outlook's Forward as Attachment: the note as multipart/alternative, the item after it."""
    subject = _Original(original).subject
    mixed, alt = "_004_SEZPR06MB5432A1B2C3D4E5F6G7H8apcprd06prodo_", "_000_SEZPR06MB5432A1B2C3D4E5F6G7H8apcprd06prodo_"
    head = _headers([
        ("From", f"{_reporter_name(reporter)} <{reporter}>"), ("To", to),
        ("Subject", "FW: " + subject), ("Thread-Topic", subject),
        ("Thread-Index", "AQHbRWlq2o5vB3mDfUuQ0c3pEJ8Lxw=="), ("Date", _DATE),
        ("Message-ID", "<SEZPR06MB5432A1B2C3D4E5F6G7H8@SEZPR06MB5432.apcprd06.prod.outlook.com>"),
        ("Accept-Language", "en-US"), ("Content-Language", "en-US"),
        ("X-MS-Has-Attach", "yes"), ("X-MS-TNEF-Correlator", ""),
        ("Content-Type", f'multipart/mixed; boundary="{mixed}"'), ("MIME-Version", "1.0"),
    ])
    note = _alternative(alt, "Spam, please block.\n\n",
                        "<html><body><div class=WordSection1><p class=MsoNormal>Spam, please block.<o:p></o:p></p>"
                        "</div></body></html>\n", plain_ctype='text/plain; charset="us-ascii"',
                        html_ctype='text/html; charset="us-ascii"')
    return (head + b"\r\n--" + mixed.encode() + b"\r\nContent-Type: multipart/alternative;\r\n\tboundary=\""
            + alt.encode() + b"\"\r\n\r\n" + note + b"\r\n--" + mixed.encode()
            + b"\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment;\r\n"
            b"\tcreation-date=\"Wed, 02 Dec 2026 02:15:00 GMT\";\r\n"
            b"\tmodification-date=\"Wed, 02 Dec 2026 02:15:00 GMT\"\r\n\r\n"
            + original + (b"" if original.endswith(b"\n") else b"\r\n") + b"\r\n--" + mixed.encode() + b"--\r\n")


# -- inline forwards ------------------------------------------------------------------------
NOTE = "Spam, please block."  # what the reporter wrote above the forward

GMAIL_LABELS = {"en": ("---------- Forwarded message ---------", "From", "Date", "Subject", "To"),
                "vi": ("---------- Thư đã chuyển tiếp ---------", "Từ", "Date", "Chủ đề", "Tới")}


def gmail_inline(original: bytes, reporter: str, to: str, *, lang: str = "en", note: str = NOTE) -> bytes:
    """Gmail's Forward: text and HTML alternatives, the quote in `<div class="gmail_quote">`."""
    o = _Original(original)
    marker, l_from, l_date, l_subject, l_to = GMAIL_LABELS[lang]
    date = "Tue, Dec 1, 2026 at 5:00\u202fPM" if lang == "en" else "Vào 17:00, Th 3, 1 thg 12, 2026"
    sender_text = o.quoted_from
    plain = (f"{note}\n\n{marker}\n{l_from}: {sender_text}\n{l_date}: {date}\n"
             f"{l_subject}: {o.subject}\n{l_to}: <{o.to}>\n\n\n{o.text}\n")
    name_html = (f'<strong class="gmail_sendername" dir="auto">{html.escape(o.name)}</strong> ' if o.name else "")
    rich = (f'<div dir="ltr">{html.escape(note)}<br><br><div class="gmail_quote gmail_quote_container">'
            f'<div dir="ltr" class="gmail_attr">{marker}<br>{l_from}: {name_html}<span dir="auto">&lt;'
            f'<a href="mailto:{o.address}">{o.address}</a>&gt;</span><br>{l_date}: {date}<br>'
            f'{l_subject}: {html.escape(o.subject)}<br>{l_to}: &lt;<a href="mailto:{o.to}">{o.to}</a>&gt;<br>'
            f'</div><br><br>{o.html}</div></div>\n')
    boundary = "000000000000c7d1e2062b4f1a3e"
    head = _headers([
        ("MIME-Version", "1.0"), ("From", f"{_reporter_name(reporter)} <{reporter}>"), ("Date", _DATE),
        ("Message-ID", "<CAJx9K2vN0yQ_7pE3m+Tt5b8wXyZ1aB2cD3eF4gH5iJ6kL7mN8o@mail.gmail.com>"),
        ("Subject", "Fwd: " + o.subject), ("To", to),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ])
    return head + b"\r\n" + _alternative(boundary, plain, rich)


OUTLOOK_LABELS = {"en": ("-----Original Message-----", "From", "Sent", "To", "Subject"),
                  "vi": ("-----Thư gốc-----", "Từ", "Đã gửi", "Đến", "Chủ đề")}


def outlook_inline(original: bytes, reporter: str, to: str, *, lang: str = "en", html_only: bool = False,
                   note: str = NOTE) -> bytes:
    """Outlook's Forward: `-----Original Message-----` in the text, the bordered `<div>` in the
    HTML (Word's), or the HTML alone (`html_only`: what reaches us of a message sent as HTML)."""
    o = _Original(original)
    marker, l_from, l_sent, l_to, l_subject = OUTLOOK_LABELS[lang]
    sent = "Tuesday, December 1, 2026 5:00 PM" if lang == "en" else "Thứ Ba, 1 tháng 12, 2026 17:00"
    sender_text = o.quoted_from
    plain = (f"{note}\n\n{marker}\n{l_from}: {sender_text} \n{l_sent}: {sent}\n"
             f"{l_to}: {o.to}\n{l_subject}: {o.subject}\n\n{o.text}\n")
    rich = ('<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office">'
            '<head><meta http-equiv=Content-Type content="text/html; charset=utf-8">'
            '<meta name=Generator content="Microsoft Word 15 (filtered medium)"><style><!-- p.MsoNormal '
            '{margin:0in;font-size:11.0pt;font-family:"Calibri",sans-serif;} --></style></head>'
            '<body lang=EN-US link="#0563C1" vlink="#954F72" style=\'word-wrap:break-word\'>'
            f'<div class=WordSection1><p class=MsoNormal>{html.escape(note)}<o:p></o:p></p>'
            '<p class=MsoNormal><o:p>&nbsp;</o:p></p><div><div style=\'border:none;border-top:solid #E1E1E1 1.0pt;'
            f'padding:3.0pt 0in 0in 0in\'><p class=MsoNormal><b>{l_from}:</b> {html.escape(sender_text)} <br>'
            f'<b>{l_sent}:</b> {sent}<br><b>{l_to}:</b> {html.escape(o.to)}<br><b>{l_subject}:</b> '
            f'{html.escape(o.subject)}<o:p></o:p></p></div></div><p class=MsoNormal><o:p>&nbsp;</o:p></p>'
            f'{o.html}</div></body></html>\n')
    alt = "_000_TYZPR06MB6543F1E2D3C4B5A6978Eapcprd06prodo_"
    subject = ("FW: " if lang == "en" else "CHUYỂN TIẾP: ") + o.subject
    fields = [("From", f"{_reporter_name(reporter)} <{reporter}>"), ("To", to), ("Subject", subject),
              ("Thread-Topic", o.subject), ("Thread-Index", "AQHbRWlq2o5vB3mDfUuQ0c3pEJ8Lxw=="),
              ("Date", _DATE), ("Message-ID", "<TYZPR06MB6543F1E2D3C4B5A6978E@TYZPR06MB6543.apcprd06.prod.outlook.com>"),
              ("Accept-Language", "en-US" if lang == "en" else "vi-VN"), ("X-MS-Has-Attach", ""),
              ("MIME-Version", "1.0")]
    if html_only:
        return _headers(fields + [("Content-Type", 'text/html; charset="utf-8"'),
                                  ("Content-Transfer-Encoding", "quoted-printable")]) + b"\r\n" + _qp(rich)
    return (_headers(fields + [("Content-Type", f'multipart/alternative; boundary="{alt}"')]) + b"\r\n"
            + _alternative(alt, plain, rich, plain_ctype='text/plain; charset="utf-8"',
                           html_ctype='text/html; charset="utf-8"'))


def outlook_web_inline(original: bytes, reporter: str, to: str) -> bytes:
    """Outlook on the web / new Outlook: a line of underscores, then From / Sent / To / Subject."""
    o = _Original(original)
    sender_text = o.quoted_from
    plain = (f"Spam.\n\n________________________________\nFrom: {sender_text}\n"
             f"Sent: Tuesday, December 1, 2026 17:00\nTo: {o.to}\nSubject: {o.subject}\n\n{o.text}\n")
    return _headers([("From", reporter), ("To", to), ("Subject", "Fw: " + o.subject), ("Date", _DATE),
                     ("Message-ID", "<PSAPR06MB4321ABCDEF@PSAPR06MB4321.apcprd06.prod.outlook.com>"),
                     ("Content-Type", 'text/plain; charset="utf-8"'), ("Content-Transfer-Encoding", "quoted-printable"),
                     ("MIME-Version", "1.0")]) + b"\r\n" + _qp(plain)


def apple_inline(original: bytes, reporter: str, to: str, *, note: str = NOTE) -> bytes:
    """Apple Mail's Forward: `Begin forwarded message:`, quoted with `> ` in the text part and in
    a `<blockquote type="cite">` in the HTML one."""
    o = _Original(original)
    sender_text = o.quoted_from
    quoted = "\n".join("> " + line if line else ">" for line in
                       ["Begin forwarded message:", "", f"From: {sender_text}", f"Subject: {o.subject}",
                        "Date: 1 December 2026 at 17:00:00 GMT+7", f"To: {o.to}", "", *o.text.splitlines()])
    plain = note + "\n\n" + quoted + "\n\n"
    span = '<span style="font-family: -webkit-system-font, Helvetica Neue, Helvetica, sans-serif;">'
    rich = ('<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
            '<body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;">'
            f'{html.escape(note)}<br id="lineBreakAtBeginningOfMessage"><div><br><blockquote type="cite">'
            '<div>Begin forwarded message:</div><br class="Apple-interchange-newline">'
            f'<div style="margin: 0px;">{span}<b>From: </b></span>{span}{html.escape(o.name)} &lt;'
            f'<a href="mailto:{o.address}">{o.address}</a>&gt;<br></span></div>'
            f'<div style="margin: 0px;">{span}<b>Subject: </b></span>{span}<b>{html.escape(o.subject)}</b><br></span></div>'
            f'<div style="margin: 0px;">{span}<b>Date: </b></span>{span}1 December 2026 at 17:00:00 GMT+7<br></span></div>'
            f'<div style="margin: 0px;">{span}<b>To: </b></span>{span}{html.escape(o.to)}<br></span></div><br>'
            f'<div>{o.html}</div></blockquote></div><br></body></html>\n')
    boundary = "Apple-Mail=_5E3F7A1C-2B4D-4C6E-8F0A-1B2C3D4E5F60"
    head = _headers([("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
                     ("Mime-Version", "1.0 (Mac OS X Mail 16.0 \\(3774.600.62\\))"),
                     ("Subject", "Fwd: " + o.subject), ("From", f"{_reporter_name(reporter)} <{reporter}>"),
                     ("Date", _DATE), ("Message-Id", "<8A6C2E1F-4B3D-4E5F-9A0B-1C2D3E4F5A6B@test.example>"),
                     ("To", to), ("X-Mailer", "Apple Mail (3774.600.62)")])
    b = boundary.encode()
    return (head + b"\r\n\r\n--" + b + b"\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain;\r\n"
            b"\tcharset=utf-8\r\n\r\n" + _qp(plain) + b"\r\n--" + b + b"\r\nContent-Transfer-Encoding: quoted-printable\r\n"
            b"Content-Type: text/html;\r\n\tcharset=utf-8\r\n\r\n" + _qp(rich) + b"\r\n--" + b + b"--\r\n")


def vietnamese_inline(original: bytes, reporter: str, to: str) -> bytes:
    """A Vietnamese-localised webmail's Forward (plain text, base64 UTF-8):
    `---------- Thư đã chuyển tiếp ----------` with Từ / Ngày / Tiêu đề / Đến labels."""
    o = _Original(original)
    sender_text = f'"{o.name}" <{o.address}>' if o.name else o.address
    plain = (f"Thư rác, đề nghị chặn.\n\n---------- Thư đã chuyển tiếp ----------\nTừ: {sender_text}\n"
             f"Ngày: 01/12/2026 17:00\nTiêu đề: {o.subject}\nĐến: {o.to}\n\n{o.text}\n")
    return _headers([("From", f"Người dùng <{reporter}>"), ("To", to), ("Subject", "Chuyển tiếp: " + o.subject),
                     ("Date", _DATE), ("Message-ID", "<1733105702.4421.vn-webmail@test.example>"),
                     ("X-Mailer", "Zimbra 10.0.6_GA_4601 (ZimbraWebClient - GC131 [vi])"), ("MIME-Version", "1.0"),
                     ("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "base64")]) \
        + b"\r\n" + _b64(plain)


# -- ARF (RFC 5965) -----------------------------------------------------------------------------
def arf_report(original: bytes, reporter: str, to: str, *, source_ip: str = SPAMMER_IP,
               headers_only: bool = False) -> bytes:
    """A mailbox provider's feedback-loop report (as Yahoo's and Microsoft's look): text part,
    `message/feedback-report`, and the original (or its headers only: `text/rfc822-headers`)."""
    o = _Original(original)
    boundary = "----=_Part_4183_1398842203.1733105702811"
    feedback = (f"Feedback-Type: abuse\r\nUser-Agent: Yahoo!-Mail-Feedback/2.0\r\nVersion: 1\r\n"
                f"Original-Mail-From: <{o.address}>\r\nOriginal-Rcpt-To: <{o.to}>\r\n"
                f"Received-Date: Tue, 01 Dec 2026 10:00:01 +0000\r\nSource-IP: {source_ip}\r\n"
                f"Reported-Domain: {o.address.rpartition('@')[2]}\r\n"
                f"Authentication-Results: mta1000.mail.isp.example; spf=pass smtp.mailfrom={o.address.rpartition('@')[2]}\r\n")
    if headers_only:
        end = original.find(b"\r\n\r\n")
        end = original.find(b"\n\n") if end < 0 else end
        kind, copy = b"text/rfc822-headers", original[:end] + b"\r\n"
    else:
        kind, copy = b"message/rfc822", original
    head = _headers([("From", f"Mail Feedback Loop <{reporter}>"), ("To", to), ("Subject", "FW: " + o.subject),
                     ("Date", _DATE), ("Message-ID", "<fbl.1733105702811.4183@feedback.isp.example>"),
                     ("MIME-Version", "1.0"),
                     ("Content-Type", f'multipart/report; report-type=feedback-report; boundary="{boundary}"')])
    b = boundary.encode()
    return (head + b"\r\n--" + b + b"\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
            + f"This is an email abuse report for an email message received from IP {source_ip} on "
              f"Tue, 01 Dec 2026 10:00:01 +0000.\r\n".encode()
            + b"\r\n--" + b + b"\r\nContent-Type: message/feedback-report\r\n\r\n" + feedback.encode()
            + b"\r\n--" + b + b"\r\nContent-Type: " + kind + b"\r\nContent-Disposition: inline\r\n\r\n" + copy
            + (b"" if copy.endswith(b"\n") else b"\r\n") + b"\r\n--" + b + b"--\r\n")


# -- what cannot be read --------------------------------------------------------------------
def bare_forward(original: bytes, reporter: str, to: str) -> bytes:
    """A "forward" with no marker and no header block: the reporter pasted the text only."""
    o = _Original(original)
    return _headers([("From", reporter), ("To", to), ("Subject", "Fwd: " + o.subject), ("Date", _DATE),
                     ("Message-ID", "<bare-1@test.example>"), ("Content-Type", "text/plain; charset=utf-8"),
                     ("Content-Transfer-Encoding", "8bit")]) + b"\r\n" + ("This is spam:\r\n\r\n" + o.text).encode()


def empty_report(reporter: str, to: str) -> bytes:
    return _headers([("From", reporter), ("To", to), ("Subject", "spam"), ("Date", _DATE),
                     ("Message-ID", "<empty-1@test.example>")]) + b"\r\n"
