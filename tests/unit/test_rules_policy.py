"""Per-recipient-domain policies in the config: validation, group of a recipient, the group's
thresholds in the verdict (the SMTP side: test_rules_proxy.py)."""
from __future__ import annotations

import dataclasses

import pytest

from mailguard import config
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.pipeline import Check, Pipeline
from mailguard.scan.verdict import Action, Symbol
from scantools import scan_verdict

GROUPS = '''
[actions]
subject_tag = "[SPAM]"

[[lists.file]]
name = "partners"
path = "partners.txt"
use = "rules"

[[policy.group]]
name = "shop"
domains = ["shop.example", "Shop.Example.NET."]
add_header = 3.0
rewrite_subject = 4.0
subject_tag = "[SHOP-SPAM]"
allow_lists = ["partners"]

[[policy.group]]
name = "mail-shop"
domains = ["mail.shop.example"]
reject = 20.0
'''


def test_groups_and_the_recipients_they_cover(tmp_path):
    cfg = config.from_text(GROUPS, "m.toml", tmp_path)
    assert cfg.policy_group("a@shop.example") == "shop"
    assert cfg.policy_group("a@sales.shop.example") == "shop"  # subdomains too
    assert cfg.policy_group("a@mail.shop.example") == "mail-shop"  # the most specific domain wins
    assert cfg.policy_group("a@shop.example.net") == "shop"
    assert cfg.policy_group("a@elsewhere.example") == ""
    shop = cfg.actions_for("shop")
    assert (shop.add_header, shop.rewrite_subject, shop.quarantine, shop.subject_tag) == (3.0, 4.0, 12.0, "[SHOP-SPAM]")
    assert cfg.actions_for("mail-shop").reject == 20.0 and cfg.actions_for("").subject_tag == "[SPAM]"


@pytest.mark.parametrize("change, expected", [
    (('name = "shop"', 'name = "Shop!"'), "m.toml:11: [[policy.group]] #1 name: 'Shop!': lower-case"),
    (('name = "mail-shop"', 'name = "shop"'), "m.toml:19: [[policy.group]] #2 name: 'shop' is used twice"),
    (('domains = ["mail.shop.example"]', 'domains = ["shop.example"]'),
     "m.toml:20: [[policy.group]] #2 domains: 'shop.example' is already in group 'shop'"),
    (('domains = ["mail.shop.example"]', 'domains = ["not a domain"]'), "#2 domains: 'not a domain' is not a domain"),
    (('domains = ["mail.shop.example"]', 'domains = []'), "#2 domains: at least one recipient domain"),
    (('allow_lists = ["partners"]', 'allow_lists = ["friends"]'), "m.toml:16: [[policy.group]] #1 allow_lists: unknown list 'friends'"),
    (('rewrite_subject = 4.0', 'rewrite_subject = 2.0'), "#1 add_header: thresholds (with those of [actions] it keeps) must rise"),
    (('reject = 20.0', 'reject = "high"'), "m.toml:21: [[policy.group]] #2 reject: expected a number, got 'high'"),
    (('reject = 20.0', 'rejectt = 20.0'), "m.toml:21: [[policy.group]] #2 rejectt: unknown key"),
])
def test_policy_errors_name_the_group_key_and_line(tmp_path, change, expected):
    with pytest.raises(config.ConfigError) as err:
        config.from_text(GROUPS.replace(*change), "m.toml", tmp_path)
    assert expected in str(err.value)


def test_the_group_thresholds_decide(tmp_path):
    cfg = config.from_text(GROUPS, "m.toml", tmp_path)

    async def four(ctx):
        return [Symbol("SOMETHING", 4.0)]

    pipeline = Pipeline((Check("X", four, 1.0),), cfg.actions, 5.0,
                        policy_thresholds={g.name: cfg.actions_for(g.name) for g in cfg.policy.group})
    facts = MessageFacts(ClientFacts(ip="192.0.2.1"), "a@b.example", ("u@shop.example",), "Q")
    verdict = scan_verdict(pipeline, facts, b"Subject: x\r\n\r\nx\r\n", cfg)  # the group of its recipient
    assert verdict.action is Action.REWRITE_SUBJECT and verdict.required == 3.0
    facts = dataclasses.replace(facts, rcpts=("u@elsewhere.example",))
    verdict = scan_verdict(pipeline, facts, b"Subject: x\r\n\r\nx\r\n", cfg)  # no group: [actions]
    assert verdict.action is Action.ACCEPT and verdict.required == 5.0


def test_scan_takes_the_group_of_its_first_rcpt(tmp_path):
    import json
    import subprocess

    from realservers import VENV_BIN

    (tmp_path / "partners.txt").write_text("partner.example\n")
    cfg = tmp_path / "m.toml"
    cfg.write_text(GROUPS + f'\n[rules]\nsite_dir = "{tmp_path / "none"}"\n')
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"From: a@b.example\r\nSubject: x\r\n\r\nhello\r\n")
    base = [str(VENV_BIN / "mailguard"), "scan", "--offline", "--json", "--config", str(cfg)]
    rows = [json.loads(subprocess.run(base + rcpt + [str(msg)], capture_output=True, text=True, timeout=60).stdout)
            for rcpt in (["--rcpt", "u@shop.example", "--rcpt", "v@elsewhere.example"], ["--rcpt", "v@x.example"], [])]
    assert [r["required"] for r in rows] == [3.0, 5.0, 5.0]
