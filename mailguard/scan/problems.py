"""The MIME_* problem codes the message parse records, and the Problem record."""
from __future__ import annotations

from dataclasses import dataclass


# Problem codes (each becomes a symbol of that name in the pipeline).
MIME_BAD_BOUNDARY = "MIME_BAD_BOUNDARY"  # multipart without boundary, or boundary / close missing
MIME_MISSING_CHARSET = "MIME_MISSING_CHARSET"  # 8-bit text with no charset declared
MIME_BAD_CHARSET = "MIME_BAD_CHARSET"  # a charset label no codec knows
MIME_CHARSET_MISMATCH = "MIME_CHARSET_MISMATCH"  # bytes not valid in the declared charset
MIME_BAD_BASE64 = "MIME_BAD_BASE64"  # invalid characters, length or padding
MIME_BAD_CTE = "MIME_BAD_CTE"  # unknown Content-Transfer-Encoding
MIME_NUL_BYTES = "MIME_NUL_BYTES"  # NUL bytes in the message
MIME_TOO_MANY_PARTS = "MIME_TOO_MANY_PARTS"
MIME_TOO_DEEP = "MIME_TOO_DEEP"
MIME_TOO_MANY_HEADERS = "MIME_TOO_MANY_HEADERS"
MIME_TOO_MANY_LINKS = "MIME_TOO_MANY_LINKS"
MIME_LONG_HEADER = "MIME_LONG_HEADER"  # a header line over 998 characters, or a huge field
MIME_HEADER_DEFECT = "MIME_HEADER_DEFECT"  # the parser's header defects; ";;;;"-padded params
MIME_8BIT_HEADER = "MIME_8BIT_HEADER"  # raw 8-bit header bytes that are not UTF-8
MIME_BAD_ENCODED_WORD = "MIME_BAD_ENCODED_WORD"  # an RFC 2047 word that does not decode
MIME_TRUNCATED = "MIME_TRUNCATED"  # a size cap was hit: what follows was not looked at
MIME_DEFECT = "MIME_DEFECT"  # any other defect the parser reports
MIME_PARSE_ERROR = "MIME_PARSE_ERROR"  # the parser failed; the message was read best-effort
MIME_BAD_ADDRESS_HEADER = "MIME_BAD_ADDRESS_HEADER"  # an address field too deep or unparseable
MIME_COMBINING_RUN = "MIME_COMBINING_RUN"  # over MAX_MARKS combining marks on one letter (cut)

DEFECT_CODES = {
    "NoBoundaryInMultipartDefect": MIME_BAD_BOUNDARY,
    "StartBoundaryNotFoundDefect": MIME_BAD_BOUNDARY,
    "CloseBoundaryNotFoundDefect": MIME_BAD_BOUNDARY,
    "MultipartInvariantViolationDefect": MIME_BAD_BOUNDARY,
    "FirstHeaderLineIsContinuationDefect": MIME_HEADER_DEFECT,
    "MisplacedEnvelopeHeaderDefect": MIME_HEADER_DEFECT,
    "MissingHeaderBodySeparatorDefect": MIME_HEADER_DEFECT,
    "MalformedHeaderDefect": MIME_HEADER_DEFECT,
    "InvalidHeaderDefect": MIME_HEADER_DEFECT,
    "HeaderMissingRequiredValue": MIME_HEADER_DEFECT,
    "NonPrintableDefect": MIME_HEADER_DEFECT,
    "ObsoleteHeaderDefect": MIME_HEADER_DEFECT,
    "InvalidMultipartContentTransferEncodingDefect": MIME_BAD_CTE,
    "InvalidBase64PaddingDefect": MIME_BAD_BASE64,
    "InvalidBase64CharactersDefect": MIME_BAD_BASE64,
    "InvalidBase64LengthDefect": MIME_BAD_BASE64,
    "UndecodableBytesDefect": MIME_8BIT_HEADER,
}


@dataclass(frozen=True)
class Problem:
    code: str  # a MIME_* name
    detail: str = ""
