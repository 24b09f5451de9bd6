"""Is this message advertising (Decree 91 Art. 3: it introduces goods, services or the business
offering them — news, social policy information and personal mail excepted)?

Signals are added into one score; the message is advertising from THRESHOLD up, and only when
something in its content or its Subject label says so (bulk headers alone make a newsletter or
a discussion list, not an ad):

| signal | weight |
|---|---|
| bulk sending: `List-Unsubscribe` 1.5, `List-Unsubscribe-Post` 0.5, `Precedence: bulk` 1.0, an ESP's `X-Mailer` or headers 1.5, `X-Campaign…` 1.0, `Feedback-ID` 0.5 | at most 2.5 together |
| Subject label: `[QC]`/`[AD]` first 3.0; a near-miss first 2.0; a label further in 0.5 | |
| promotional wording (words.PROMO), each phrase | 1.0, subject +0.5, at most 5.0 |
| weaker trade words (words.PROMO_WEAK) | 0.5 each, at most 1.5 |
| a discount (`giảm 50%`, `-30%`, `50% off`, `up to 70%`) | 1.5 |
| prices (`199.000đ`, `1.990.000 VND`, `199k`, `$19.99`) | 0.5, three or more 1.0 |
| calls to action (words.CTA) | 1.0 each, at most 2.0 |
| opt-out wording at the end | 0.5 |
| transactional wording (OTP, balance, order, invoice: words.TRANSACTIONAL) | -1.5 each, at most -4.5 |
| official or news wording (words.INFORMATIONAL) | -1.0 each, at most -3.0 |
| a discussion list (`List-Id` or `Precedence: list` without ESP marks) | -1.5, bulk signals void |
| personal: `Fwd:`/`Re:` Subject, or a reply (`In-Reply-To`), without bulk signals | -4.0 (-2.0 a reply) |
| a forwarded message's marks in the body without bulk signals | -1.0 |

CPU is bounded: the text looked at is at most HEAD + TAIL characters, folded once (linear), and
matched by `in` tests of a fixed vocabulary and by RE2 (linear) patterns.
"""
from __future__ import annotations

from dataclasses import dataclass

import re2

from mailguard.advertising import words
from mailguard.advertising.fold import fold, strip_marks
from mailguard.advertising.label import LabelResult, read_label
from mailguard.advertising.optout import Footer, read_footer
from mailguard.scan.text import nfc

THRESHOLD = 4.0
HEAD = 30_000  # characters of the visible text from its start
TAIL = 6_000  # ... and from its end (the footer: opt-out and identity)

ESP_MAILERS = (
    "mailchimp", "sendgrid", "mailjet", "sendinblue", "brevo", "campaign monitor", "createsend",
    "constant contact", "klaviyo", "hubspot", "getresponse", "mailerlite", "moosend", "aweber",
    "icontact", "exacttarget", "salesforce marketing cloud", "marketo", "responsys", "emarsys",
    "sparkpost", "zoho campaigns", "activecampaign", "omnisend", "benchmark email", "phplist",
    "mailpoet", "sendy", "acymailing", "interspire", "mautic", "getfly", "emailmarketing",
    "email marketing", "mass mailer", "bulk mailer", "newsletter", "mailwizz", "elastic email",
    "cheetahmail", "lyris", "e-dialog", "strongview", "messagebus", "vmg", "mobiwork",
)
ESP_HEADERS = (
    "x-mc-user", "x-mailchimp-campaign", "x-sg-eid", "x-sg-id", "x-mailgun-tag", "x-mailgun-sid",
    "x-mailjet-campaign", "x-mj-mid", "x-sib-id", "x-mailin-campaign", "x-csa-complaints",
    "x-cmae-analysis", "x-rpcampaign", "x-marketo-id", "x-mktmailer", "x-emarsys-identify",
    "x-klaviyo-message", "x-hs-marketing", "x-ems-id", "x-ecm-mailer", "x-mlsendid",
    "x-sfmc-stack", "x-job",
)
CAMPAIGN_HEADERS = ("x-campaign", "x-campaign-id", "x-campaignid", "x-campaign-name", "x-mailer-campaign")

_PRICE = re2.compile(
    r"(?i)(?:\b\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?\s?(?:d|vnd|vnđ|dong|usd)\b"  # 199.000đ (đ folded)
    r"|\b\d{2,4}\s?k\b"  # 199k
    r"|\b\d+(?:[.,]\d+)?\s?(?:trieu|ty|tr)\b(?:\s?dong)?"  # 2,5 triệu / 3 tỷ
    r"|\$\s?\d+(?:[.,]\d{2})?|\b\d+(?:[.,]\d{2})?\s?(?:usd|eur)\b)")
_DISCOUNT = re2.compile(
    r"(?i)(?:\b(?:giam|off|sale|up to|len den|toi|save|tiet kiem|chiet khau)\s?(?:den\s|toi\s|len den\s)?"
    r"-?\d{1,2}\s?%"
    r"|\b\d{1,2}\s?%\s?(?:off|discount|giam)\b|(?:^|\s)-\d{1,2}\s?%)")
_PERSONAL_SUBJECT = re2.compile(r"(?i)^\s*(?:(?:fwd?|fw|tr|chuyen tiep|chuyển tiếp|forward)\s*:)")
_REPLY_SUBJECT = re2.compile(r"(?i)^\s*(?:re|tl|tra loi|trả lời|aw|sv)\s*:")


@dataclass(frozen=True)
class Detection:
    is_ad: bool
    score: float
    evidence: tuple[str, ...]
    label: LabelResult
    footer: Footer


def bounded_text(text: str) -> str:
    return text if len(text) <= HEAD + TAIL else text[:HEAD] + "\n" + text[-TAIL:]


def detect(message) -> Detection:
    """Read a ParsedMessage (mailguard/scan/message.py)."""
    subject = nfc(message.subject or "")[:1000]
    body = bounded_text(message.text or "")
    label = read_label(subject)
    from_name = next((a.name for a in message.addresses("from") if getattr(a, "name", "")), "")
    footer = read_footer(body, message.header("list-unsubscribe") is not None, message.links, from_name)
    evidence: list[str] = []
    score = 0.0

    # -- how it was sent ---------------------------------------------------------------------
    bulk = 0.0
    bulk_seen: list[str] = []
    precedence = (message.header("precedence") or "").strip().lower()
    esp = _esp(message)
    if message.header("list-unsubscribe") is not None:
        bulk += 1.5
        bulk_seen.append("List-Unsubscribe")
    if message.header("list-unsubscribe-post") is not None:
        bulk += 0.5
        bulk_seen.append("List-Unsubscribe-Post")
    if precedence == "bulk":
        bulk += 1.0
        bulk_seen.append("Precedence: bulk")
    if esp:
        bulk += 1.5
        bulk_seen.append(esp)
    campaign = next((h for h in CAMPAIGN_HEADERS if message.header(h) is not None), "")
    if campaign:
        bulk += 1.0
        bulk_seen.append(_title(campaign))
    if message.header("feedback-id") is not None:
        bulk += 0.5
        bulk_seen.append("Feedback-ID")
    discussion = (message.header("list-id") is not None or precedence == "list") and not esp and not campaign
    if discussion:
        score -= 1.5
        evidence.append("discussion list (List-Id)")
    elif bulk:
        score += min(bulk, 2.5)
        evidence.append("bulk: " + ", ".join(bulk_seen))
    bulk_sent = bulk > 0 and not discussion

    # -- the label ---------------------------------------------------------------------------
    content = 0.0  # what the content and the label say, apart from how the mail was sent
    if label.label != "missing":
        content += 3.0
        evidence.append(f"label [{label.label}]")
    elif label.at_start:
        content += 2.0
        evidence.append(f"label near-miss {label.seen}")
    elif label.seen:
        content += 0.5
        evidence.append(f"label {label.seen}")

    # -- the wording -------------------------------------------------------------------------
    subject_folded = fold(subject)
    body_folded = fold(body)
    text = subject_folded + body_folded
    promo = words.found(text, words.F_PROMO)
    in_subject = words.found(subject_folded, words.F_PROMO)
    if promo:
        content += min(5.0, len(promo) + 0.5 * bool(in_subject))
        evidence.append("words: " + ", ".join(promo[:6]))
    weak = words.found(text, words.F_PROMO_WEAK)
    if weak:
        content += min(1.5, 0.5 * len(weak))
    plain = strip_marks(subject) + "\n" + strip_marks(body)
    discount = _DISCOUNT.search(plain)
    if discount:
        content += 1.5
        evidence.append(f"discount {discount.group(0).strip()}")
    prices = {m.group(0) for m in _PRICE.finditer(plain[:HEAD])} if _PRICE.search(plain) else set()
    if prices:
        score += 1.0 if len(prices) >= 3 else 0.5
        evidence.append(f"price {sorted(prices)[0].strip()}")
    cta = words.found(text, words.F_CTA)
    if cta:
        content += min(2.0, float(len(cta)))
        evidence.append("call to action: " + ", ".join(cta[:3]))
    if footer.optout_text:
        score += 0.5

    # -- what it is rather -------------------------------------------------------------------
    transactional = words.found(text, words.F_TRANSACTIONAL)
    if transactional:
        score -= min(4.5, 1.5 * len(transactional))
        evidence.append("transactional: " + ", ".join(transactional[:3]))
    informational = words.found(text, words.F_INFORMATIONAL)
    if informational:
        score -= min(3.0, float(len(informational)))
        evidence.append("informational: " + ", ".join(informational[:3]))
    if not bulk_sent:
        if _PERSONAL_SUBJECT.search(subject):
            score -= 4.0
            evidence.append("forwarded (Fwd:)")
        elif _REPLY_SUBJECT.search(subject) or message.header("in-reply-to") is not None:
            score -= 2.0
            evidence.append("a reply")
        if words.found(body_folded, words.F_FORWARDED):
            score -= 1.0

    score = round(score + content, 2)
    is_ad = score >= THRESHOLD and content >= 1.5
    kept = tuple(e for e in evidence if not e.startswith(("transactional", "informational", "forwarded",
                                                           "a reply", "discussion")))
    return Detection(is_ad, score, kept if is_ad else tuple(evidence), label, footer)


def _esp(message) -> str:
    for name in ("x-mailer", "user-agent", "x-mailer-version"):
        value = (message.header(name) or "")[:200].lower()
        if value and any(e in value for e in ESP_MAILERS):
            return f"{_title(name)}: {value.strip()[:40]}"
    for name in ESP_HEADERS:
        if message.header(name) is not None:
            return _title(name)
    return ""


def _title(name: str) -> str:
    return "-".join(p.upper() if len(p) <= 2 else p.capitalize() for p in name.split("-"))
