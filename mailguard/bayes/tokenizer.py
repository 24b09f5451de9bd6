"""Tokens of a ParsedMessage for the content model (README, "Content model (Bayes)").

Built after SpamBayes' tokenizer: a token names where it came from ("subject:free", "from:dom:
example.com", "url:host:example.com", bare body words), words are case-folded and NFC-normalised,
giant words become a "skip:" shape token instead of noise, and headers that carry a verdict
(`X-Spam-*`, our own) are never read, since they would teach the model the answer.

Vietnamese: a word with diacritics also yields its folded form (`khuyến` → `khuyến`, `khuyen`),
so mail written without diacritics meets mail written with them; adjacent words also yield a
bigram (`khuyến mại`, folded `khuyen mai`), since a Vietnamese word is often two syllables.

CPU is bounded: text, words, links, headers and tokens per message are capped (see "Caps").
"""
from __future__ import annotations

import re
import unicodedata

from mailguard.scan.addresses import AddressField
from mailguard.scan.message import ParsedMessage
from mailguard.scan.text import nfc, nfd

# Part of the model file's metadata: a model trained with another tokenizer version is refused.
TOKENIZER_VERSION = 1

# Caps
MAX_TEXT_CHARS = 200_000  # characters of one text read
MAX_WORDS = 2_000  # body words per message, over all parts (each gives up to four tokens)
MAX_TOKENS = 20_000
MAX_LINKS = 100
MAX_RECEIVED = 10
MAX_HEADER_CHARS = 2_000  # of one header value
MIN_WORD, MAX_WORD = 2, 20  # longer words become "skip:" shape tokens

# Headers never tokenised: verdicts of other filters and our own headers leak the answer.
_IGNORED_PREFIXES = ("x-spam", "x-mailguard", "x-advertising", "authentication-results",
                     "arc-authentication-results", "x-bogosity", "x-dspam", "x-virus")
_ADDRESS_HEADERS = ("from", "reply-to", "sender", "return-path", "to", "cc", "errors-to")
_WORD_HEADERS = ("subject", "x-mailer", "user-agent", "organization", "content-type",
                 "list-id", "x-mailing-list", "precedence")
# A word starts with a letter, digit or currency sign and runs on through the characters that
# join words in mail (don't, $1,000.00, example.com, a@b.c); punctuation it ends with is stripped.
_WORD = re.compile(r"[\w$€£][\w'’$€£%.,:/@-]*")
_WORD_END = ".,:/'’-@_"
_SPLIT = re.compile(r"[\W_]+")
_RECEIVED_HOST = re.compile(r"(?:from|by)\s+([A-Za-z0-9][A-Za-z0-9.-]{0,200})")
_IPV4 = re.compile(r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}\b")
_FOLD_EXTRA = str.maketrans({"đ": "d", "Đ": "D", "ð": "d", "ø": "o", "ł": "l", "æ": "ae", "œ": "oe"})


def fold(word: str) -> str:
    """`word` without diacritics: NFD, combining marks dropped, đ → d (ASCII words unchanged)."""
    if word.isascii():
        return word
    decomposed = nfd(word.translate(_FOLD_EXTRA))
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return word if folded == word else folded


def normalize(text: str) -> str:
    """NFC, case-folded: the form every word is compared in."""
    return nfc(text).casefold()


def _shape(word: str) -> str:
    """The stand-in for a giant word: its first character and length rounded to tens."""
    return f"skip:{word[0]} {len(word) // 10 * 10}"


def word_tokens(text: str, prefix: str = "", bigrams: bool = True, max_words: int = MAX_WORDS) -> list[str]:
    """Tokens of free text: words (and folded forms), and bigrams of adjacent words."""
    return _word_tokens(text, prefix, bigrams, max_words)[0]


def _word_tokens(text: str, prefix: str, bigrams: bool, max_words: int) -> tuple[list[str], int]:
    """(tokens, words read)."""
    words = _WORD.findall(normalize(text[:MAX_TEXT_CHARS]))
    out: list[str] = []
    add = out.append
    if len(words) > max_words:
        words = words[:max_words]
        add("cap:words")
    previous = previous_folded = ""  # "": no word before (a short or giant one breaks the chain)
    for word in words:
        word = word.strip(_WORD_END)
        length = len(word)
        if length < MIN_WORD or length > MAX_WORD:
            if length > MAX_WORD:
                add(_shape(word))
                if "@" in word or "/" in word or "." in word:  # addresses, paths: their pieces count
                    out.extend(piece for piece in _SPLIT.split(word) if MIN_WORD <= len(piece) <= MAX_WORD)
            previous = previous_folded = ""
            continue
        add(word)
        folded = word if word.isascii() else fold(word)
        if folded is not word:
            add(folded)
        if bigrams and previous:
            add(previous + " " + word)
            if folded is not word or previous_folded is not previous:
                add(previous_folded + " " + folded)
        previous, previous_folded = word, folded
    return ([prefix + token for token in out] if prefix else out), len(words)


def _address_tokens(name: str, field: AddressField) -> list[str]:
    out: list[str] = []
    pairs = field.addresses[:20]
    if name in ("to", "cc"):
        out.append(f"{name}:count:{min(len(pairs), 10)}")
    for display, addr in ((a.name[:MAX_HEADER_CHARS], a.address[:MAX_HEADER_CHARS]) for a in pairs):
        addr = addr.lower()
        local, _, domain = addr.rpartition("@")
        if name not in ("to", "cc"):
            out.append(f"{name}:addr:{addr}" if addr else f"{name}:addr:none")
            out.extend(f"{name}:name:{w}" for w in word_tokens(display, bigrams=False, max_words=10))
            if local:
                out.append(f"{name}:local:{_local_shape(local)}")
        if domain:
            out.extend(f"{name}:dom:{d}" for d in _domain_suffixes(domain))
    return out


def _local_shape(local: str) -> str:
    """Mail from random-looking addresses (x7f3k2q@) is a spam sign: digits and length, bucketed."""
    digits = sum(c.isdigit() for c in local)
    return f"{min(len(local), 20) // 5}:{min(digits, 6)}"


def _domain_suffixes(host: str, levels: int = 3) -> list[str]:
    labels = [label for label in host.strip(".").lower().split(".") if label][-6:]
    return [".".join(labels[-n:]) for n in range(2, min(levels, len(labels)) + 1)] or labels


def _received_tokens(value: str) -> list[str]:
    out: list[str] = []
    value = value[:MAX_HEADER_CHARS]
    for m in _RECEIVED_HOST.finditer(value):
        out.extend("received:" + d for d in _domain_suffixes(m.group(1), 2))
    for m in _IPV4.finditer(value):
        out.append("received:ip:" + ".".join(m.groups()[:2]))
        out.append("received:ip:" + ".".join(m.groups()))
    return out


def header_tokens(msg: ParsedMessage) -> list[str]:
    out: list[str] = []
    received = 0
    seen_names: set[str] = set()
    address_seen: dict[str, int] = {}  # address fields of that name read so far
    for raw_name, value in msg.headers:
        name = raw_name.strip().lower()[:60]
        if name.startswith(_IGNORED_PREFIXES):
            continue
        value = value[:MAX_HEADER_CHARS]
        if name not in seen_names:
            seen_names.add(name)
            out.append("header:" + name)
        if name == "received":
            if received < MAX_RECEIVED:
                out.extend(_received_tokens(value))
            received += 1
        elif name in _ADDRESS_HEADERS:
            nth = address_seen[name] = address_seen.get(name, -1) + 1
            fields = msg.address_fields(name)
            if nth < len(fields):
                out.extend(_address_tokens(name, fields[nth]))
        elif name in _WORD_HEADERS:
            out.extend(word_tokens(value, f"{name}:", bigrams=name == "subject", max_words=50))
        elif name == "message-id":
            _, _, domain = value.strip("<> ").rpartition("@")
            out.append("message-id:dom:" + (domain.lower()[:60] or "none"))
    out.append(f"received:count:{min(received, 12)}")
    return out


def link_tokens(msg: ParsedMessage) -> list[str]:
    out: list[str] = []
    for link in msg.links[:MAX_LINKS]:
        scheme = link.url.partition(":")[0]
        out.append("url:scheme:" + scheme)
        if link.ip:
            out.append("url:ip")
        else:
            out.extend("url:host:" + d for d in _domain_suffixes(link.host))
        if link.found_by == "obfuscated":
            out.append("url:obfuscated")
        rest = link.url.split("://", 1)[-1]
        path = rest.partition("/")[2]
        for piece in _SPLIT.split(path.lower())[:20]:
            if MIN_WORD < len(piece) <= MAX_WORD:
                out.append("url:path:" + piece)
        anchor = link.anchor_text.strip().lower()
        if anchor and "." in anchor and " " not in anchor and link.host not in anchor:
            out.append("url:anchor-mismatch")
    out.append(f"url:count:{min(len(msg.links), 20) // 2}")
    return out


def part_tokens(msg: ParsedMessage) -> list[str]:
    out: list[str] = []
    for part in msg.parts[:50]:
        out.append("part:" + part.content_type)
        if part.charset:
            out.append("charset:" + part.charset.lower())
        if part.is_attachment:
            out.append("attach:type:" + part.content_type)
            if part.filename:
                ext = part.filename.rpartition(".")[2].lower() if "." in part.filename else ""
                out.append("attach:ext:" + ext[:10])
    return out


def tokens(msg: ParsedMessage) -> list[str]:
    """Every token of the message, repeats kept (the model counts each token once per message)."""
    out = header_tokens(msg)
    out += part_tokens(msg)
    out += ["mime:" + code.lower() for code in sorted(msg.problem_codes)]
    out += link_tokens(msg)
    words_left = MAX_WORDS
    for part in msg.parts[:50]:
        if part.text and words_left > 0:
            body, read = _word_tokens(part.text, "", True, words_left)
            words_left -= read
            out += body
    return out[:MAX_TOKENS]
