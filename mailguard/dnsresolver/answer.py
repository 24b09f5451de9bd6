"""What a DNS lookup gives a check: records, or a clear "no such data", or a temporary error."""
from __future__ import annotations

import enum
from dataclasses import dataclass


class DnsTempError(Exception):
    """The answer is unknown for now (timeout, SERVFAIL, REFUSED, network): a check's TEMPERROR."""


class DnsTimeout(DnsTempError):
    """No answer in time (counted apart in the metrics)."""


class Status(str, enum.Enum):
    OK = "ok"
    NXDOMAIN = "nxdomain"  # the name does not exist
    NODATA = "nodata"  # the name exists, not with this type


# Records are plain Python values, so that checks and tests never touch dnspython objects:
#   A, AAAA      → "192.0.2.1", "2001:db8::1"
#   TXT          → tuple of the record's character-strings as bytes (join them for one text)
#   MX           → (preference, "exchange.example") without the trailing dot
#   PTR, CNAME   → "target.example" without the trailing dot
RECORD_TYPES = ("A", "AAAA", "TXT", "MX", "PTR", "CNAME")


@dataclass(frozen=True)
class DnsAnswer:
    name: str  # the name asked, lower case, no trailing dot
    rdtype: str
    status: Status
    records: tuple = ()
    ttl: int = 0  # seconds the answer may be cached (negative answers included)

    @property
    def exists(self) -> bool:
        return self.status is Status.OK and bool(self.records)

    def texts(self) -> list[bytes]:
        """TXT records, each with its character-strings joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2)."""
        return [b"".join(r) for r in self.records] if self.rdtype == "TXT" else []


def normalize_name(name: str) -> str:
    return name.strip().rstrip(".").lower()
