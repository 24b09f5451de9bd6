"""The content model's calibration (issue 17): fitted at `train` time on held-out folds cut by
sender, stored in the model file (format 2), and one continuous BAYES symbol from it."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from mailguard import cli
from mailguard.bayes import calibration, persist
from mailguard.bayes.calibration import Calibration
from mailguard.bayes.check import FULL_Z, symbol_for
from mailguard.bayes.model import BayesModel, Hasher, Score
from mailguard.bayes.spec import BayesSettings
from mailguard.bayes.tokenizer import tokens
from mailguard.scan.message import ParsedMessage

from bayestools import BITS, msg


def slots_of(raw: bytes, hasher: Hasher) -> np.ndarray:
    return hasher.slots(tokens(ParsedMessage.from_bytes(raw)))


def test_a_model_without_some_messages_is_exactly_one_that_never_learnt_them():
    h = Hasher(BITS)
    kept = [(slots_of(msg(i, i % 2 == 0), h), i % 2 == 0) for i in range(20)]
    held = [(slots_of(msg(i, i % 3 == 0), h), i % 3 == 0) for i in range(100, 112)]
    everything, only_kept = BayesModel(BITS), BayesModel(BITS)
    for s, spam in kept + held:
        everything.learn(s, spam)
    for s, spam in kept:
        only_kept.learn(s, spam)
    without = everything.without(held)
    assert np.array_equal(without.spam, only_kept.spam) and np.array_equal(without.ham, only_kept.ham)
    assert (without.nspam, without.nham) == (only_kept.nspam, only_kept.nham)
    assert everything.nspam + everything.nham == 32  # the original is left alone


def test_messages_of_one_sender_share_a_fold_and_are_scored_without_it():
    """A sender's own words must not vouch for its held-out messages: a shop whose every mail
    carries its name would otherwise look certain."""
    h = Hasher(BITS)
    shop = [(f"From: news@shop.example.com\r\nSubject: s\r\n\r\nzanzibarshop deal {i}\r\n").encode() for i in range(4)]
    learnt = [(slots_of(raw, h), True, calibration.sender_group(ParsedMessage.from_bytes(raw))) for raw in shop]
    learnt += [(slots_of(msg(i, i % 2 == 0), h), i % 2 == 0, f"sender{i}.example") for i in range(40)]
    model = BayesModel(BITS)
    for s, spam, _ in learnt:
        model.learn(s, spam)
    folds = calibration.fold_ids([g for _, _, g in learnt])
    assert len(set(folds[:4])) == 1
    oof = calibration.out_of_fold(model, learnt)
    members = [(s, spam) for (s, spam, _), f in zip(learnt, folds) if f == folds[0]]
    assert oof[0] == pytest.approx(model.without(members).score(learnt[0][0]).log_odds)
    assert oof[0] < model.score(learnt[0][0]).log_odds  # the memorised score is more confident


def test_a_sender_with_a_big_share_of_the_run_is_spread_over_the_folds():
    """All of a site's own ham from its own domain in one fold would leave that fold scored by a
    model that learnt no ham at all."""
    groups = ["company.example"] * 60 + [f"s{i}.example" for i in range(40)]
    folds = calibration.fold_ids(groups)
    assert len(set(folds[:60])) == calibration.FOLDS
    assert folds[60:] == [calibration.fold_ids(groups)[60 + i] for i in range(40)]


def test_the_calibration_needs_both_classes_and_keeps_no_evidence_neutral():
    h = Hasher(BITS)
    learnt = [(slots_of(msg(i, i < 30), h), i < 30, f"s{i}.example") for i in range(60)]
    model = BayesModel(BITS)
    for s, spam, _ in learnt:
        model.learn(s, spam)
    fitted = calibration.fit(model, learnt)
    assert fitted is not None and fitted.slope > 0 and fitted.intercept == 0.0
    assert (fitted.messages, fitted.folds) == (60, calibration.FOLDS)
    assert fitted.z(0.0) == 0.0
    few = learnt[:10] + learnt[30:]
    assert calibration.fit(model.without([(s, sp) for s, sp, _ in learnt[10:30]]), few) is None


def test_the_calibration_is_saved_and_a_damaged_one_is_refused(tmp_path):
    h = Hasher(BITS)
    m = BayesModel(BITS, calibration=Calibration(0.42, 0.0, 3000, 5))
    m.learn(slots_of(msg(1, True), h), True)
    path = tmp_path / "bayes.model"
    persist.save(m, path)
    assert persist.load(path).calibration == Calibration(0.42, 0.0, 3000, 5)
    with zipfile.ZipFile(path) as z:
        meta = json.loads(np.lib.format.read_array(z.open("meta.npy")).tobytes())
    assert meta["version"] == 2 and meta["calibration"] == {"slope": 0.42, "intercept": 0.0, "messages": 3000, "folds": 5}

    for bad in ({"slope": -1.0, "intercept": 0.0, "messages": 1, "folds": 5}, {"slope": 1.0}, "x"):
        meta["calibration"] = bad
        broken = tmp_path / "broken.model"
        with open(broken, "wb") as fh:
            np.savez(fh, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), spam=m.spam, ham=m.ham)
        with pytest.raises(persist.ModelFileError, match="broken.model: metadata calibration"):
            persist.load(broken)


def test_a_model_file_of_format_1_is_refused_with_retrain(tmp_path):
    m = BayesModel(BITS)
    meta = {"format": "mailguard-bayes", "version": 1, "bits": BITS, "hasher": "sklearn-featurehasher-murmur3-32",
            "tokenizer": 1, "nspam": 0, "nham": 0, "saved_at": 0}
    path = tmp_path / "old.model"
    with open(path, "wb") as fh:
        np.savez(fh, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), spam=m.spam, ham=m.ham)
    with pytest.raises(persist.ModelFileError, match="version 1.*retrain"):
        persist.load(path)


def test_the_symbol_is_continuous_no_evidence_is_thrown_away():
    """Before, every p between 0.2 and 0.9 was BAYES_UNSURE with score 0."""
    s = BayesSettings(spam_score=8.0, ham_score=-4.0)
    weak, strong = symbol_for(Score(1.0, 1.0, 50), s), symbol_for(Score(3.0, 3.0, 50), s)
    assert (weak.name, strong.name) == ("BAYES_SPAM", "BAYES_SPAM")
    assert 0 < weak.score < strong.score < 8.0 and weak.score == pytest.approx(8.0 / FULL_Z)
    assert symbol_for(Score(-20.0, -20.0, 50), s).score == -4.0  # capped at the full score
    ham = symbol_for(Score(-2.0, -2.0, 50), s)
    assert ham.name == "BAYES_HAM" and ham.score == pytest.approx(-4.0 * 2 / FULL_Z)
    assert "p=0.1192" in ham.detail and "z=-2.00" in ham.detail


def test_a_scores_override_sets_the_full_score_and_keeps_the_evidence(tmp_path):
    from mailguard.scan.pipeline import Pipeline
    from mailguard.config import ActionSettings

    class Rules:
        scores = {"BAYES_SPAM": 12.0}

        def finish(self, symbols):
            return list(symbols)

    pipeline = Pipeline((), ActionSettings(), 5.0, rules=Rules())
    half = symbol_for(Score(4.0, 4.0, 10), BayesSettings())
    assert pipeline._rescored(half).score == pytest.approx(6.0)


def test_train_fits_and_stores_the_calibration(tmp_path, capsys):
    spam, ham = tmp_path / "spam", tmp_path / "ham"
    spam.mkdir(), ham.mkdir()
    for i in range(40):
        (spam / f"{i:05d}").write_bytes(msg(i, True))
        (ham / f"{i:05d}").write_bytes(msg(i, False))
    state = tmp_path / "state"
    assert cli.main(["train", "--state-dir", str(state), "--spam", str(spam), "--ham", str(ham)]) == 0
    out = capsys.readouterr().out
    assert "calibration: z = " in out and "fitted on 80 messages in 5 held-out folds" in out
    assert persist.load(state / "bayes.model").calibration.messages == 80
    # a run too small to fit keeps the calibration it had
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "x").write_bytes(msg(999, True))
    assert cli.main(["train", "--state-dir", str(state), "--spam", str(tmp_path / "one")]) == 0
    assert "calibration: kept" in capsys.readouterr().out
    assert persist.load(state / "bayes.model").calibration.messages == 80
