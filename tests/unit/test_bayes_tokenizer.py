"""The Bayes tokenizer: header prefixes, ignored verdict headers, HTML text, URL pieces, Unicode."""
from __future__ import annotations

import unicodedata

from mailguard.bayes.tokenizer import fold, tokens
from mailguard.scan.message import ParsedMessage


def toks(raw: str | bytes) -> list[str]:
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    return tokens(ParsedMessage.from_bytes(raw))


def message(body: str = "hello world", headers: str = "", ctype: str = "text/plain; charset=utf-8") -> str:
    return ("From: Alice Example <alice@mail.example.com>\r\nTo: bob@example.org\r\n"
            "Subject: Cheap watches today\r\nMessage-ID: <abc@mx.example.com>\r\n"
            f"Content-Type: {ctype}\r\n{headers}\r\n{body}\r\n")


def test_header_tokens_are_prefixed_by_header_name():
    t = toks(message(headers="X-Mailer: Foo Mailer 2.0\r\nReceived: from relay.spam.example (relay.spam.example "
                     "[192.0.2.7]) by mx.example.org\r\n"))
    assert "subject:cheap" in t and "subject:watches" in t
    assert "from:addr:alice@mail.example.com" in t and "from:dom:example.com" in t
    assert "from:name:alice" in t
    assert "to:dom:example.org" in t
    assert "x-mailer:foo" in t
    assert "received:spam.example" in t and "received:ip:192.0.2" in t
    assert "content-type:text/plain" in t
    assert "header:x-mailer" in t
    assert "cheap" not in t  # subject words are not body words


def test_spam_verdict_headers_and_our_own_are_never_tokens():
    t = toks(message(headers="X-Spam-Status: Yes, score=20.1 required=5.0 tests=BAYES_99\r\n"
                     "X-Spam-Flag: YES\r\nX-Spam-Level: ********\r\nX-Mailguard-Symbols: action=reject\r\n"
                     "Authentication-Results: mx.example.org; spf=fail\r\nX-Advertising: yes\r\n"))
    leaked = [x for x in t if "spam" in x or "mailguard" in x or "score" in x or "authentication" in x
              or "advertising" in x or "bayes" in x]
    assert leaked == []


def test_html_reduced_to_visible_text_and_links_give_url_pieces():
    html = ('<html><head><title>secret title</title><style>.x{color:red}</style></head><body>'
            '<p>Buy <b>V</b>iagra now</p><div style="display:none">hiddenword</div>'
            '<a href="http://www.shop.pills.example/cheap/meds.html?id=5">click here</a></body></html>')
    t = toks(message(html, ctype="text/html; charset=utf-8"))
    assert "viagra" in t and "buy" in t and "click" in t
    assert "hiddenword" not in t and "secret" not in t and "color" not in t
    assert "url:scheme:http" in t
    assert "url:host:pills.example" in t and "url:host:shop.pills.example" in t
    assert "url:path:cheap" in t and "url:path:meds" in t
    assert "part:text/html" in t


def test_giant_words_become_shape_tokens():
    t = toks(message("x" * 300 + " normal"))
    assert "skip:x 300" in t and "normal" in t
    assert not any(len(x) > 100 for x in t)


def test_words_are_case_folded():
    assert "free" in toks(message("FREE Free free"))
    assert "FREE" not in toks(message("FREE"))


def test_nfc_and_nfd_forms_give_the_same_tokens():
    text = "Chương trình khuyến mại đặc biệt cho bạn"
    nfc = toks(message(unicodedata.normalize("NFC", text)))
    nfd = toks(message(unicodedata.normalize("NFD", text)))
    assert nfc == nfd
    assert "khuyến" in nfc


def test_vietnamese_words_meet_their_forms_without_diacritics():
    with_marks = set(toks(message("Chương trình khuyến mại đặc biệt")))
    without = set(toks(message("Chuong trinh khuyen mai dac biet")))
    assert {"khuyến", "khuyen", "mại", "mai", "đặc", "dac"} <= with_marks
    # the folded forms and folded syllable bigrams meet
    assert {"khuyen", "mai", "khuyen mai", "dac biet", "chuong trinh"} <= with_marks & without
    assert "khuyến mại" in with_marks  # the bigram with diacritics is kept too
    assert fold("Đặc") == "Dac" and fold("đường") == "duong"


def test_attachment_names_and_types():
    raw = ("From: a@example.com\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n"
           'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n'
           '--b\r\nContent-Type: application/zip; name="invoice.zip"\r\nContent-Disposition: attachment; '
           'filename="invoice.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n--b--\r\n')
    t = toks(raw)
    assert "attach:type:application/zip" in t and "attach:ext:zip" in t and "attached" in t


def test_token_count_is_capped():
    t = toks(message(" ".join(f"w{i}x" for i in range(50_000))))
    assert len(t) <= 20_000
