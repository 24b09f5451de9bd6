"""Charsets: labels to codecs (refusing what is no charset), and safe decoding."""
from __future__ import annotations

import codecs
import functools


from mailguard.scan.problems import MIME_BAD_CHARSET, MIME_CHARSET_MISMATCH, MIME_MISSING_CHARSET


# Codecs that are not charsets, or whose decoders are slow or surprising on hostile input.
_REFUSED_CODECS = frozenset({
    "punycode", "idna", "unicode_escape", "raw_unicode_escape", "undefined", "mbcs", "oem",
    "charmap", "escape_codec", "unicode_internal",
})
# Labels decoded as windows-1252 as browsers do (WHATWG), falling back to latin-1.
_LATIN1_LIKE = frozenset({"ascii", "latin_1", "cp1252", "iso8859_1"})


@functools.lru_cache(maxsize=256)
def _codec(label: str | None) -> str | None:
    """The Python codec name for a charset label; None when unknown or refused."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if not label or len(label) > 64:
        return None
    if label in ("unknown-8bit", "x-unknown", "unknown"):
        return None
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None
    return info.name


def guess_decode(data: bytes) -> str:
    """Bytes of unknown charset: UTF-8 when valid, else latin-1 (never fails)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_NO_CHARSET_LABELS = frozenset({"", "unknown-8bit", "x-unknown", "unknown"})


def decode_bytes(data: bytes, charset: str | None, partial: bool = False) -> tuple[str, str | None]:
    """Decode `data` declared as `charset`, best effort: (text, problem code or None).

    - no charset: ASCII; 8-bit data is UTF-8 when valid, else windows-1252 / latin-1
      (MIME_MISSING_CHARSET);
    - a label no codec knows: the same guess (MIME_BAD_CHARSET);
    - ASCII / latin-1 labels: windows-1252 as browsers do (WHATWG), UTF-8 first when labelled
      ASCII but 8-bit (MIME_CHARSET_MISMATCH);
    - bytes invalid in the declared charset: UTF-8 when valid, else the declared charset with
      replacement characters (MIME_CHARSET_MISMATCH).
    `partial` when `data` was cut: an incomplete final character is dropped, not an error.
    """
    label = (charset or "").strip().strip("\"'").lower()
    codec = _codec(label)
    if partial:
        data = _trim_partial(data, codec or "utf-8")
    if codec is None:
        problem = MIME_BAD_CHARSET if label not in _NO_CHARSET_LABELS else None
        if data.isascii():
            return data.decode("ascii"), problem
        if not label:
            problem = MIME_MISSING_CHARSET
        try:
            return data.decode("utf-8"), problem
        except UnicodeDecodeError:
            return cp1252_or_latin1(data), problem
    if codec in _LATIN1_LIKE:
        if data.isascii():
            return data.decode("ascii"), None
        if codec == "ascii":  # labelled ASCII but 8-bit: usually UTF-8 mislabelled
            try:
                return data.decode("utf-8"), MIME_CHARSET_MISMATCH
            except UnicodeDecodeError:
                return cp1252_or_latin1(data), MIME_CHARSET_MISMATCH
        return cp1252_or_latin1(data), None
    try:
        return data.decode(codec), None
    except UnicodeDecodeError:
        pass
    except Exception:  # a codec failing otherwise on hostile input
        return guess_decode(data), MIME_BAD_CHARSET
    if codec != "utf-8":
        try:
            return data.decode("utf-8"), MIME_CHARSET_MISMATCH
        except UnicodeDecodeError:
            pass
    try:
        return data.decode(codec, "replace"), MIME_CHARSET_MISMATCH
    except Exception:
        return guess_decode(data), MIME_CHARSET_MISMATCH


def cp1252_or_latin1(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _trim_partial(data: bytes, codec: str) -> bytes:
    """Cut data without the incomplete multi-byte character at its end, if any."""
    try:
        decoder = codecs.getincrementaldecoder(codec)("replace")
        decoder.decode(data, final=False)
        pending = decoder.getstate()[0]
    except Exception:
        return data
    return data[:len(data) - len(pending)] if pending else data
