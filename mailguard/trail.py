"""The log trail: one line at the end of every message and for every refusal, so that the log
answers "why was mail from X refused?" as `mailguard history --sender X` does.

Each line carries the transaction's id (the one in our reply, the history row and the quarantine
entry), the client, the envelope, the reason class (mailguard/reasons.py), the verdict and the
reply given. It never carries the message: no body, no Subject or other header, no AUTH data.
With `[server] log_format = "json"` every log line is one JSON object, these lines with their
fields as keys (`jq 'select(.sender == "a@b.example")'`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from mailguard.scan.verdict import Verdict
from mailguard.smtp.replies import Reply

log = logging.getLogger("mailguard.trail")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
WORKER_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s worker=%(worker)s: %(message)s"


@dataclass(frozen=True)
class Entry:
    queue_id: str
    result: str  # accepted | quarantined | taken (a report) | refused (5xx) | deferred (4xx)
    stage: str  # where the answer was given: mail | rcpt | data
    client_ip: str | None
    client_name: str | None
    sender: str
    rcpts: tuple[str, ...]
    reply: Reply
    reason: str = ""  # a refusal's reason class
    verdict: Verdict | None = None
    size: int | None = None  # bytes of the message (data)
    postfix_id: str = ""  # Postfix's queue id (milter)
    scan_ms: float | None = None
    total_ms: float | None = None

    def fields(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "id": self.queue_id, "result": self.result, "stage": self.stage, "client_ip": self.client_ip,
            "client_name": self.client_name, "sender": self.sender, "rcpts": list(self.rcpts),
            "reason": self.reason or None, "action": v.action.value if v else None,
            "score": float(v.score) if v else None,
            "symbols": {s.name: float(s.score) for s in v.symbols} if v else {},
            "size": self.size, "postfix_id": self.postfix_id or None,
            "scan_ms": _ms(self.scan_ms), "total_ms": _ms(self.total_ms),
            "reply": _one_line(self.reply),
        }

    def text(self) -> str:
        v = self.verdict
        parts = [f"{self.queue_id} {self.result} at {self.stage}:",
                 f"client={self.client_name or 'unknown'}[{self.client_ip or 'unknown'}]",
                 f"from=<{self.sender}>", "to=" + (",".join(f"<{r}>" for r in self.rcpts) or "-")]
        if self.reason:
            parts.append(f"reason={self.reason}")
        if v is not None:
            parts += [f"action={v.action.value}", f"score={v.score:.2f}",
                      "symbols=" + (",".join(f"{s.name}({s.score:.2f})" for s in v.symbols) or "-")]
        if self.size is not None:
            parts.append(f"size={self.size}")
        if self.postfix_id:
            parts.append(f"postfix={self.postfix_id}")
        if self.scan_ms is not None:
            parts.append(f"scan_ms={self.scan_ms:.1f}")
        if self.total_ms is not None:
            parts.append(f"total_ms={self.total_ms:.1f}")
        parts.append(f'reply="{_one_line(self.reply)}"')
        return " ".join(parts)


def write(entry: Entry) -> None:
    log.info("%s", entry.text(), extra=entry.fields())


def result_of(reply: Reply) -> str:
    return "accepted" if reply.ok else "deferred" if reply.code < 500 else "refused"


def formatter(log_format: str, with_worker: bool = False) -> logging.Formatter:
    """The formatter of every log line: text, or JSON objects (python-json-logger). With worker
    processes (mailguard/workers/logid.py), each record carries its worker's id."""
    if log_format == "json":
        return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", json_ensure_ascii=False,
                             rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})
    return logging.Formatter(WORKER_TEXT_FORMAT if with_worker else TEXT_FORMAT)


def _one_line(reply: Reply) -> str:
    return str(reply).replace("\r\n", " / ")


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
