"""The Bayes model: learn/unlearn symmetry, scores, and the model file (no pickle, refused when bad)."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from mailguard.bayes import persist
from mailguard.bayes.model import BayesModel, Hasher
from mailguard.bayes.tokenizer import TOKENIZER_VERSION

BITS = 16


@pytest.fixture(scope="module")
def hasher():
    return Hasher(BITS)


def spam_words(i):
    return ["cheap", "viagra", "winner", "click", f"offer{i}", "subject:free"]


def ham_words(i):
    return ["meeting", "agenda", "patch", "review", f"thread{i}", "subject:re"]


def trained(hasher, n=30) -> BayesModel:
    m = BayesModel(BITS)
    for i in range(n):
        m.learn(hasher.slots(spam_words(i)), True)
        m.learn(hasher.slots(ham_words(i)), False)
    return m


def test_hashing_is_stable_and_unique(hasher):
    a = hasher.slots(["alpha", "beta", "alpha"])
    assert len(a) == 2 and np.array_equal(a, Hasher(BITS).slots(["beta", "alpha"]))


def test_scores_separate_and_log_odds_keep_ranking_past_saturation(hasher):
    m = trained(hasher)
    spam, ham = m.score(hasher.slots(spam_words(99))), m.score(hasher.slots(ham_words(99)))
    assert spam.probability > 0.9 and ham.probability < 0.2  # the default calibration
    assert spam.log_odds > 0 > ham.log_odds
    stronger = m.score(hasher.slots(spam_words(99) + [f"viagra{i}" for i in range(3)] + ["winner", "cheap"]))
    assert m.score(hasher.slots(["cheap", "meeting", "agenda", "patch"])).log_odds < spam.log_odds
    assert stronger.log_odds >= spam.log_odds - 1e-9
    assert m.score(hasher.slots(["never-seen-token"])).probability == 0.5


def test_unlearn_undoes_learn_exactly(hasher):
    m = trained(hasher)
    before = (m.spam.copy(), m.ham.copy(), m.nspam, m.nham)
    probe = hasher.slots(spam_words(7) + ham_words(3))
    score_before = m.score(probe)
    extra = hasher.slots(["meeting", "viagra", "brand-new"])
    m.learn(extra, True)
    assert m.score(probe) != score_before
    m.unlearn(extra, True)
    assert np.array_equal(m.spam, before[0]) and np.array_equal(m.ham, before[1])
    assert (m.nspam, m.nham) == before[2:]
    assert m.score(probe) == score_before


def test_learning_with_the_wrong_label_then_moving_it_equals_learning_it_right(hasher):
    right, moved = trained(hasher), trained(hasher)
    slots = hasher.slots(spam_words(500))
    right.learn(slots, True)
    moved.learn(slots, False)
    moved.unlearn(slots, False)
    moved.learn(slots, True)
    assert np.array_equal(right.spam, moved.spam) and np.array_equal(right.ham, moved.ham)


def test_round_trip_gives_identical_scores(tmp_path, hasher):
    m = trained(hasher)
    path = tmp_path / "bayes.model"
    persist.save(m, path)
    loaded = persist.load(path)
    assert (loaded.nspam, loaded.nham, loaded.bits) == (m.nspam, m.nham, BITS)
    for words in (spam_words(1), ham_words(2), ["cheap", "agenda"]):
        assert loaded.score(hasher.slots(words)) == m.score(hasher.slots(words))
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed


def test_save_replaces_atomically(tmp_path, hasher):
    path = tmp_path / "bayes.model"
    persist.save(BayesModel(BITS), path)
    persist.save(trained(hasher), path)
    assert persist.load(path).nspam == 30


def _rewrite(path, **entries):
    """Write an npz with these entries (arrays), bypassing persist.save."""
    with open(path, "wb") as fh:
        np.savez(fh, **entries)


def _meta(**changes):
    meta = {"format": "mailguard-bayes", "version": 2, "bits": BITS, "hasher": "sklearn-featurehasher-murmur3-32",
            "tokenizer": TOKENIZER_VERSION, "nspam": 1, "nham": 1, "saved_at": 0}
    meta.update(changes)
    return np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)


@pytest.mark.parametrize("case", ["garbage", "truncated", "flipped", "pickle", "wrong_version", "wrong_tokenizer",
                                  "wrong_shape", "wrong_dtype", "object_array", "missing_entry", "bad_json"])
def test_corrupt_or_incompatible_files_are_refused_with_the_file_named(tmp_path, hasher, case):
    path = tmp_path / "bayes.model"
    good = np.zeros(2 ** BITS, np.uint32)
    if case == "garbage":
        path.write_bytes(b"this is not a model")
    elif case in ("truncated", "flipped"):
        persist.save(trained(hasher), path)
        data = bytearray(path.read_bytes())
        if case == "truncated":
            data = data[:len(data) // 2]
        else:
            for i in range(len(data) // 3, len(data) // 3 + 64):
                data[i] ^= 0xFF
        path.write_bytes(bytes(data))
    elif case == "pickle":
        import pickle

        path.write_bytes(pickle.dumps({"spam": [1, 2, 3]}))
    elif case == "wrong_version":
        _rewrite(path, meta=_meta(version=99), spam=good, ham=good)
    elif case == "wrong_tokenizer":
        _rewrite(path, meta=_meta(tokenizer=TOKENIZER_VERSION + 1), spam=good, ham=good)
    elif case == "wrong_shape":
        _rewrite(path, meta=_meta(), spam=good[:100], ham=good)
    elif case == "wrong_dtype":
        _rewrite(path, meta=_meta(), spam=good.astype(np.float64), ham=good)
    elif case == "object_array":
        with open(path, "wb") as fh:
            np.savez(fh, meta=_meta(), spam=np.array([{"x": 1}], dtype=object), ham=good)
    elif case == "missing_entry":
        _rewrite(path, meta=_meta(), spam=good)
    elif case == "bad_json":
        _rewrite(path, meta=np.frombuffer(b"{not json", dtype=np.uint8), spam=good, ham=good)
    with pytest.raises(persist.ModelFileError) as info:
        persist.load(path)
    assert str(path) in str(info.value)


def test_file_holds_the_documented_entries(tmp_path, hasher):
    path = tmp_path / "bayes.model"
    persist.save(trained(hasher), path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["ham.npy", "meta.npy", "spam.npy"]
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(npz["meta"].tobytes())
    assert meta["format"] == "mailguard-bayes" and meta["version"] == 2 and meta["nspam"] == 30


def test_missing_file_is_not_an_error_of_the_format(tmp_path):
    with pytest.raises(FileNotFoundError):
        persist.load(tmp_path / "nothing.model")
