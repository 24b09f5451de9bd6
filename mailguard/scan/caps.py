"""Caps of the message parse: each bounds one loop; hitting one records the problem named beside it and stops."""
from __future__ import annotations


MAX_PARSE_BYTES = 32 * 1024 * 1024  # bytes of the message given to the MIME parser (MIME_TRUNCATED)
MAX_PARSE_LINES = 400_000  # line units fed to the MIME parser; a line costs 1 + the deepest
#                            nesting seen so far, as the parser's per-line work does (MIME_TRUNCATED)
HEADER_LINE_COST = 4  # a line of the top-level header block counts as this many line units
FEED_CHUNK = 16 * 1024  # the parser is fed in chunks of this size; caps are checked between them
MAX_PARSED_OBJECTS = 2_000  # message objects (parts and containers) the parser may create
#                             (MIME_TOO_MANY_PARTS)
MAX_PARTS = 1_000  # leaf parts walked and recorded (MIME_TOO_MANY_PARTS)
MAX_DEPTH = 20  # multipart / message nesting; deeper parts are kept as opaque bodies (MIME_TOO_DEEP)
MAX_HEADERS = 500  # header fields kept per part (MIME_TOO_MANY_HEADERS)
MAX_HEADER_CHARS = 32 * 1024  # characters kept of one header field's value (MIME_LONG_HEADER)
MAX_LINE = 998  # RFC 5322 §2.1.1 line limit; a longer header line is MIME_LONG_HEADER
MAX_PARAM_HEADER_CHARS = 2_048  # Content-Type / -Disposition kept for parameter parsing, since
MAX_PARAMS = 24  # the stdlib's parameter parser is quadratic in both (MIME_LONG_HEADER)
MAX_PART_TEXT = 1024 * 1024  # decoded bytes of one text part turned into text (MIME_TRUNCATED)
MAX_TOTAL_TEXT = 4 * 1024 * 1024  # characters of text over all parts (MIME_TRUNCATED)
MAX_B64_SEGMENTS = 64  # base64 pieces (padding inside the data) decoded one by one
MAX_TAG = 8_192  # characters of one HTML tag; a longer one is read as text
MAX_HTML_TAGS = 40_000  # HTML work units read per part: a tag costs 1 + its attributes
#                         (html.parser's cost is per attribute), a '<' that starts none 1
#                         (MIME_TRUNCATED)
MAX_TOTAL_HTML_TAGS = 60_000  # the same over all parts of a message (MIME_TRUNCATED)
MAX_LINKS = 1_000  # link records kept (MIME_TOO_MANY_LINKS)
MAX_LINK_CANDIDATES = 10_000  # URLs examined, kept or not (MIME_TOO_MANY_LINKS)
MAX_URL = 2_048  # characters of one URL
MAX_ANCHOR_TEXT = 1_000  # characters kept of one anchor's text
MAX_ATTACHED = 10  # attached messages (message/rfc822, text/rfc822-headers) kept as parsed messages
MAX_ATTACHED_LEVEL = 3  # attached in attached in attached; deeper ones are only in the flat parts
MAX_PROBLEM_DETAILS = 3  # details merged into one symbol by problem_symbols()
