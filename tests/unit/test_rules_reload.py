"""Rules are loaded at start (refused when broken) and reloaded on change or SIGHUP; a reload
that fails keeps the last good rules running and logs why."""
from __future__ import annotations

import logging
import os

import pytest

from mailguard.checks.registry import CheckServices
from mailguard.rules.book import RuleBook
from mailguard.rules.model import RulesError
from rulestools import site_config, write_rules

GOOD = '[[rule]]\nname = "B_ONE"\nkind = "body"\npattern = "one"\nscore = 1.0\n'
BROKEN = '[[rule]]\nname = "B_ONE"\nkind = "body"\npattern = "(?=one)"\nscore = 1.0\n'
OTHER = '[[rule]]\nname = "B_TWO"\nkind = "body"\npattern = "two"\nscore = 2.0\n'


def _touch_later(path):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a new stamp, without a sleep


def test_start_refuses_broken_rules(tmp_path):
    site = write_rules(tmp_path / "site", {"r.toml": BROKEN})
    with pytest.raises(RulesError) as err:
        RuleBook.load(site_config(site))
    assert f"{site / 'r.toml'}:4: B_ONE: lookahead" in str(err.value)


def test_file_change_reload_keeps_last_good_rules(tmp_path, caplog):
    site = write_rules(tmp_path / "site", {"r.toml": GOOD})
    book = RuleBook.load(site_config(site))
    good = book.current
    assert "B_ONE" in good.rules
    (site / "r.toml").write_text(BROKEN)
    _touch_later(site / "r.toml")
    with caplog.at_level(logging.ERROR, logger="mailguard.rules"):
        book.refresh(force=True)
    assert book.current is good  # still running the last good set
    assert "rules reload refused, keeping the last good rules" in caplog.text
    assert f"{site / 'r.toml'}:4: B_ONE: lookahead" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="mailguard.rules"):
        book.refresh(force=True)  # nothing changed since: not reported again
    assert caplog.text == ""
    (site / "r.toml").write_text(GOOD)
    (site / "two.toml").write_text(OTHER)
    book.refresh(force=True)
    assert {"B_ONE", "B_TWO"} <= set(book.current.rules) and book.scores["B_TWO"] == 2.0


def test_sighup_reload_keeps_last_good_rules(tmp_path, caplog):
    site = write_rules(tmp_path / "site", {"r.toml": GOOD})
    config = site_config(site)
    services = CheckServices.for_config(config)
    try:
        (site / "r.toml").write_text(BROKEN)
        with caplog.at_level(logging.ERROR, logger="mailguard.rules"):
            reloaded = CheckServices.for_config(config, services)
        assert reloaded.rules.current is services.rules.current
        assert "rules reload refused" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="mailguard.rules"):
            still = CheckServices.for_config(config, reloaded)  # a second SIGHUP, file still broken
        assert still.rules.current is services.rules.current and "rules reload refused" in caplog.text
        (site / "r.toml").write_text(OTHER)
        again = CheckServices.for_config(config, still)
        assert "B_TWO" in again.rules.current.rules and "B_ONE" not in again.rules.current.rules
        unchanged = CheckServices.for_config(config, again)  # nothing changed: the compiled set stays
        assert unchanged.rules.current is again.rules.current
    finally:
        services.close()


def test_score_overrides_of_rule_symbols_are_counted_with_those_of_built_in_ones(tmp_path, caplog):
    import subprocess

    from realservers import VENV_BIN

    # MISSING_DATE is a shipped rule, MIME_BAD_BASE64 a built-in symbol, B_ONE the site's own rule.
    site = write_rules(tmp_path / "site", {"r.toml": GOOD + "\n[scores]\nMISSING_DATE = 0.5\nMIME_BAD_BASE64 = 2.0\n"
                                                              "B_ONE = 3.0\n"})
    import re
    import tomllib
    from pathlib import Path

    shipped = set()  # the shipped rules re-score symbols too (rules/90-fitted-scores.toml)
    for path in (Path(__file__).resolve().parents[2] / "rules").glob("*.toml"):
        shipped |= set(tomllib.loads(path.read_text()).get("scores", {}))
    expected = len(shipped | {"MISSING_DATE", "MIME_BAD_BASE64", "B_ONE"})
    assert expected > len(shipped)
    with caplog.at_level(logging.INFO, logger="mailguard.rules"):
        RuleBook.load(site_config(site))
    assert re.search(rf", {expected} score overrides", caplog.text), caplog.text
    cfg = tmp_path / "mailguard.toml"
    cfg.write_text(f'[rules]\nsite_dir = "{site}"\n')
    res = subprocess.run([VENV_BIN / "mailguard", "rules", "check", "--config", cfg], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and f" and {expected} score overrides from " in res.stderr, res.stderr
