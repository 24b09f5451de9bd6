"""The shipped rule set loads clean, explains itself, and catches the tricks it is there for;
`mailguard scan` shows each hit with its name, score, description and what matched."""
from __future__ import annotations

import json
import subprocess
import unicodedata

from mailguard.paths import shipped_rules_dir
from mailguard.scan.verdict import Action
from realservers import VENV_BIN
from rulestools import load, scan


def shipped():
    return load([shipped_rules_dir()])


def names(verdict) -> dict[str, float]:
    return {s.name: s.score for s in verdict.symbols}


def message(headers: str, body: str, html: bool = False) -> bytes:
    kind = "text/html" if html else "text/plain"
    return (f"{headers}Content-Type: {kind}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{body}\r\n").encode("utf-8")


PLAIN = "From: Alice <alice@sender.example>\r\nTo: bob@test.example\r\nSubject: hello\r\n" \
        "Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@sender.example>\r\n"


def test_every_shipped_rule_loads_and_explains_itself():
    rules = shipped()
    assert len(rules.rules) >= 40
    for name, loaded in rules.rules.items():
        if not name.startswith("__"):
            assert loaded.rule.description, name
    assert scan(rules, message(PLAIN, "Lunch on Tuesday?")).symbols == ()


def test_header_anomalies():
    got = names(scan(shipped(), message("From: a@sender.example\r\nSubject: hi\r\n", "hello")))
    assert {"MISSING_DATE", "MISSING_MID"} <= set(got)
    forged = ("From: a@sender.example\r\nSubject: hi\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
              "Message-ID: <abc.def@sender.example>\r\nX-Mailer: Microsoft Outlook Express 6.00.2600.0000\r\n")
    verdict = scan(shipped(), message(forged, "hello"))
    got = names(verdict)
    assert got["FORGED_OUTLOOK"] > 0  # the composite replaces its two parts
    assert got["FORGED_OUTLOOK_MSGID"] == 0.0 and got["FORGED_OE_NO_MIMEOLE"] == 0.0
    display = PLAIN.replace("Alice <alice@sender.example>", '"security@paypal.com" <x@sender.example>')
    assert "FROM_NAME_HAS_ADDRESS" in names(scan(shipped(), message(display, "hello")))


def test_phishing_link_text_showing_another_domain():
    body = ('<p>Please verify your account at <a href="http://paypal.login.evil.example/">'
            'https://www.paypal.com/signin</a> today.</p>')
    verdict = scan(shipped(), message(PLAIN, body, html=True))
    got = {s.name: s for s in verdict.symbols}
    assert got["PHISH_LINK_ACCOUNT"].score == 4.0
    assert got["LINK_TEXT_OTHER_DOMAIN"].detail == \
        "text 'https://www.paypal.com/signin' links to paypal.login.evil.example; replaced by PHISH_LINK_ACCOUNT"
    assert got["PHISH_VERIFY_ACCOUNT"].score == 0.0  # replaced by the composite


def test_obfuscation_tricks():
    zero_width = scan(shipped(), message(PLAIN, "Get your fr\u200bee v\u200ci\u200dagra now"))
    assert "ZERO_WIDTH_IN_WORD" in names(zero_width)
    cyrillic_a = "\u0430"
    mixed = PLAIN.replace("Subject: hello", f"Subject: Your P{cyrillic_a}yPal account")
    got = names(scan(shipped(), message(mixed, f"Log in to P{cyrillic_a}yPal today")))
    assert {"MIXED_SCRIPT_WORD", "MIXED_SCRIPT_SUBJECT"} <= set(got)
    # Vietnamese text is all Latin script: no mixed-script hit, in either normal form
    for form in ("NFC", "NFD"):
        text = unicodedata.normalize(form, "Chúc mừng! Bạn đã trúng thưởng, gọi ngay để nhận quà")
        got = names(scan(shipped(), message(PLAIN, text)))
        assert {"VI_PRIZE", "VI_CALL_NOW"} <= set(got) and "MIXED_SCRIPT_WORD" not in got, form


def test_scan_command_explains_each_hit(tmp_path):
    path = tmp_path / "phish.eml"
    display = PLAIN.replace("Alice <alice@sender.example>", '"security@paypal.com" <x@sender.example>')
    path.write_bytes(message(display, "Your account has been suspended."))
    config = tmp_path / "m.toml"
    config.write_text(f'[rules]\nsite_dir = "{tmp_path / "none"}"\n')
    base = [str(VENV_BIN / "mailguard"), "scan", "--offline", "--config", str(config)]
    res = subprocess.run(base + [str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert ("Symbol: FROM_NAME_HAS_ADDRESS (1.50) From display name shows an address of another domain than "
            "the real sender's [name 'security@paypal.com', address x@sender.example]") in res.stdout
    assert 'Symbol: PHISH_SUSPENDED (1.00) Threatens a suspended account ["account has been suspended"]' in res.stdout
    res = subprocess.run(base + ["--json", str(path)], capture_output=True, text=True, timeout=60)
    row = json.loads(res.stdout)
    assert row["symbols"]["PHISH_SUSPENDED"] == {"score": 1.0, "detail": '"account has been suspended"',
                                                 "description": "Threatens a suspended account"}
    assert row["action"] == Action.ACCEPT.value
