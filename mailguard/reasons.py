"""Why mail was refused, in the words the sender's admin reads and ours looks up.

A refusal names its *reason class* and the transaction's id (`550 5.7.1 Message rejected as
spam (id 8769052AB077)`); the symbol names only with `[server] reply_symbols = true`, since they
tell a spammer which of our checks to work around. The same reason class is what the log line
and the history row carry (mailguard/trail.py), with every symbol.
"""
from __future__ import annotations

from mailguard.auth import spec as auth_spec
from mailguard.config import Config
from mailguard.dnsbl import spec as dnsbl_spec
from mailguard.lists import spec as lists_spec
from mailguard.reports import spec as reports_spec
from mailguard.scan.verdict import Action, Verdict
from mailguard.smtp.replies import Reply

SPAM = "spam"  # by score, or a content check (GTUBE, a rule, Bayes)
DMARC = "dmarc"  # the sender's domain asks for it (DMARC p=reject)
BLOCKLIST = "blocklist"  # a local block list, or the block list that users' reports feed
DNSBL = "dnsbl"  # the client address on a public DNS blocklist
ADVERTISING = "advertising"  # Decree 91/2020: an opt-out or a 24-hour limit (their own texts)
DOWNSTREAM = "downstream"  # Postfix's own answer, relayed
LIMIT = "limit"  # one of our limits (size, bytes in flight)
UNCHECKED = "unchecked"  # 451: a check could not decide now (a forced tempfail)
ERROR = "error"  # 451: our own failure (the scan, the store)

# The checks whose forced reject is not about the content, by the reason class they give.
_CHECK_REASONS = ((auth_spec.SPEC, DMARC), (lists_spec.SPEC, BLOCKLIST), (reports_spec.SPEC, BLOCKLIST),
                  (dnsbl_spec.SPEC, DNSBL))

# (after DATA, at RCPT): what each class says.
_TEXTS = {
    SPAM: ("Message rejected as spam", "Recipient refused by policy"),
    DMARC: ("Message rejected: DMARC policy of the sender's domain",
            "Recipient refused: DMARC policy of the sender's domain"),
    BLOCKLIST: ("Message rejected: sender or client on our block list",
                "Recipient refused: sender or client on our block list"),
    DNSBL: ("Message rejected: client address on a DNS blocklist",
            "Recipient refused: client address on a DNS blocklist"),
}

DOWNSTREAM_UNAVAILABLE = Reply(451, "4.4.1 Downstream temporarily unavailable")


def reason_of(verdict: Verdict, config: Config) -> str:
    """The reason class of a refusing verdict: that of the symbol forcing the reject, else spam."""
    forcing = next((s.name for s in verdict.symbols if s.force is Action.REJECT), None)
    if forcing is None:
        return SPAM
    for spec, reason in _CHECK_REASONS:
        if forcing.startswith(tuple(f.prefix for f in spec.families)) or \
                any(s.name == forcing for s in spec.all_symbols(config)):
            return reason
    return SPAM


def refusal(verdict: Verdict, config: Config, queue_id: str, at_rcpt: bool = False) -> tuple[Reply, str]:
    """Our 550 for a refusing verdict, and its reason class."""
    reason = reason_of(verdict, config)
    text = _TEXTS[reason][1 if at_rcpt else 0]
    return Reply(550, f"5.7.1 {text} ({_named(verdict, config)}id {queue_id})"), reason


def tempfail(text: str, queue_id: str) -> Reply:
    """A 451 of ours for this message (`text` starts with its enhanced code), with the id."""
    return Reply(451, f"{text} (id {queue_id})")


def _named(verdict: Verdict, config: Config) -> str:
    if not config.server.reply_symbols:
        return ""
    names = verdict.reasons()
    return f"{', '.join(names)}; " if names else ""
