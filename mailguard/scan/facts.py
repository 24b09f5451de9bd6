"""What the SMTP session (or `mailguard scan`) knows about one message besides its bytes."""
from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClientFacts:
    """The connecting client, as seen on the socket or as told by a trusted XFORWARD."""

    ip: str | None = None
    port: int | None = None
    name: str | None = None  # forward-confirmed reverse DNS name, None when unknown
    name_tempfail: bool = False  # the name lookup failed for now (XCLIENT NAME=[TEMPUNAVAIL])
    helo: str | None = None
    protocol: str = "ESMTP"  # SMTP | ESMTP, as XCLIENT/XFORWARD PROTO carries it
    tls: bool = False
    forwarded: bool = False  # facts came from a trusted peer's XFORWARD


@dataclass(frozen=True)
class MessageFacts:
    client: ClientFacts
    mail_from: str  # "" for the null sender
    rcpts: tuple[str, ...]
    queue_id: str
    received_at: float = field(default_factory=time.time)
    smtputf8: bool = False
    policy: str = ""  # the recipients' policy group ([[policy.group]] name; "" for [actions])
