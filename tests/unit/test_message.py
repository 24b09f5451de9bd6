"""ParsedMessage: parse once, never raise, bounded work."""
from __future__ import annotations

import base64
import random

import pytest

from mailguard.scan import caps
from mailguard.scan import message as message_module
from mailguard.scan.encoded_words import decode_header_value
from mailguard.domains import public_suffix_list
from mailguard.scan.links import Link, parse_ipv4
from mailguard.scan.message import ParsedMessage, Part
from realservers import CORPORA


def parse(raw: bytes | str) -> ParsedMessage:
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    msg = ParsedMessage.from_bytes(raw)
    assert isinstance(msg, ParsedMessage)
    return msg


def codes(msg: ParsedMessage) -> set[str]:
    return {name for name, _ in msg.problem_symbols()}


def multipart(*parts: str, boundary: str = "BOUND", headers: str = "") -> bytes:
    body = "".join(f"--{boundary}\n{p}\n" for p in parts) + f"--{boundary}--\n"
    return (f"From: a@example.com\nSubject: test\n{headers}MIME-Version: 1.0\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n{body}').encode("utf-8")


# ------------------------------------------------------------------------------- corpora
def test_every_corpus_file_parses():
    folders = [CORPORA / "spamassassin", CORPORA / "samples"]
    if not all(f.is_dir() for f in folders):
        pytest.skip("shared corpora not present")
    files = [p for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()]
    assert len(files) > 6000
    with_text = 0
    for path in files:
        msg = ParsedMessage.from_bytes(path.read_bytes())
        assert isinstance(msg, ParsedMessage), path
        assert msg.parts, path
        assert "MIME_PARSE_ERROR" not in codes(msg), path
        with_text += bool(msg.text)
    assert with_text > 0.95 * len(files)


def test_gtube_sample_text_and_headers():
    path = CORPORA / "samples" / "sample-spam.txt"
    if not path.is_file():
        pytest.skip("shared corpora not present")
    msg = parse(path.read_bytes())
    assert "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X" in msg.text
    assert msg.subject
    assert msg.message_id


# ------------------------------------------------------------------------------- headers
def test_rfc2047_utf8_b_and_q():
    raw = (b"Subject: =?UTF-8?B?S2h1eeG6v24gbcOjaQ==?= =?utf-8?q?_gi=E1=BA=A3m_gi=C3=A1?=\n"
           b"From: =?utf-8?Q?Nguy=E1=BB=85n_V=C4=83n?= <nv@example.vn>\n"
           b"To: x@example.com\nMessage-ID: <abc@example.vn>\n\nbody\n")
    msg = parse(raw)
    assert msg.subject == "Khuyến mãi giảm giá"  # the space between the words is not text (RFC 2047 §6.2)
    assert msg.from_header == "Nguyễn Văn <nv@example.vn>"
    assert msg.message_id == "<abc@example.vn>"
    assert msg.header("SUBJECT") == msg.subject
    assert msg.headers_named("to") == ["x@example.com"]
    assert msg.header("x-missing") is None and msg.headers_named("x-missing") == []
    assert not codes(msg)


def test_vietnamese_subject_b():
    word = base64.b64encode("Khuyến mãi".encode()).decode()
    msg = parse(f"Subject: =?UTF-8?B?{word}?=\n\nx\n")
    assert msg.subject == "Khuyến mãi"


def test_multibyte_character_split_across_words():
    data = "Khuyến mãi".encode()
    first, second = base64.b64encode(data[:5]).decode(), base64.b64encode(data[5:]).decode()
    msg = parse(f"Subject: =?utf-8?B?{first}?=\n =?utf-8?B?{second}?=\n\nx\n")
    assert msg.subject == "Khuyến mãi"


def test_encoded_word_mixed_with_text_and_other_charsets():
    msg = parse(b"Subject: Re: =?iso-8859-1?q?caf=E9?= and =?koi8-r?b?8NLJ18XU?= !\n\nx\n")
    assert msg.subject == "Re: café and Привет !"


def test_broken_charset_in_header_is_best_effort():
    word = base64.b64encode("Xin chào".encode()).decode()
    msg = parse(f"Subject: =?x-no-such-charset?B?{word}?=\n\nx\n")
    assert msg.subject == "Xin chào"
    assert "MIME_BAD_CHARSET" in codes(msg)


def test_bad_encoded_words():
    msg = parse(b"Subject: =?utf-8?B?SGVsbG8*!!?= and =?utf-8?B?unterminated\n\nx\n")
    assert "MIME_BAD_ENCODED_WORD" in codes(msg)
    assert msg.subject.startswith("Hello")


def test_raw_8bit_headers():
    msg = parse("Subject: Giảm giá 50%\n\nx\n".encode())  # SMTPUTF8-style raw UTF-8: fine
    assert msg.subject == "Giảm giá 50%"
    assert "MIME_8BIT_HEADER" not in codes(msg)
    msg = parse("Subject: caf\xe9 cr\xe8me\n\nx\n".encode("latin-1"))  # no charset anywhere
    assert msg.subject == "café crème"
    assert "MIME_8BIT_HEADER" in codes(msg)


def test_nul_bytes_removed_from_headers():
    msg = parse(b"Subject: he\x00llo =?utf-8?q?w=00orld?=\n\nbody\n")
    assert msg.subject == "hello world"
    assert "MIME_NUL_BYTES" in codes(msg)


def test_headers_in_order_and_unfolded():
    msg = parse(b"Received: from a\n\tby b\nReceived: from c\nSubject: one\n  two\n\nx\n")
    assert msg.headers == (("Received", "from a\tby b"), ("Received", "from c"),
                           ("Subject", "one  two"))
    assert msg.headers_named("received") == ["from a\tby b", "from c"]


def test_missing_charset_with_8bit_body():
    msg = parse("Subject: x\n\nGiảm giá 50% hôm nay\n".encode())
    assert "Giảm giá" in msg.text
    assert "MIME_MISSING_CHARSET" in codes(msg)
    msg = parse("Subject: x\n\ncaf\xe9\n".encode("latin-1"))
    assert "café" in msg.text
    assert "MIME_MISSING_CHARSET" in codes(msg)
    assert "MIME_MISSING_CHARSET" not in codes(parse(b"Subject: x\n\nplain ascii\n"))


def test_unknown_and_mismatched_body_charsets():
    raw = multipart("Content-Type: text/plain; charset=x-bogus\n\nXin chào",
                    "Content-Type: text/plain; charset=windows-874\n\nok")
    msg = parse(raw)
    assert "Xin chào" in msg.parts[0].text
    assert msg.parts[0].charset == "x-bogus"
    assert "MIME_BAD_CHARSET" in codes(msg)
    raw = b"Content-Type: text/plain; charset=utf-8\n\ncaf\xe9 \xff\n"
    msg = parse(raw)
    assert msg.text.startswith("caf")
    assert "MIME_CHARSET_MISMATCH" in codes(msg)


# ------------------------------------------------------------------------------- MIME structure
def test_parts_records():
    pdf = base64.b64encode(b"%PDF-1.4 fake" * 10).decode()
    raw = multipart(
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        "Gi=E1=BA=A3m gi=C3=A1",
        "Content-Type: application/pdf; name=\"report.pdf\"\n"
        "Content-Disposition: attachment; filename*=utf-8''b%C3%A1o%20c%C3%A1o.pdf\n"
        f"Content-Transfer-Encoding: base64\n\n{pdf}",
        "Content-Type: text/plain; name=\"=?utf-8?B?" + base64.b64encode("ghi chú.txt".encode()).decode()
        + "?=\"\n\nattached text")
    msg = parse(raw)
    assert [p.index for p in msg.parts] == [0, 1, 2]
    body, pdf_part, txt = msg.parts
    assert (body.content_type, body.charset, body.text, body.is_attachment) == \
        ("text/plain", "utf-8", "Giảm giá", False)
    assert pdf_part.filename == "báo cáo.pdf"
    assert pdf_part.disposition == "attachment" and pdf_part.is_attachment
    assert pdf_part.size == len(b"%PDF-1.4 fake" * 10) and pdf_part.text == ""
    assert txt.filename == "ghi chú.txt" and txt.is_attachment and txt.text == "attached text"
    assert [p.filename for p in msg.attachments] == ["báo cáo.pdf", "ghi chú.txt"]
    assert msg.attachment_names == ("báo cáo.pdf", "ghi chú.txt")
    assert msg.text == "Giảm giá"  # attachments are not body text
    assert not codes(msg)


def test_nested_message_rfc822_parts_are_walked():
    inner = "Subject: inner\nContent-Type: text/plain\n\ninner body http://inner.example/"
    raw = multipart("Content-Type: text/plain\n\nouter body", f"Content-Type: message/rfc822\n\n{inner}")
    msg = parse(raw)
    assert [p.text for p in msg.parts] == ["outer body", "inner body http://inner.example/"]
    assert msg.parts[1].depth == 2
    assert [link.host for link in msg.links] == ["inner.example"]


def test_missing_boundary_parameter():
    msg = parse(b"Content-Type: multipart/mixed\n\n--X\nContent-Type: text/plain\n\nhello\n--X--\n")
    assert "MIME_BAD_BOUNDARY" in codes(msg)
    assert "hello" in msg.text


def test_boundary_never_found_and_missing_close():
    msg = parse(b'Content-Type: multipart/mixed; boundary="NOPE"\n\n--X\n\nhello\n')
    assert "MIME_BAD_BOUNDARY" in codes(msg)
    msg = parse(b'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\n'
                b'hello there\n')
    assert "MIME_BAD_BOUNDARY" in codes(msg)
    assert "hello there" in msg.text


def test_nul_bytes_in_body():
    msg = parse(b"Subject: x\n\nhel\x00lo wor\x00ld\n")
    assert "MIME_NUL_BYTES" in codes(msg)
    assert msg.text == "hello world\n"


def test_ten_thousand_parts_capped():
    parts = [f"Content-Type: text/plain\n\npart {i}" for i in range(10_000)]
    msg = parse(multipart(*parts))
    assert "MIME_TOO_MANY_PARTS" in codes(msg)
    assert 0 < len(msg.parts) <= caps.MAX_PARTS
    assert msg.truncated
    assert "MIME_BAD_BOUNDARY" not in codes(msg)  # our stop is not the sender's defect


def test_deep_nesting_capped():
    raw = b"Subject: deep\n" + b"".join(
        b"Content-Type: multipart/mixed; boundary=B%d\n\n--B%d\n" % (i, i) for i in range(3000))
    raw += b"Content-Type: text/plain\n\n" + b"x\n" * 200_000
    msg = parse(raw)
    assert "MIME_TOO_DEEP" in codes(msg)


def test_megabyte_header_line():
    raw = b"Subject: " + b"A" * 1_000_000 + b"\nFrom: a@example.com\n\nbody\n"
    msg = parse(raw)
    assert "MIME_LONG_HEADER" in codes(msg)
    assert len(msg.subject) == caps.MAX_HEADER_CHARS
    assert msg.from_header == "a@example.com" and msg.text == "body\n"


def test_long_header_line_over_998():
    msg = parse(b"X-Long: " + b"b" * 1200 + b"\n\nbody\n")
    assert "MIME_LONG_HEADER" in codes(msg)
    assert "MIME_LONG_HEADER" not in codes(parse(b"X-Ok: " + b"b" * 900 + b"\n\nbody\n"))


def test_header_flood_bounded():
    raw = b"Subject: x\n" + b"X-A: b\n" * 500_000 + b"\nbody\n"
    msg = parse(raw)
    assert codes(msg) & {"MIME_TOO_MANY_HEADERS", "MIME_TRUNCATED"}
    assert len(msg.headers) <= caps.MAX_HEADERS


def test_semicolon_padded_content_type_is_read():
    raw = (b"Content-Type: multipart/mixed" + b";" * 1_000_000 + b' boundary="B"\n\n'
           b"--B\nContent-Type: text/plain" + b"; a=b" * 100_000 + b"\n\nhello\n--B--\n")
    msg = parse(raw)
    assert "MIME_LONG_HEADER" in codes(msg) or "MIME_HEADER_DEFECT" in codes(msg)
    assert "hello" in msg.text


def test_empty_parameter_padding_keeps_charset():
    msg = parse(b"Content-Type: text/plain;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;"
                b";;;;;;;;;;;;;;;;; charset=koi8-r\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n")
    assert msg.parts[0].charset == "koi8-r"
    assert msg.text.strip() == "Привет"
    assert "MIME_HEADER_DEFECT" in codes(msg)


@pytest.mark.parametrize("body, expected", [
    ("aGVsbG8gd29ybGQ*!!=\n", b"hello world"),  # invalid characters
    ("aGVsbG8gd29ybGQ\n", b"hello world"),  # missing padding
    ("aGVsbG8=IHdvcmxk\n", b"hello world"),  # data after padding
    ("aGVsbG8gd29ybGQhA\n", b"hello world!"),  # bad length
])
def test_wrong_base64(body, expected):
    raw = ("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" + body)
    msg = parse(raw)
    assert "MIME_BAD_BASE64" in codes(msg)
    assert msg.text.encode().startswith(expected)


def test_good_base64_has_no_problem():
    data = base64.encodebytes("Khuyến mãi lớn".encode()).decode()
    msg = parse("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" + data)
    assert msg.text == "Khuyến mãi lớn" and not codes(msg)


def test_unknown_transfer_encoding():
    msg = parse(b"Content-Type: text/plain\nContent-Transfer-Encoding: x-rot13\n\nhello\n")
    assert "MIME_BAD_CTE" in codes(msg) and "hello" in msg.text


def test_text_caps():
    big = "Content-Type: text/plain; charset=utf-8\n\n" + "ế" * (caps.MAX_PART_TEXT // 2 + 10)
    msg = parse(big)
    assert "MIME_TRUNCATED" in codes(msg)
    assert len(msg.parts[0].text) <= caps.MAX_PART_TEXT // 2
    assert "\ufffd" not in msg.parts[0].text[-5:]  # a cut character is dropped, not replaced
    parts = [f"Content-Type: text/plain\n\n{'x' * (caps.MAX_PART_TEXT - 10)}" for _ in range(6)]
    msg = parse(multipart(*parts))
    assert sum(len(p.text) for p in msg.parts) <= caps.MAX_TOTAL_TEXT
    assert msg.parts[-1].text == "" and "MIME_TRUNCATED" in codes(msg)


@pytest.mark.parametrize("raw", [
    b"", b"\n", b"\r\n\r\n", b"garbage without headers", b"From nobody Mon Jan 1 00:00:00 2024\n",
    b":\n:\n\n", b"Content-Type: multipart/\n\n", b"Content-Type: /\n\n--\n",
    b"Content-Type: text/plain; charset=\"\n\n\xff",
    b"Content-Type: text/plain; charset*=''\n\nx", b"Content-Type: text/plain; charset=punycode\n\n\xff" * 3,
    b"Content-Type: text/plain; charset=base64\n\nabc", b"Content-Type: message/rfc822\n\n",
    b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\nAction: failed\n",
    b"Content-Type: multipart/digest; boundary=D\n\n--D\n\nSubject: in digest\n\nhi\n--D--\n",
    b"Content-Disposition: attachment; filename*0*=x-bogus''%FF%FE; filename*1=a\n\nx",
    b"Content-Transfer-Encoding: x-uuencode\n\nbegin 644 f\n#86)C\n`\nend\n",
    b"\x00" * 1000, bytes(range(256)) * 100, "Subject: héllo\n\n€".encode("utf-16"),
])
def test_never_raises_on_odd_input(raw):
    msg = parse(raw)
    assert isinstance(msg.problem_symbols(), list)


def test_never_raises_on_random_bytes_or_non_bytes():
    rng = random.Random(91)
    alphabet = b"\r\n:;=?-\"' \t<>/abcBXQ\x00\xff\xc3"
    for _ in range(300):
        raw = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        parse(b"Content-Type: multipart/mixed; boundary=b\n\n--b\n" + raw)
        parse(raw)
    for odd in (None, 42, "Subject: str input\n\nbody", bytearray(b"Subject: ba\n\nx"),
                memoryview(b"Subject: mv\n\nx")):
        assert isinstance(ParsedMessage.from_bytes(odd), ParsedMessage)
    assert ParsedMessage.from_bytes("Subject: str input\n\nbody").subject == "str input"


def test_internal_failure_falls_back(monkeypatch):
    def boom(raw):
        raise RuntimeError("bug")
    monkeypatch.setattr(message_module, "_build", boom)
    msg = ParsedMessage.from_bytes(b"Subject: =?utf-8?q?h=C3=AD?=\r\n there\r\nTo: x\r\n\r\n"
                                   b"see http://fallback.example/\r\n")
    assert msg.subject == "hí there" and msg.header("to") == "x"
    assert msg.text.startswith("see")
    assert "MIME_PARSE_ERROR" in codes(msg)
    assert [link.domain for link in msg.links] == ["fallback.example"]


def test_problem_symbols_are_deduplicated():
    word = base64.b64encode(b"x").decode()
    msg = parse("".join(f"X-H{i}: =?x-bad{i}?B?{word}?=\n" for i in range(6)) + "\nbody\n")
    symbols = msg.problem_symbols()
    assert [name for name, _ in symbols] == ["MIME_BAD_CHARSET"]
    assert symbols[0][1].endswith("+3 more")


# ------------------------------------------------------------------------------- HTML
HTML = """<!DOCTYPE html><html><head><title>Title here</title>
<style>p { color: red }</style><script>var hidden = "script text";</script></head>
<body><!-- a comment --><p>Gi&aacute;&nbsp;t&#7889;t &amp; r&#x1EBB;</p>
<p>Click <a href="https://www.bbc.co.uk/news?a=1&amp;b=2">the <b>BBC</b> news</a> now.</p>
<div style="display: none">invisible words</div><span hidden>also invisible</span>
<p>V<b>i</b>agra</p><table><tr><td>cell1</td><td>cell2</td></tr></table>
<a href="mailto:x@example.com">mail</a><a href="/relative">rel</a>
<a href="HXXP://phish.example/login"><img src="http://img.example/x.png" alt="logo"></a>
<script>document.write("<a href='http://never.example/'>x</a>")</script>
</body></html>"""


def test_html_visible_text():
    msg = parse("Content-Type: text/html; charset=utf-8\n\n" + HTML)
    text = msg.text
    assert "Giá tốt & rẻ" in text
    assert "Click the BBC news now." in text
    assert "Viagra" in text
    assert "cell1 cell2" in text
    for hidden in ("Title here", "color: red", "script text", "a comment", "invisible", "never.example",
                   "DOCTYPE"):
        assert hidden not in text
    assert msg.parts[0].html == HTML
    assert msg.html == HTML


def test_html_anchor_text_attached_to_links():
    msg = parse("Content-Type: text/html; charset=utf-8\n\n" + HTML)
    by_host = {link.host: link for link in msg.links}
    bbc = by_host["www.bbc.co.uk"]
    assert bbc.anchor_text == "the BBC news" and bbc.found_by == "href"
    assert bbc.url == "https://www.bbc.co.uk/news?a=1&b=2"
    assert bbc.domain == "bbc.co.uk" and bbc.part_index == 0
    phish = by_host["phish.example"]
    assert phish.found_by == "obfuscated" and phish.url == "http://phish.example/login"
    assert phish.anchor_text == ""
    assert "never.example" not in by_host and "img.example" not in by_host
    assert set(by_host) == {"www.bbc.co.uk", "phish.example"}


def test_html_unclosed_head_and_stray_brackets():
    msg = parse("Content-Type: text/html\n\n<html><head><meta charset=x>Hello <p>a < b > c <<d "
                "<a href='http://x.example/'>go")
    assert msg.text.startswith("Hello")
    assert "a < b > c <<d" in msg.text
    assert msg.links[0].anchor_text == "go"


def test_html_hidden_link_still_collected():
    msg = parse('Content-Type: text/html\n\n<div style="display:none"><a href="http://hid.example/">'
                'secret</a></div>shown')
    assert msg.text == "shown"
    assert [(link.host, link.anchor_text) for link in msg.links] == [("hid.example", "")]


def test_html_adversarial_inputs_bounded():
    for body in ("<a" * 500_000, "<" * 1_000_000, "</" * 500_000, "<!--" * 250_000,
                 '<a "' * 250_000, "<a b=" * 200_000, "<b>x</b>" * 125_000,
                 ("<a " + "b=c " * 2000 + ">") * 125, "&#x" * 300_000, "<head>" * 160_000):
        raw = b"Content-Type: text/html\n\n" + body.encode()
        msg = parse(raw)
        assert len(msg.parts) == 1 and len(msg.text) <= caps.MAX_TOTAL_TEXT, body[:20]


# ------------------------------------------------------------------------------- links
def links_of(text: str) -> list[Link]:
    return list(parse("Content-Type: text/plain; charset=utf-8\n\n" + text).links)


def test_plain_text_links():
    links = links_of("See http://Example.COM/Path?q=1, (https://www.bbc.co.uk/a_b) and "
                     "www.shop.example.com.vn/sale. Mail a@b.example.")
    assert [(l.url, l.host, l.domain, l.found_by, l.anchor_text, l.part_index) for l in links] == [
        ("http://example.com/Path?q=1", "example.com", "example.com", "text", "", 0),
        ("https://www.bbc.co.uk/a_b", "www.bbc.co.uk", "bbc.co.uk", "text", "", 0),
        ("http://www.shop.example.com.vn/sale", "www.shop.example.com.vn", "example.com.vn", "text", "", 0),
    ]


def test_obfuscated_links():
    links = links_of("hxxp://evil.example/x http:\\\\evil2.example hXXps://evil3.example/ "
                     "http://3232235777/ http://0xC0A80101/a http://0300.0250.1.1/ http://192.168.1.1/ok")
    got = [(l.url, l.host, l.ip, l.domain, l.found_by) for l in links]
    assert got == [
        ("http://evil.example/x", "evil.example", None, "evil.example", "obfuscated"),
        ("http://evil2.example", "evil2.example", None, "evil2.example", "obfuscated"),
        ("https://evil3.example/", "evil3.example", None, "evil3.example", "obfuscated"),
        ("http://192.168.1.1/", "192.168.1.1", "192.168.1.1", None, "obfuscated"),
        ("http://192.168.1.1/a", "192.168.1.1", "192.168.1.1", None, "obfuscated"),
        # http://0300.0250.1.1/ is the same link as http://3232235777/: recorded once
        ("http://192.168.1.1/ok", "192.168.1.1", "192.168.1.1", None, "text"),
    ]


def test_ipv4_forms():
    assert parse_ipv4("3232235777") == "192.168.1.1"
    assert parse_ipv4("0xc0a80101") == "192.168.1.1"
    assert parse_ipv4("0300.0250.0001.0001") == "192.168.1.1"
    assert parse_ipv4("192.168.257") == "192.168.1.1"
    assert parse_ipv4("1.2.3.4.") == "1.2.3.4"
    assert parse_ipv4("256.1.1.1") is None
    assert parse_ipv4("4294967296") is None
    assert parse_ipv4("1.2.3.4.5") is None
    assert parse_ipv4("09.1.1.1") is None


def test_idn_hosts():
    links = links_of("Xem http://khuyến-mãi.vn/abc và http://xn--bcher-kva.example/ "
                     "http://www.пример.рф/")
    vn = "khuyến-mãi".encode("idna").decode() + ".vn"
    assert vn.startswith("xn--")
    assert [(l.host, l.host_unicode, l.domain) for l in links] == [
        (vn, "khuyến-mãi.vn", vn),
        ("xn--bcher-kva.example", "bücher.example", "xn--bcher-kva.example"),
        ("www.xn--e1afmkfd.xn--p1ai", "www.пример.рф", "xn--e1afmkfd.xn--p1ai"),
    ]
    assert links[0].url == f"http://{vn}/abc"


def test_registered_domains_by_psl():
    links = links_of("http://www.bbc.co.uk/ http://a.b.example.com.vn/x https://foo.blogspot.com/ "
                     "http://sub.evil.example:8080/p")
    assert [l.domain for l in links] == ["bbc.co.uk", "example.com.vn", "foo.blogspot.com",
                                         "evil.example"]
    assert links[-1].url == "http://sub.evil.example:8080/p"
    assert public_suffix_list() is public_suffix_list()  # built once


def test_trailing_punctuation_and_backslashes():
    links = links_of("(see http://x.example/wiki/A_(b)). Or \"http://y.example/a\\b\\c?q=1\", "
                     "<http://z.example/>.")
    assert [l.url for l in links] == ["http://x.example/wiki/A_(b)", "http://y.example/a/b/c?q=1",
                                      "http://z.example/"]


def test_userinfo_trick_and_invalid_hosts():
    links = links_of("http://paypal.com@evil.example/login http://localhost/ http://-bad-.example/ "
                     "http://a..b/ http:// http://x_y.example/")
    assert [(l.host, l.domain) for l in links] == [("evil.example", "evil.example"),
                                                   ("x_y.example", "x_y.example")]


def test_link_domains_and_hosts_helpers():
    msg = parse("Content-Type: text/plain\n\nhttp://a.example.com/ http://b.example.com/ "
                "http://a.example.com/x")
    assert msg.domains == ("example.com",)
    assert msg.hosts == ("a.example.com", "b.example.com")


def test_links_capped():
    body = " ".join(f"http://h{i}.example/" for i in range(3000))
    msg = parse("Content-Type: text/plain\n\n" + body)
    assert len(msg.links) == caps.MAX_LINKS
    assert "MIME_TOO_MANY_LINKS" in codes(msg)


@pytest.mark.parametrize("body", [
    "http://" + "a." * 500_000,
    "http://" * 150_000,
    "hxxp:" * 200_000,
    "www." * 250_000,
    "http://a.example/ " * 60_000,
    "http://" + "a" * 1_000_000,
    "=?" * 500_000,
    "http://[" * 120_000,
])
def test_adversarial_megabyte_body_bounded(body):
    for ctype in ("text/plain", "text/html"):
        raw = (f"Content-Type: {ctype}\nSubject: {body[:200_000]}\n\n{body}").encode()
        msg = parse(raw)
        assert len(msg.links) <= caps.MAX_LINKS


def test_huge_blank_line_body_is_truncated():
    msg = parse(b"Subject: x\n\n" + b"\n" * 20_000_000)
    assert "MIME_TRUNCATED" in codes(msg)


# ------------------------------------------------------------------------------- misc
def test_records_are_frozen():
    msg = parse(b"Subject: x\n\nhttp://a.example/\n")
    with pytest.raises(AttributeError):
        msg.text = "y"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        msg.parts[0].text = "y"  # type: ignore[misc]
    assert isinstance(msg.parts[0], Part) and msg.parts[0].is_text


def test_decode_header_value_helper():
    assert decode_header_value("=?utf-8?q?a?=\r\n =?utf-8?q?b?=") == "ab"


def test_average_message_links_and_no_problems():
    text = ("Xin chào, đây là bản tin tuần này. Visit http://news.example.com/article?id=1 "
            "for more.\n") * 25
    html = "<html><body>" + "".join(f"<p>Đoạn {i}: <a href='https://shop.example.vn/p/{i}'>mua ngay</a>"
                                    f" &amp; tiết kiệm</p>" for i in range(25)) + "</body></html>"
    raw = multipart(f"Content-Type: text/plain; charset=utf-8\n\n{text}",
                    f"Content-Type: text/html; charset=utf-8\n\n{html}",
                    headers="Received: from a by b\nReceived: from c by d\n"
                            "Message-ID: <1@example.com>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n")
    assert 4_000 < len(raw) < 8_000
    msg = ParsedMessage.from_bytes(raw)
    assert len(msg.links) == 26 and not codes(msg)


@pytest.mark.parametrize("label", ["idna", "punycode", "undefined", "rot13", "base64_codec", "zlib_codec",
                                   "uu", "hex", "bz2", "utf\x00-8"])
def test_a_codec_that_is_no_text_encoding_is_never_a_charset(label):
    raw = (b"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain; charset=utf-8\n"
           b"Content-Transfer-Encoding: base64\n\n" + base64.b64encode("gi\u1ea3m gi\u00e1".encode()) +
           b"\n--B\nContent-Type: text/plain; charset=\"" + label.encode() + b"\"\n\nw\xc3\xa9rld 78c\n--B--\n")
    msg = parse(raw)
    assert "MIME_PARSE_ERROR" not in codes(msg) and "MIME_BAD_CHARSET" in codes(msg)
    assert [p.text for p in msg.parts] == ["gi\u1ea3m gi\u00e1", "w\u00e9rld 78c"]


def test_an_rfc2231_charset_parameter_is_checked_like_any_charset():
    msg = parse(b"Content-Type: text/plain; charset*=utf-8''idna; name*=idna''a.txt\n\nw\xc3\xa9rld\n")
    assert "MIME_PARSE_ERROR" not in codes(msg) and "MIME_BAD_CHARSET" in codes(msg)
    assert msg.parts[0].text.strip() == "w\u00e9rld" and msg.parts[0].filename == "a.txt"


def test_addresses_are_parsed_once_and_safely():
    msg = parse(b"From: Alice <alice@example.com>, bob@example.org\nTo: (" + b"(" * 2000 + b"x <carol@example.net>\n"
                b"Cc: " + b": " * 1000 + b"dave@example.com\nX-Other: Eve <eve@example.com>\n\nbody\n")
    assert [(a.name, a.address) for a in msg.addresses("FROM")] == [("Alice", "alice@example.com"),
                                                                   ("", "bob@example.org")]
    assert [a.address for a in msg.addresses("to")] == ["carol@example.net"]
    assert [a.address for a in msg.addresses("cc")] == ["dave@example.com"]
    assert [a.address for a in msg.addresses("x-other")] == ["eve@example.com"]  # parsed when asked
    assert [f.parsed for f in msg.address_fields("from") + msg.address_fields("to")] == [True, False]
    assert "MIME_BAD_ADDRESS_HEADER" in codes(msg)
    assert "MIME_BAD_ADDRESS_HEADER" not in codes(parse(b"From: a (b (c)) <a@example.com>\n\nx\n"))


def test_attached_messages_keep_their_own_headers_parts_and_links():
    inner = (b"From: Spammer <win@prize.example>\r\nSubject: You won\r\nMessage-ID: <inner@prize.example>\r\n"
             b"Content-Type: text/html\r\n\r\n<p>Claim at <a href='http://claim.prize.example/x'>here</a></p>\r\n")
    raw = (b"From: user@test.example\r\nTo: abuse@test.example\r\nSubject: Fwd: spam\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
           b"--b1\r\nContent-Type: text/plain\r\n\r\nthis is spam\r\n"
           b"--b1\r\nContent-Type: message/rfc822\r\n\r\n" + inner +
           b"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: other@bulk.example\r\nSubject: Second\r\n\r\n"
           b"--b1--\r\n")
    msg = ParsedMessage.from_bytes(raw)
    assert msg.subject == "Fwd: spam"
    assert [a.subject for a in msg.attached] == ["You won", "Second"]
    first, second = msg.attached
    assert first.message_id == "<inner@prize.example>" and first.from_header == "Spammer <win@prize.example>"
    assert [l.host for l in first.links] == ["claim.prize.example"]
    assert "Claim at here" in first.text
    assert [a.address for a in second.addresses("from")] == ["other@bulk.example"]
    # The outer message still sees the attached one's parts (checks read one flat list).
    assert "claim.prize.example" in msg.hosts


def test_attached_messages_are_bounded():
    inner = b"Subject: inner\r\n\r\nbody\r\n"
    parts = b"".join(b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner for _ in range(50))
    raw = b"Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + b"--b--\r\n"
    msg = ParsedMessage.from_bytes(raw)
    assert len(msg.attached) == 10


def test_attached_messages_give_back_their_bytes_as_attached():
    inner = (b"Received: from mail.spammer.example (mail.spammer.example [203.0.113.9])\r\n"
             b"\tby mx.test.example (Postfix) with ESMTP id 4AbC; Tue, 1 Dec 2026 10:00:00 +0000\r\n"
             b"From: Spammer <win@prize.example>\r\nSubject: Ch\xc3\xbac m\xe1\xbb\xabng\r\n"
             b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"zz\"\r\n\r\n"
             b"--zz\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
             b"Nh\xe1\xba\xadn qu\xc3\xa0 t\xe1\xba\xa1i http://claim.prize.example/x\r\n"
             b"--zz\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--zz--\r\n")
    headers = b"From: other@bulk.example\r\nSubject: Second\r\n"
    raw = (b"From: user@test.example\r\nSubject: Fwd: spam\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nspam\r\n"
           b"--b1\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"Spam.eml\"\r\n\r\n"
           + inner + b"\r\n--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n" + headers + b"\r\n--b1--\r\n")
    msg = ParsedMessage.from_bytes(raw)
    assert msg.source == b""
    assert [a.source for a in msg.attached] == [inner, headers]
    lf = ParsedMessage.from_bytes(raw.replace(b"\r\n", b"\n"))
    assert lf.attached[0].source == inner.replace(b"\r\n", b"\n")


def test_a_feedback_report_part_is_read_as_text_not_as_an_attached_message():
    raw = (b"From: fbl@isp.example\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/report; report-type=feedback-report; boundary=r\r\n\r\n"
           b"--r\r\nContent-Type: text/plain\r\n\r\nabuse report\r\n"
           b"--r\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
           b"Source-IP: 203.0.113.9\r\n\r\n"
           b"--r\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@spam.example\r\nSubject: x\r\n\r\nbody\r\n--r--\r\n")
    msg = ParsedMessage.from_bytes(raw)
    feedback = [p for p in msg.parts if p.content_type == "message/feedback-report"]
    assert len(feedback) == 1 and "Source-IP: 203.0.113.9" in feedback[0].text
    assert [a.subject for a in msg.attached] == ["x"]
