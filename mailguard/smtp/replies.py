"""SMTP replies: a value type, and the enhanced status codes (RFC 3463) on every reply we write."""
from __future__ import annotations

import re
from dataclasses import dataclass

_HAS_ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}(\s|$)")

# Default enhanced code for a reply of ours that was written without one (mostly aiosmtpd's).
_DEFAULT_ENHANCED = {
    211: "2.0.0", 214: "2.0.0", 221: "2.0.0", 250: "2.0.0", 251: "2.1.5", 252: "2.0.0",
    421: "4.3.2", 450: "4.2.0", 451: "4.3.0", 452: "4.3.1", 454: "4.7.0",
    500: "5.5.2", 501: "5.5.4", 502: "5.5.1", 503: "5.5.1", 504: "5.5.4", 530: "5.7.0",
    550: "5.0.0", 551: "5.1.6", 552: "5.3.4", 553: "5.1.3", 554: "5.0.0", 555: "5.5.4",
}


@dataclass(frozen=True)
class Reply:
    code: int
    text: str  # several lines joined with "\n"

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    def wire_lines(self) -> list[str]:
        lines = self.text.split("\n") if self.text else [""]
        last = len(lines) - 1
        return [f"{self.code}{' ' if i == last else '-'}{line}".rstrip() for i, line in enumerate(lines)]

    def __str__(self) -> str:
        return "\r\n".join(self.wire_lines())


# Every failure of the downstream hop, whatever it was: the client retries; why is in our log only
# (an errno or our internal address tells the sender nothing and an attacker something).
DOWNSTREAM_UNAVAILABLE = Reply(451, "4.4.1 Downstream temporarily unavailable")


def with_enhanced_code(status: str) -> str:
    """`status` (one or more wire lines) with an enhanced status code on every line lacking one."""
    lines = status.split("\r\n")
    out = []
    for line in lines:
        if len(line) >= 3 and line[:3].isdigit() and (len(line) == 3 or line[3] in " -"):
            code = int(line[:3])
            text = line[4:]
            enhanced = _DEFAULT_ENHANCED.get(code) or (f"{code // 100}.0.0" if code // 100 in (2, 4, 5) else None)
            if enhanced and not _HAS_ENHANCED.match(text):
                line = f"{line[:3]}{line[3:4] or ' '}{enhanced} {text}".rstrip()
        out.append(line)
    return "\r\n".join(out)
