"""Transfer encodings: base64 (piece by piece) and quoted-printable, with their problems."""
from __future__ import annotations

import binascii
import quopri
import re
from email.message import Message


from mailguard.scan.caps import MAX_B64_SEGMENTS, MAX_PARTS
from mailguard.scan.problems import MIME_BAD_BASE64, MIME_BAD_CTE, Problem


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_B64_NOT_ALPHABET = bytes(c for c in range(256) if c not in _B64_ALPHABET)
_B64_PAD = re.compile(rb"=+")


def _decode_base64(data: bytes, want_bytes: bool = True) -> tuple[bytes, int, str | None]:
    """Lenient base64 (what mail clients show): (decoded bytes, decoded size, what was wrong).
    With `want_bytes` False only the size is worked out (attachments need no decoding)."""
    clean = data.translate(None, _B64_NOT_ALPHABET)  # C speed, unlike a regex
    problem = None
    if len(clean) != len(data) - sum(data.count(c) for c in (b" ", b"\t", b"\r", b"\n")):
        problem = "invalid characters"
    body = clean.rstrip(b"=")
    pad = len(clean) - len(body)
    segments = [body]
    if b"=" in body:  # padding inside: concatenated encodings, decoded one by one
        segments = [seg for seg in _B64_PAD.split(body, MAX_B64_SEGMENTS) if seg]
        if len(segments) > MAX_B64_SEGMENTS:  # too many to decode one by one: run together
            segments = segments[:MAX_B64_SEGMENTS - 1] + [segments[-1].replace(b"=", b"")]
        problem = problem or "data after padding"
    out = []
    size = 0
    for i, seg in enumerate(segments):
        rest = len(seg) % 4
        if rest == 1:
            seg = seg[:-1]
            problem = problem or "bad length"
        elif rest and i == len(segments) - 1 and pad != 4 - rest:
            problem = problem or "missing padding"
        size += len(seg) // 4 * 3 + max(0, len(seg) % 4 - 1)
        if want_bytes:
            try:
                out.append(binascii.a2b_base64(seg + b"=" * (-len(seg) % 4)))
            except binascii.Error as exc:
                problem = problem or str(exc)
    return b"".join(out), size, problem


def stored_payload(msg: Message) -> object:
    """A part's payload as the parser stored it: a list of parts, or the body with its 8-bit
    bytes as surrogates. Never `get_payload()`: for 8-bit text compat32 decodes it with the
    declared charset, and a sender's charset (idna, undefined, a NUL in the name, an RFC 2231
    tuple) makes that raise."""
    return getattr(msg, "_payload", None)


def payload_bytes(part: Message, want_bytes: bool = True) -> tuple[bytes, int, list[Problem]]:
    """The decoded body of a leaf part, its decoded size and the problems met decoding it.
    With `want_bytes` False, a base64 body is only measured, not decoded."""
    problems: list[Problem] = []
    payload = stored_payload(part)
    if isinstance(payload, list):  # message/delivery-status and the like: header blocks
        texts = []
        for block in payload[:MAX_PARTS]:
            if isinstance(block, Message):
                texts.append("".join(f"{k}: {v}\n" for k, v in block.raw_items()))
        data = "\n".join(texts).encode("utf-8", "surrogateescape")
        return data, len(data), problems
    if isinstance(payload, bytes):
        return payload, len(payload), problems
    if not isinstance(payload, str):
        return b"", 0, problems
    try:
        data = payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # real non-ASCII characters (not from bytes): keep them as UTF-8
        data = payload.encode("utf-8", "surrogateescape")
    cte = str(part.get("content-transfer-encoding", "") or "").strip().strip("\"'").lower()
    if cte in ("", "7bit", "8bit", "binary", "7-bit", "8-bit", "none"):
        return data, len(data), problems
    if cte == "base64":
        decoded, size, problem = _decode_base64(data, want_bytes)
        if problem:
            problems.append(Problem(MIME_BAD_BASE64, problem))
        return decoded, size, problems
    if cte == "quoted-printable":
        decoded = quopri.decodestring(data)
        return decoded, len(decoded), problems
    if cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
        try:
            decoded = part.get_payload(decode=True)
        except Exception:
            decoded = None
        decoded = decoded if isinstance(decoded, bytes) else data
        return decoded, len(decoded), problems
    problems.append(Problem(MIME_BAD_CTE, cte[:40]))
    return data, len(data), problems
