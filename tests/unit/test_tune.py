"""`mailguard tune` (issue 17): scores fitted on labelled mail, signs kept, the add_header
threshold set for a false-positive rate, written as a [scores] file the rules load."""
from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from mailguard import cli
from mailguard.tuning import fit

SA = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "spamassassin"


def test_a_symbol_never_turns_into_a_discount():
    """A rule scoring spam that fires only on ham must fall to 0, not below: otherwise a sender
    would lower its score by tripping it. A negative one (an allow-list) may not turn positive."""
    rng = np.random.default_rng(7)
    y = np.array([1] * 200 + [0] * 800)
    spammy = (y == 1) & (rng.random(1000) < 0.8)
    ham_only = (y == 0) & (rng.random(1000) < 0.3)  # a "spam" rule that in fact marks ham
    allow = (y == 1) & (rng.random(1000) < 0.3)  # an allow-list entry that in fact marks spam
    x = np.column_stack([spammy, ham_only, allow]).astype(float)
    names = ["SPAMMY", "MISFIRING", "ALLOWED"]
    got = fit.fit(x, y, names, {"SPAMMY": 1.0, "MISFIRING": 2.0, "ALLOWED": -5.0}, required=5.0)
    assert got.scores["SPAMMY"] > 0
    assert got.scores["MISFIRING"] == 0.0 and got.scores["ALLOWED"] == 0.0


def test_the_threshold_keeps_the_false_positive_rate():
    rng = np.random.default_rng(3)
    y = np.array([1] * 300 + [0] * 2000)
    x = np.column_stack([np.where(y == 1, rng.normal(3, 1, y.size), rng.normal(0, 1, y.size)).clip(0),
                         (rng.random(y.size) < np.where(y == 1, 0.5, 0.05))]).astype(float)
    for rate in (0.001, 0.01):
        got = fit.fit(x, y, ["A", "B"], {"A": 1.0, "B": 1.0}, required=5.0, fpr=rate)
        total = x @ np.array([got.scores["A"], got.scores["B"]])
        assert fit.rates(total, y, 5.0).false_positives <= rate * 2000 + 1  # +1: scores are rounded


def test_tune_writes_a_scores_file_the_rules_load(tmp_path, capsys):
    spam = sorted(p for p in (SA / "spam").iterdir())[:60]
    ham = sorted(p for p in (SA / "easy_ham").iterdir())[:240]
    out = tmp_path / "fitted.toml"
    state = tmp_path / "state"
    code = cli.main(["tune", "--state-dir", str(state), "--spam", *map(str, spam), "--ham", *map(str, ham),
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "tune: 60 spam, 240 ham read" in err and "Bayes scored out of fold" in err
    assert "fitted: false positives 0/240" in err  # 0.1 % of 240 ham is none
    scores = tomllib.loads(out.read_text())["scores"]
    assert scores["BAYES_SPAM"] > 0 > scores["BAYES_HAM"]
    assert all(v >= 0 for k, v in scores.items() if k != "BAYES_HAM")
    site = tmp_path / "rules.d"
    site.mkdir()
    (site / "fitted.toml").write_text(out.read_text())
    (tmp_path / "cfg.toml").write_text(f'[rules]\nsite_dir = "{site}"\n')
    assert cli.main(["rules", "check", "--config", str(tmp_path / "cfg.toml")]) == 0
    assert not (state / "bayes.model").exists()  # tune learns nothing


def test_tune_usage_and_one_class_only(tmp_path, capsys):
    ham = sorted(p for p in (SA / "easy_ham").iterdir())[:5]
    assert cli.main(["tune", "--state-dir", str(tmp_path), "--spam", str(tmp_path / "none"),
                     "--ham", *map(str, ham)]) == 1
    assert "both are needed" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["tune", "--state-dir", str(tmp_path), "--ham", str(ham[0])])
    assert exc.value.code == 2
