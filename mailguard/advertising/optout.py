"""The opt-out of Decree 91 Art. 20 and the advertiser's identity of Art. 19, read from a message.

opt-out: "header" when the message has a `List-Unsubscribe` field (RFC 2369/8058); "body" when the
last part of the body (its last quarter, at least TAIL_MIN characters) holds opt-out wording
(`hủy đăng ký`, `từ chối nhận`, `unsubscribe`, ...) and a link, a mailto or an address to use
it; else "missing".

advertiser's identity: in the part of the body right before the opt-out section (or the end of
the body when there is none), a name (a company word, `©`, or the From display name) together
with a phone number, an email address or a postal address.
"""
from __future__ import annotations

from dataclasses import dataclass

import re2

from mailguard.advertising import words
from mailguard.advertising.fold import fold, mark_fold, strip_marks

TAIL_MIN = 1_500  # characters: the "end of the email" is at least this long
TAIL_MAX = 6_000
IDENTITY_SPAN = 3_000  # characters before the opt-out section searched for the identity
IDENTITY_LINES = 40  # ... and at most this many of its last lines
BLOCK_ABOVE = 2  # an identity block: a contact line and the lines right above it (name, address)

_LINKISH = re2.compile(r"(?i)(?:https?://|www\.|mailto:|[a-z0-9._%+-]+@[a-z0-9-]+\.[a-z0-9.-]+|\bbấm vào đây\b|\bclick here\b|\bnhấn vào đây\b|\bbam vao day\b|\bnhan vao day\b)")
_OPTOUT_URL = ("unsubscribe", "unsub", "optout", "opt-out", "opt_out", "huy-dang-ky", "huydangky",
               "tu-choi", "preferences", "remove")
_PHONE = re2.compile(
    # Vietnamese: 0 or +84, then 9 or 10 digits in any grouping (0901 234 567, 0258 3777 666,
    # 024 3818 0000, +84 28 3823 4567, (028) 3823 4567)
    r"(?:\+84 ?|\b0|\(0)(?:[ .\-)]{0,2}\d){8,10}\b"
    r"|\b1[89]00[ .\-]?\d{2,4}[ .\-]?\d{0,4}\b"  # 1800 1234, 1900 54 54 13
    r"|\+\d{1,3}[ .\-]?\(?\d{1,4}\)?[ .\-]?\d{3,4}[ .\-]?\d{3,4}"  # +1 415 555 0100
    r"|\(\d{3}\) ?\d{3}-\d{4}")  # (415) 555-0100
_HOUSE_NUMBER = re2.compile(r"(?:^|[\s,])\d{1,5}[A-Za-z]?(?:/\d{1,4})?\s+\pL{2,}")  # 12 Hàng Bài, 500 Market
# A postal address without a street word: a US state and ZIP code, a UK postcode, a PO box, or a
# house number, capitalised words and a comma before a capitalised place ("1200 Broadway, New York").
_ADDRESS_SHAPE = re2.compile(
    r"\b[A-Z]{2} \d{5}(?:-\d{4})?\b"
    r"|\b[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}\b"
    r"|(?i:\bp\.? ?o\.? box \d+)"
    r"|\b\d{1,5} \p{Lu}\pL+(?: \p{Lu}\pL+){0,3}, ?\p{Lu}\pL+")
_EMAIL = re2.compile(r"(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+")
_OPTOUT_PLAIN = tuple(strip_marks(p) for p in words.OPTOUT)


@dataclass(frozen=True)
class Footer:
    optout: str  # "header" | "body" | "missing"
    optout_text: bool  # opt-out wording near the end (with or without a link)
    advertiser_info: bool
    identity: str  # what was found of the identity, for the detail ("name, phone")


def tail_of(body: str) -> str:
    size = min(TAIL_MAX, max(TAIL_MIN, len(body) // 4))
    return body[-size:]


def read_footer(body: str, list_unsubscribe: bool, links, from_name: str) -> Footer:
    """`body` is the bounded visible text; `links` the message's Link records."""
    tail = tail_of(body)
    lines = tail.splitlines()
    # the opt-out wording and, on its line or the next, a link, a mailto or an address to use it
    optout_words = words.within(fold(tail), words.F_OPTOUT)
    at = [i for i, line in enumerate(lines) if optout_words and words.found(fold(line), optout_words)]
    wording = bool(at)
    usable = any(_LINKISH.search(" ".join(lines[i:i + 2])) is not None for i in at)
    if list_unsubscribe:
        optout = "header"
    elif wording and (usable or _optout_link(links)):
        optout = "body"
    else:
        optout = "missing"
    region = _identity_region(body)
    found = _identity(region, from_name)
    info = "name" in found and len(found) >= 2
    return Footer(optout, wording, info, ", ".join(found))


def _optout_link(links) -> bool:
    for link in links[:1000]:
        anchor = fold(link.anchor_text[:200]) if link.anchor_text else ""
        if anchor.strip() and words.found(anchor, words.F_OPTOUT):
            return True
        url = link.url.lower()
        if any(key in url for key in _OPTOUT_URL):
            return True
    return False


def _identity_region(body: str) -> str:
    """The text right before the opt-out section (its first wording in the tail), else the end."""
    tail_start = len(body) - len(tail_of(body))
    plain = strip_marks(body[tail_start:])
    cut = len(body)
    if len(plain) == len(body) - tail_start:  # positions agree (Vietnamese strips 1:1)
        hits = [i for p in _OPTOUT_PLAIN if (i := plain.find(p)) >= 0]
        if hits:
            cut = tail_start + min(hits)
    return body[max(0, cut - IDENTITY_SPAN):cut] if cut < len(body) else body[-IDENTITY_SPAN:]


def _identity(region: str, from_name: str) -> list[str]:
    """What the identity block of `region` holds: "name" and its contact kinds.

    Read line by line: a contact line holds a phone, an email address or a postal address and is
    not a call to action ("gọi ngay 0912...", "call now on ..." is a salesperson's invitation, not
    the advertiser's identity); its block is that line and the BLOCK_ABOVE lines above it. The
    name must be in a block: a company word, `©`, or two words of the From display name in a row.
    """
    lines = [line for line in region.splitlines() if line.strip()][-IDENTITY_LINES:]
    with_marks = mark_fold(region) != fold(region)  # diacritics written: match words as written
    form, company, address_words = (mark_fold, words.M_COMPANY, words.M_ADDRESS) if with_marks else \
        (fold, words.F_COMPANY, words.F_ADDRESS)
    forms = [form(line) for line in lines]
    whole = form("\n".join(lines))
    company, address_words = words.within(whole, company), words.within(whole, address_words)
    cta_words = words.within(whole, words.F_CTA if not with_marks else words.M_CTA)
    names = _name_pairs(form(from_name)) if from_name else ()
    named: set[str] = set()  # the contact kinds of lines with a name in their block
    seen: set[str] = set()  # every contact kind, for the detail when no line had a name
    for i, line in enumerate(lines):
        kinds = _contact_kinds(line, forms[i], forms[i - 1] if i else " ", address_words)
        seen.update(kinds)
        if not kinds or (cta_words and words.found(forms[i], cta_words)):
            continue
        block = forms[max(0, i - BLOCK_ABOVE):i + 1]
        if any(words.found(b, company) or any(n in b for n in names) for b in block) or \
                any("©" in raw for raw in lines[max(0, i - BLOCK_ABOVE):i + 1]):
            named.update(kinds)
    found, contacts = (["name"], named) if named else ([], seen)
    order = ("phone", "email", "address")
    return found + [k for k in order if k in contacts]


def _contact_kinds(line: str, folded_line: str, folded_above: str, address_words) -> list[str]:
    kinds = []
    if _PHONE.search(line):
        kinds.append("phone")
    if _EMAIL.search(line):
        kinds.append("email")
    if _ADDRESS_SHAPE.search(line) or (_HOUSE_NUMBER.search(line) and (
            words.found(folded_line, address_words) or words.found(folded_above, address_words))):
        kinds.append("address")
    return kinds


def _name_pairs(folded_name: str) -> tuple[str, ...]:
    """Two words of the From display name in a row (`" hoa mai "` of "Bánh Ngọt Hoa Mai"), or the
    one word of a one-word name of five letters or more."""
    parts = folded_name.split()
    if len(parts) == 1:
        return (f" {parts[0]} ",) if len(parts[0]) >= 5 else ()
    return tuple(f" {a} {b} " for a, b in zip(parts, parts[1:]))
