"""The bounded MIME parse: the stdlib feed parser fed in chunks under caps on depth and lines."""
from __future__ import annotations

import re
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import compat32


from mailguard.scan.caps import (
    FEED_CHUNK, HEADER_LINE_COST, MAX_DEPTH, MAX_HEADERS, MAX_HEADER_CHARS, MAX_LINE, MAX_PARAMS,
    MAX_PARAM_HEADER_CHARS, MAX_PARSED_OBJECTS, MAX_PARSE_BYTES, MAX_PARSE_LINES
)
from mailguard.scan.headers import header_block_end
from mailguard.scan.problems import (
    MIME_HEADER_DEFECT, MIME_LONG_HEADER, MIME_TOO_MANY_HEADERS, MIME_TOO_MANY_PARTS, MIME_TRUNCATED,
    Problem
)


class _ParseState:
    """What the parser's message objects report while the parser runs."""

    def __init__(self) -> None:
        self.objects = 0
        self.max_depth = 0
        self.problems: list[Problem] = []
        self.counting = False


_EMPTY_PARAMS = re.compile(r";[\s;]*;")


def _clip_params(value: str) -> tuple[str, bool | None]:
    """Content-Type / -Disposition cut to a size the stdlib's parameter parser handles fast
    (it is quadratic in the length and the number of parameters). Runs of empty parameters
    (";;;;", a spam trick) are collapsed first so that what follows them is kept.
    Returns (value, True when cut / None when only collapsed / False when untouched)."""
    clipped = False
    if ";;" in value or "; ;" in value or ";\t;" in value:
        value = _EMPTY_PARAMS.sub(";", value)
        clipped = None  # not cut, but padded with empty parameters
    if len(value) > MAX_PARAM_HEADER_CHARS:
        value, clipped = value[:MAX_PARAM_HEADER_CHARS], True
    if value.count(";") > MAX_PARAMS:
        cut = -1
        for _ in range(MAX_PARAMS + 1):
            cut = value.find(";", cut + 1)
        value, clipped = value[:cut], True
    return value, clipped


class _BoundedMessage(Message):
    """compat32 Message that caps headers and nesting while the feed parser builds it."""

    _mg_state: _ParseState | None = None
    _mg_depth = 0
    _mg_headers = 0

    def attach(self, payload):  # the feed parser attaches every new part to its parent
        if isinstance(payload, _BoundedMessage):
            payload._mg_depth = self._mg_depth + 1
            state = self._mg_state
            if state is not None and payload._mg_depth > state.max_depth:
                state.max_depth = payload._mg_depth
        return super().attach(payload)

    def get_content_type(self):
        if self._mg_depth > MAX_DEPTH:  # too deep: not parsed further, an opaque body
            return "application/octet-stream"
        return super().get_content_type()

    def set_raw(self, name, value):
        state = self._mg_state
        if state is None:
            return super().set_raw(name, value)
        self._mg_headers += 1
        if self._mg_headers > MAX_HEADERS:
            if self._mg_headers == MAX_HEADERS + 1:
                state.problems.append(Problem(MIME_TOO_MANY_HEADERS, f"over {MAX_HEADERS}"))
            return None
        if isinstance(value, str):
            if len(name) + len(value) + 2 > MAX_LINE and any(
                    len(line) > MAX_LINE for line in (name + ": " + value).splitlines()):
                state.problems.append(Problem(MIME_LONG_HEADER, f"{name[:40]} line over {MAX_LINE}"))
            if len(value) > MAX_HEADER_CHARS:
                value = value[:MAX_HEADER_CHARS]
                state.problems.append(Problem(MIME_LONG_HEADER, f"{name[:40]} cut at {MAX_HEADER_CHARS}"))
            if name.lower() in ("content-type", "content-disposition"):
                value, clipped = _clip_params(value)
                if clipped:
                    state.problems.append(Problem(MIME_LONG_HEADER, f"{name} parameters cut"))
                elif clipped is None:
                    state.problems.append(Problem(MIME_HEADER_DEFECT, f"{name}: empty parameters"))
        return super().set_raw(name, value)


def parse_bounded(raw: bytes) -> tuple[Message, _ParseState, str | None]:
    """Feed the parser chunk by chunk, stopping at the caps. Returns (root, state, stop reason)."""
    state = _ParseState()

    def factory(policy=compat32):
        msg = _BoundedMessage(policy=policy)
        if state.counting:
            msg._mg_state = state
            state.objects += 1
        return msg

    parser = BytesFeedParser(_factory=factory, policy=compat32)
    state.counting = True
    stopped: str | None = None
    work = 0
    limit = min(len(raw), MAX_PARSE_BYTES)
    header_end = header_block_end(raw, limit)
    for start in range(0, limit, FEED_CHUNK):
        end = min(start + FEED_CHUNK, limit)
        chunk = raw[start:end]
        work += (chunk.count(b"\n") or 1) * (1 + state.max_depth)
        if start < header_end:  # header lines cost the parser several times a body line
            work += raw.count(b"\n", start, min(end, header_end)) * (HEADER_LINE_COST - 1)
        parser.feed(chunk)
        if state.objects > MAX_PARSED_OBJECTS:
            stopped = MIME_TOO_MANY_PARTS
            break
        if work > MAX_PARSE_LINES:
            stopped = MIME_TRUNCATED
            break
    else:
        if len(raw) > MAX_PARSE_BYTES:
            stopped = MIME_TRUNCATED
    root = parser.close()
    return root, state, stopped
