"""Each rule kind on real message bytes, composites and replacement, score overrides and their
precedence, forced actions, and a backtracking pattern over an adversarial body."""
from __future__ import annotations

import dataclasses
import unicodedata

from mailguard.lists.registry import LocalLists
from mailguard.lists.spec import ListFile, ListsSettings
from mailguard.scan.verdict import Action, Symbol
from rulestools import emitting, load, scan, site_config, write_rules


def rule(name: str, kind: str, score: float = 1.0, **keys) -> str:
    lines = [f'[[rule]]\nname = "{name}"\nkind = "{kind}"\nscore = {score}\ndescription = "{name.lower()}"']
    for key, value in keys.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        else:
            lines.append(f"{key} = '{value}'")
    return "\n".join(lines) + "\n\n"


MESSAGE = (
    "From: \"service@paypal.com\" <alice@sender.example>\r\n"
    "To: user@test.example\r\n"
    "Subject: =?utf-8?b?R2nhuqNtIGdpw6EgRlJFRSAgbW9uZXk=?=\r\n"  # "Giảm giá FREE  money"
    "X-Mailer: Microsoft Outlook Express 6.00.2600.0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Khuy\u1ebfn m\u00e3i: GI\u1ea2M GI\u00c1 50% h\u00f4m nay. fr\u200bee pills\r\n"
    "--b\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>Log in at <a href=\"http://login.evil.example/x\">www.paypal.com</a> now</p>\r\n"
    "--b--\r\n"
).encode("utf-8")


def symbols(verdict) -> dict[str, Symbol]:
    return {s.name: s for s in verdict.symbols}


def test_each_kind_hits_and_shows_what_matched(tmp_path):
    site = write_rules(tmp_path / "site", {"k.toml": "".join([
        rule("H_SUBJ", "header", header="Subject", pattern=r"(?i)free\s+money"),
        rule("H_MAILER", "header", header="X-Mailer", equals="microsoft outlook express 6.00.2600.0000"),
        rule("H_NO_DATE", "header", header="Date", exists=False),
        rule("H_HAS_DATE", "header", header="Date", exists=True),
        rule("H_ALL", "header", header="ALL", pattern=r"(?m)^X-Mailer: Microsoft"),
        rule("B_VI", "body", pattern=r"(?i)\b{w}giảm giá\b{w}"),
        rule("B_MISS", "body", pattern=r"(?i)\b{w}giá 5\b{w}"),
        rule("B_HTML_TEXT", "body", pattern=r"Log in at www\.paypal\.com"),
        rule("RAW_ZW", "rawbody", pattern="\\p{L}[\\x{200B}-\\x{200D}]+\\p{L}"),
        rule("RAW_HREF", "rawbody", pattern=r'href="http://login\.'),
        rule("U_EVIL", "uri", pattern=r"^http://login\.evil\.example/"),
        rule("F_BOUNDARY", "full", pattern=r"(?m)^--b--"),
        rule("E_FROM", "envelope", field="mail_from", pattern=r"@sender\.example$"),
        rule("E_HELO", "envelope", field="helo", equals="HELO.sender.example"),
        rule("E_RCPT", "envelope", field="rcpt", pattern=r"^nobody@"),
        rule("EV_LINK", "eval", test="link_text_domain_mismatch"),
        rule("EV_NAME", "eval", test="from_name_other_address"),
    ])})
    got = symbols(scan(load([site]), MESSAGE))
    assert got["H_SUBJ"].detail == 'Subject: "FREE  money"' and got["H_SUBJ"].description == "h_subj"
    assert got["H_MAILER"].detail.startswith("X-Mailer: \"Microsoft Outlook")
    assert got["H_NO_DATE"].detail == "no Date header" and "H_HAS_DATE" not in got
    assert got["H_ALL"].detail == 'header: "X-Mailer: Microsoft"'
    assert got["B_VI"].detail == '"GIẢM GIÁ"' and "B_MISS" not in got  # "giá 50": no boundary after 5
    assert "B_HTML_TEXT" in got  # HTML reduced to the text a reader sees
    assert got["RAW_ZW"].detail == '"r\u200be"'  # zero-width space, dropped from the visible text
    assert "RAW_HREF" in got and got["U_EVIL"].detail == '"http://login.evil.example/"'
    assert "F_BOUNDARY" in got and "E_FROM" in got and "E_HELO" in got and "E_RCPT" not in got
    assert got["EV_LINK"].detail == "text 'www.paypal.com' links to login.evil.example"
    assert "paypal.com" in got["EV_NAME"].detail


def test_vietnamese_text_matches_in_either_normal_form(tmp_path):
    site = write_rules(tmp_path / "site", {"v.toml": rule("B_VI", "body", pattern=r"(?i)\b{w}giảm giá\b{w}")})
    rules = load([site])
    for form in ("NFC", "NFD"):
        body = unicodedata.normalize(form, "Khuyến mãi lớn: giảm giá hôm nay")
        raw = f"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n".encode()
        assert "B_VI" in symbols(scan(rules, raw)), form
    raw = "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nkhông giảm giáo dục\r\n".encode()
    assert "B_VI" not in symbols(scan(rules, raw))  # "giáo" is another word


def test_rules_refer_to_named_local_lists(tmp_path):
    block = tmp_path / "block.txt"
    block.write_text("sender.example\n192.0.2.0/24\nevil.example\nboss@test.example\n")
    config = dataclasses.replace(site_config(tmp_path / "site"), lists=ListsSettings(
        file=(ListFile(name="bad", path=str(block), use="rules"),)))
    site = write_rules(tmp_path / "site", {"l.toml": "".join([
        rule("L_SENDER", "envelope", field="mail_from", list="bad"),
        rule("L_IP", "envelope", field="client_ip", list="bad"),
        rule("L_NAME", "envelope", field="client_name", list="bad"),
        rule("L_LINK", "uri", list="bad"),
        rule("L_FROM", "header", header="From", list="bad"),
        rule("L_TO", "header", header="To", list="bad"),
    ])})
    lists = LocalLists.load(config.lists)
    got = symbols(scan(load([site], config), MESSAGE, lists=lists))
    assert got["L_SENDER"].detail == "mail_from alice@sender.example on list bad (sender.example)"
    assert got["L_IP"].detail == "client_ip 192.0.2.7 on list bad (192.0.2.0/24)"
    assert "L_NAME" in got and "L_FROM" in got and "L_TO" not in got
    assert got["L_LINK"].detail.startswith("link http://login.evil.example/x on list bad")


def test_meta_and_or_not_counts_over_any_check_symbols(tmp_path):
    site = write_rules(tmp_path / "site", {"m.toml": "".join([
        rule("B_FREE", "body", pattern="(?i)pills"),
        rule("M_AND", "meta", 2.0, expression="SPF_FAIL && B_FREE && !DKIM_VALID"),
        rule("M_OR", "meta", expression="DKIM_VALID || BAYES_SPAM"),
        rule("M_TWO", "meta", expression="2 of (SPF_FAIL, RBL_ZEN_SBL, B_FREE)"),
        rule("M_THREE", "meta", expression="3 of (SPF_FAIL, RBL_ZEN_SBL, B_FREE, M_NOT)"),
        rule("M_NOT", "meta", expression="!DKIM_VALID"),
        rule("M_OF_META", "meta", expression="M_AND && M_TWO"),
    ])})
    auth = emitting(Symbol("SPF_FAIL", 1.0, "mfrom=x"), Symbol("BAYES_SPAM", 3.0, "p=0.99"))
    got = symbols(scan(load([site]), MESSAGE, auth))
    assert {"M_AND", "M_OR", "M_TWO", "M_THREE", "M_NOT", "M_OF_META"} <= set(got)
    assert got["M_AND"].score == 2.0 and got["M_AND"].detail == "parts: B_FREE, SPF_FAIL"
    got = symbols(scan(load([site]), MESSAGE, emitting(Symbol("DKIM_VALID", -0.2))))
    assert "M_AND" not in got and "M_NOT" not in got and "M_TWO" not in got and "M_OR" in got


def test_composite_replaces_its_parts_and_forces_an_action(tmp_path):
    site = write_rules(tmp_path / "site", {"m.toml": "".join([
        rule("B_PILLS", "body", 2.0, pattern="(?i)pills"),
        rule("H_SUBJ", "header", 1.5, header="Subject", pattern="(?i)money"),
        '[[rule]]\nname = "PHARMA"\nkind = "meta"\nexpression = "B_PILLS && H_SUBJ && SPF_FAIL && !DKIM_VALID"\n'
        'score = 6.0\nreplaces = true\naction = "quarantine"\ndescription = "pharmacy spam"\n',
    ])})
    verdict = scan(load([site]), MESSAGE, emitting(Symbol("SPF_FAIL", 1.0)))
    got = symbols(verdict)
    assert got["PHARMA"].score == 6.0 and got["PHARMA"].force is Action.QUARANTINE
    for part in ("B_PILLS", "H_SUBJ", "SPF_FAIL"):  # kept for the record, score taken by the composite
        assert got[part].score == 0.0 and "replaced by PHARMA" in got[part].detail
    assert verdict.forced is Action.QUARANTINE
    assert verdict.score == round(sum(s.score for s in verdict.symbols), 2)


def test_score_overrides_follow_precedence(tmp_path):
    shipped = write_rules(tmp_path / "shipped", {"s.toml": rule("B_PILLS", "body", 2.0, pattern="(?i)pills")
                                                 + "[scores]\nSPF_FAIL = 3.0\nDKIM_NONE = 0.7\n"})
    site = write_rules(tmp_path / "site", {"s.toml": "[scores]\nSPF_FAIL = 4.0\nB_PILLS = 0.5\n"})
    checks = emitting(Symbol("SPF_FAIL", 1.0), Symbol("DKIM_NONE", 0.0), Symbol("RBL_ZEN_SBL", 4.0))
    got = symbols(scan(load([shipped]), MESSAGE, checks))
    assert (got["SPF_FAIL"].score, got["DKIM_NONE"].score, got["B_PILLS"].score) == (3.0, 0.7, 2.0)
    got = symbols(scan(load([shipped, site]), MESSAGE, checks))
    assert (got["SPF_FAIL"].score, got["DKIM_NONE"].score, got["B_PILLS"].score) == (4.0, 0.7, 0.5)
    assert got["RBL_ZEN_SBL"].score == 4.0  # no override: the check's default
    # a site rule of the same name replaces the shipped one
    site2 = write_rules(tmp_path / "site2", {"s.toml": rule("B_PILLS", "body", 9.0, pattern="nothing-here")})
    got = symbols(scan(load([shipped, site2]), MESSAGE))
    assert "B_PILLS" not in got


def test_catastrophic_backtracking_pattern_finishes_in_bounded_time(tmp_path):
    site = write_rules(tmp_path / "site", {"b.toml": "".join([
        rule("EVIL_BODY", "body", pattern="(a+)+$"),
        rule("EVIL_RAW", "rawbody", pattern="(a|aa)*b"),
        rule("EVIL_FULL", "full", pattern="(x+x+)+y"),
        rule("EVIL_SUBJ", "header", header="Subject", pattern="^(a*)*$"),
    ])})
    body = "a" * 100_000 + "!"
    raw = (f"Subject: {'a' * 5000}!\r\nContent-Type: text/plain\r\n\r\n{body}\r\n{'x' * 100_000}\r\n").encode()
    rules = load([site])
    # A backtracking engine (Python's re) would not return here before the age of the universe
    # is out: the suite's timeout fails the test then. RE2 is linear.
    got = symbols(scan(rules, raw))
    assert not {"EVIL_BODY", "EVIL_RAW", "EVIL_FULL", "EVIL_SUBJ"} & set(got)


def test_many_rules_over_one_large_message(tmp_path):
    words = [f"word{i:03d}" for i in range(300)]
    site = write_rules(tmp_path / "site", {"many.toml": "".join(
        rule(f"B_{i:03d}", "body", pattern=rf"(?i)\b{{w}}{w}\s+offer\b{{w}}") for i, w in enumerate(words))})
    rules = load([site])
    body = " ".join(f"text {w} more" for w in words * 30) + " word150 offer"
    raw = f"Subject: x\r\nContent-Type: text/plain\r\n\r\n{body}\r\n".encode()
    got = symbols(scan(rules, raw))
    assert [n for n in got if n.startswith("B_")] == ["B_150"]


def test_overrides_leave_a_symbol_its_check_zeroed_on_purpose(tmp_path):
    site = write_rules(tmp_path / "site", {"s.toml": "[scores]\nDMARC_FAIL_REJECT = 5.0\n"})
    overridden = Symbol("DMARC_FAIL_REJECT", 0.0, "from=x p=reject; overridden by ARC", neutral=True)
    got = symbols(scan(load([site]), MESSAGE, emitting(overridden, Symbol("ARC_ALLOW", -1.0))))
    assert got["DMARC_FAIL_REJECT"].score == 0.0 and got["ARC_ALLOW"].score == -1.0
    got = symbols(scan(load([site]), MESSAGE, emitting(Symbol("DMARC_FAIL_REJECT", 3.5))))
    assert got["DMARC_FAIL_REJECT"].score == 5.0
