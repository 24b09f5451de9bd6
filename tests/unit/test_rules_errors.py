"""Rule files that cannot be used: every problem is reported with file, rule and line, and
`rules check` / `serve` act on them (CONTRACTS.md: `FILE[:LINE]: RULE: message`, exit 1)."""
from __future__ import annotations

import dataclasses
import subprocess

import pytest

from mailguard.config import Config
from mailguard.lists.spec import ListFile, ListsSettings
from mailguard.rules.model import RulesError
from realservers import VENV_BIN
from rulestools import load, write_rules

GOOD = '''
[[rule]]
name = "SUBJ_FREE_MONEY"
kind = "header"
header = "Subject"
pattern = '(?i)free\\s+money'
score = 2.5
description = "Subject offers free money"
'''


def problems(tmp_path, text: str, config: Config | None = None, name: str = "r.toml") -> list[str]:
    folder = write_rules(tmp_path / "site", {name: text})
    with pytest.raises(RulesError) as err:
        load([folder], config)
    return [str(p).replace(str(folder) + "/", "") for p in err.value.problems]


@pytest.mark.parametrize("text, expected", [
    # TOML syntax: always with its line
    ('[[rule]]\nname = "A"\nkind = "body\n', "r.toml:3: -: TOML syntax error"),
    # unknown key, wrong type, missing and misplaced keys
    (GOOD + 'colour = "red"\n', "r.toml:9: SUBJ_FREE_MONEY: colour: unknown key"),
    (GOOD.replace("score = 2.5", 'score = "high"'), "r.toml:7: SUBJ_FREE_MONEY: score: expected a number, got 'high'"),
    (GOOD.replace("score = 2.5\n", ""), "r.toml:2: SUBJ_FREE_MONEY: 'score' is required"),
    (GOOD.replace('kind = "header"', 'kind = "headr"'), "r.toml:4: SUBJ_FREE_MONEY: kind 'headr': expected one of"),
    (GOOD.replace('header = "Subject"\n', ""), "r.toml:2: SUBJ_FREE_MONEY: kind 'header' needs 'header'"),
    (GOOD + 'expression = "A"\n', "r.toml:9: SUBJ_FREE_MONEY: key 'expression' does not apply to kind 'header'"),
    (GOOD + 'exists = true\n', "r.toml:9: SUBJ_FREE_MONEY: kind 'header' needs exactly one of 'pattern' or 'exists'"),
    (GOOD.replace('name = "SUBJ_FREE_MONEY"', 'name = "subj"'), "r.toml:3: subj: name 'subj': upper-case letters"),
    (GOOD.replace("score = 2.5", 'score = 1\naction = "drop"'), "r.toml:8: SUBJ_FREE_MONEY: action 'drop': expected one of"),
    ('rule = 1\n', "r.toml:1: -: rule: expected tables ([[rule]]), got 1"),
    ('[rules]\n', "r.toml:1: -: unknown key or table 'rules'"),
    # invalid regexes, and what RE2 cannot do, said clearly
    (GOOD.replace("(?i)free\\s+money", "(free"), "r.toml:6: SUBJ_FREE_MONEY: invalid regex: missing )"),
    (GOOD.replace("(?i)free\\s+money", "free(?!dom)"), "r.toml:6: SUBJ_FREE_MONEY: negative lookahead (?!...) is not supported"),
    (GOOD.replace("(?i)free\\s+money", "(?<=get )free"), "r.toml:6: SUBJ_FREE_MONEY: lookbehind (?<=...) is not supported"),
    (GOOD.replace("(?i)free\\s+money", "(free) \\1"), "r.toml:6: SUBJ_FREE_MONEY: backreferences (\\1, ...) are not supported"),
    (GOOD.replace("(?i)free\\s+money", "a++b"), "r.toml:6: SUBJ_FREE_MONEY: possessive quantifiers"),
    (GOOD.replace("(?i)free\\s+money", "\\bgiảm giá\\b"),
     "r.toml:6: SUBJ_FREE_MONEY: \\b is ASCII-only in RE2 and never matches next to non-ASCII letters (as in "
     "Vietnamese); use \\b{w}"),
    (GOOD.replace("(?i)free\\s+money", "(?i)\\p{L}{1000}"), "r.toml:6: SUBJ_FREE_MONEY: pattern too large"),
    # a rule's cost is part of the check: counted repetitions of Unicode classes (the old
    # __CAPS_LINE, seconds of CPU per MB of capitals) are refused however little memory they take
    (GOOD.replace("(?i)free\\s+money", "(?m)^(?:[^\\p{Ll}\\n]*\\p{Lu}){25}[^\\p{Ll}\\n]*$"),
     "r.toml:6: SUBJ_FREE_MONEY: pattern program too large (42766 instructions > 10000)"),
    # names of built-in symbols
    (GOOD.replace("SUBJ_FREE_MONEY", "SPF_FAIL"), "r.toml:3: SPF_FAIL: SPF_FAIL is a built-in symbol"),
    (GOOD.replace("SUBJ_FREE_MONEY", "GTUBE"), "r.toml:3: GTUBE: GTUBE is a built-in symbol"),
    (GOOD.replace("SUBJ_FREE_MONEY", "RBL_ZEN_SBL"), "r.toml:3: RBL_ZEN_SBL: RBL_ZEN_SBL is a built-in symbol"),
    (GOOD.replace("SUBJ_FREE_MONEY", "MIME_ODD"), "r.toml:3: MIME_ODD: MIME_ODD: names starting with CHECK_ERROR_"),
    (GOOD.replace("SUBJ_FREE_MONEY", "CHECK_TIMEOUT_RULES"), "r.toml:3: CHECK_TIMEOUT_RULES: CHECK_TIMEOUT_RULES: names starting with"),
    # meta rules: unknown symbols, cycles, syntax
    ('[[rule]]\nname = "M"\nkind = "meta"\nexpression = "SPF_FAIL && NOPE"\nscore = 1\n',
     "r.toml:1: M: expression refers to unknown symbol NOPE"),
    ('[[rule]]\nname = "M"\nkind = "meta"\nexpression = "SPF_FAIL &&"\nscore = 1\n',
     "r.toml:4: M: expression: expression ends early"),
    ('[[rule]]\nname = "A"\nkind = "meta"\nexpression = "B || SPF_FAIL"\nscore = 1\n'
     '[[rule]]\nname = "B"\nkind = "meta"\nexpression = "A"\nscore = 1\n',
     ": meta rules form a cycle: A -> B -> A"),
    ('[[rule]]\nname = "A"\nkind = "meta"\nexpression = "!A"\nscore = 1\n', "r.toml:1: A: meta rules form a cycle: A -> A"),
    # duplicates, lists, eval tests, envelope fields, [scores]
    (GOOD + GOOD, "r.toml:10: SUBJ_FREE_MONEY: defined twice (first at r.toml:2)"),
    ('[[rule]]\nname = "L"\nkind = "uri"\nlist = "nolist"\nscore = 1\n', "r.toml:4: L: unknown list 'nolist'"),
    ('[[rule]]\nname = "E"\nkind = "eval"\ntest = "magic"\nscore = 1\n', "r.toml:4: E: unknown test 'magic'"),
    ('[[rule]]\nname = "E"\nkind = "envelope"\nfield = "sender"\npattern = "x"\nscore = 1\n',
     "r.toml:4: E: field 'sender': expected one of mail_from"),
    ('[[rule]]\nname = "E"\nkind = "envelope"\nfield = "helo"\nequals = " "\nscore = 1\n', "r.toml:5: E: equals: empty"),
    ('[scores]\nSPF_FAIL = "lots"\n', "r.toml:2: [scores] SPF_FAIL: expected a number, got 'lots'"),
    ('[scores]\nSPF_FAILL = 4.0\n', "r.toml:2: [scores] SPF_FAILL: unknown symbol"),
    ('[scores]\nLIST_NOT_CONFIGURED = 4.0\nMIME_BAD_BASE64 = 1.0\n', "r.toml:2: [scores] LIST_NOT_CONFIGURED: unknown symbol"),
    ('[[rule]]\nname = "M"\nkind = "meta"\nexpression = "MIME_BAD_BASE64 || MIME_TYPO"\nscore = 1\n',
     "r.toml:1: M: expression refers to unknown symbol MIME_TYPO"),
])
def test_each_problem_names_file_rule_and_line(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found


def test_every_problem_is_reported_not_only_the_first(tmp_path):
    text = GOOD.replace("score = 2.5", 'score = "x"') + '''
[[rule]]
name = "B"
kind = "body"
pattern = "(?=x)"
score = 1

[scores]
NOPE = 1
'''
    found = problems(tmp_path, text)
    assert len(found) == 3, found
    assert [p.split(":")[1] for p in found] == ["7", "13", "17"]


def test_not_utf8_and_a_list_name_from_the_config(tmp_path):
    folder = write_rules(tmp_path / "site", {})
    (folder / "bin.toml").write_bytes(b"[[rule]]\nname = \"\xff\"\n")
    with pytest.raises(RulesError) as err:
        load([folder])
    assert "bin.toml: -: not UTF-8 text" in str(err.value)
    config = dataclasses.replace(Config(), lists=ListsSettings(file=(ListFile(name="vip", path="/x"),)))
    found = problems(tmp_path, GOOD.replace("SUBJ_FREE_MONEY", "LIST_VIP"), config, name="l.toml")
    assert any("LIST_VIP: LIST_VIP is a built-in symbol" in p for p in found), found


def test_meta_may_refer_to_any_check_symbol(tmp_path):
    text = ('[[rule]]\nname = "M"\nkind = "meta"\nscore = 1\n'
            'expression = "SPF_FAIL && DKIM_NONE && RBL_ZEN_SBL && BAYES_SPAM && CHECK_TIMEOUT_DNSBL && MIME_BAD_BASE64"\n')
    rules = load([write_rules(tmp_path / "site", {"m.toml": text})])
    assert [m.rule.name for m in rules.metas] == ["M"]


def test_rules_check_command(tmp_path):
    site = write_rules(tmp_path / "site", {"good.toml": GOOD})
    config = tmp_path / "m.toml"
    config.write_text(f'[rules]\nsite_dir = "{site}"\n')
    mailguard = [str(VENV_BIN / "mailguard"), "rules", "check", "--config", str(config)]
    res = subprocess.run(mailguard, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    extra = write_rules(tmp_path / "extra", {"bad.toml": GOOD.replace("2.5", '"x"') + '[scores]\nNOPE = 1\n'})
    res = subprocess.run(mailguard + [str(extra), str(tmp_path / "missing")], capture_output=True, text=True)
    assert res.returncode == 1
    lines = res.stderr.splitlines()
    assert f"{tmp_path / 'missing'}: -: not a folder" in lines
    assert f"{extra / 'bad.toml'}:7: SUBJ_FREE_MONEY: score: expected a number, got 'x'" in lines
    assert f"{extra / 'bad.toml'}:10: [scores] NOPE: unknown symbol: no check emits it and no rule defines it" in lines
    assert "Traceback" not in res.stderr
    res = subprocess.run(mailguard[:3] + ["--bogus"], capture_output=True, text=True)
    assert res.returncode == 2


def test_serve_refuses_to_start_on_bad_rules(tmp_path):
    site = write_rules(tmp_path / "site", {"bad.toml": GOOD.replace("free", "(?=free)")})
    config = tmp_path / "m.toml"
    config.write_text(f'[server]\nlisten = "127.0.0.1:0"\n[rules]\nsite_dir = "{site}"\n')
    res = subprocess.run([str(VENV_BIN / "mailguard"), "serve", "--config", str(config), "--state-dir",
                          str(tmp_path / "state")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert f"{site / 'bad.toml'}:6: SUBJ_FREE_MONEY: lookahead (?=...) is not supported" in res.stderr
    assert "listening on" not in res.stderr and "Traceback" not in res.stderr
