"""Small Bayes fixtures shared by unit and integration tests: a numbered spam or ham message and a
saved model learnt from them."""
from __future__ import annotations

from pathlib import Path

from mailguard.bayes import persist
from mailguard.bayes.model import BayesModel, Hasher
from mailguard.bayes.tokenizer import tokens
from mailguard.scan.message import ParsedMessage

BITS = 16


def msg(i: int, spam: bool, received: str = "") -> bytes:
    words = "cheap pills winner click now offer" if spam else "meeting agenda patch review tomorrow"
    return (f"{received}From: {'promo' if spam else 'colleague'}{i}@example.com\r\nTo: bob@example.org\r\n"
            f"Subject: {'free offer' if spam else 're: the patch'} {i}\r\nMessage-ID: <{i}.{spam}@example.com>\r\n"
            f"Date: Mon, 1 Jan 2024 10:00:{i % 60:02d} +0000\r\n\r\n{words} number{i}\r\n").encode()


def saved_model(path: Path, nspam: int, nham: int) -> None:
    m, h = BayesModel(BITS), Hasher(BITS)
    for i in range(nspam):
        m.learn(h.slots(tokens(ParsedMessage.from_bytes(msg(i, True)))), True)
    for i in range(nham):
        m.learn(h.slots(tokens(ParsedMessage.from_bytes(msg(i, False)))), False)
    persist.save(m, path)
