"""The header edits that make Postfix's copy of a message what the proxy would have relayed:
our fields inserted first (after Postfix's own Received header), the sender's copies of our
headers deleted, the Subject tagged. The rules of what is ours live in scan/headers.py."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from mailguard.milter.protocol import AddHeader, ChangeHeader, InsertHeader
from mailguard.scan import headers

# Postfix puts its Received header first and writes no other; ours go right after it, as
# behind Postfix's smtpd_proxy_filter (SMFIR_INSHEADER counts that header: index 1 is after it).
FIRST_POSITION = 1

Edit = AddHeader | InsertHeader | ChangeHeader


def header_edits(received: Sequence[tuple[bytes, bytes]], fields: Sequence[str], *, authserv_id: str,
                 subject_tag: str = "", leading_space: bool = True) -> list[Edit]:
    """The edits for a message whose header fields arrived as `received` ((name, value) as the
    MTA sent them) and that gets our `fields` ("Name: value", CR LF folded) and `subject_tag`.

    `leading_space`: the values carry the space after the colon (SMFIP_HDR_LEADSPC); without
    it the MTA adds one to what we send."""
    edits: list[Edit] = []
    seen: Counter[bytes] = Counter()
    forged: list[tuple[int, bytes]] = []
    subject: tuple[bytes, bytes] | None = None
    for name, value in received:
        key = name.lower()
        seen[key] += 1
        field = name + b":" + (value if leading_space else b" " + value)
        if headers.is_ours(field, authserv_id):
            forged.append((seen[key], name))
        elif key == b"subject" and subject is None:
            subject = (name, field)
    # Highest index first: deleting one never shifts the index of another still to delete.
    for index, name in sorted(forged, key=lambda item: (item[1].lower(), -item[0])):
        edits.append(ChangeHeader(index, _text(name), ""))
    for i, text in enumerate(fields):
        name, value = _split(headers.safe_field(text), leading_space)
        edits.append(InsertHeader(FIRST_POSITION + i, name, value))
    if subject_tag:
        edits.extend(_subject_edit(subject, subject_tag, leading_space))
    return edits


def _subject_edit(subject: tuple[bytes, bytes] | None, tag: str, leading_space: bool) -> list[Edit]:
    if subject is None:
        name, value = _split(_text(headers.rewrite_subject(b"", tag)).rstrip("\r\n"), leading_space)
        return [AddHeader(name, value)]
    name, field = subject
    tagged = headers.rewrite_subject(field + b"\r\n", tag)
    if tagged == field + b"\r\n":  # tagged already
        return []
    _, value = _split(_text(tagged).rstrip("\r\n"), leading_space)
    return [ChangeHeader(1, _text(name), value)]


def _split(field: str, leading_space: bool) -> tuple[str, str]:
    """("Name", value) of a field; the value's folding as the milter protocol wants it (\\n)."""
    name, _, value = field.partition(":")
    if not leading_space and value.startswith(" "):
        value = value[1:]
    return name.strip(), value.replace("\r\n", "\n")


def _text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")
