"""Slots are computed without scikit-learn, with the values its FeatureHasher gives, so that
model files written before (and by `train`, which imports it) stay valid."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mailguard.bayes.model import Hasher


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=20))
def test_slots_are_the_ones_scikit_learns_featurehasher_gives(tokens):
    from sklearn.feature_extraction import FeatureHasher

    bits = 22
    expected = FeatureHasher(2 ** bits, input_type="string", alternate_sign=False).transform([tokens])
    assert np.array_equal(Hasher(bits).slots(tokens), np.unique(expected.indices))


def test_scoring_a_message_does_not_import_scikit_learn(tmp_path):
    code = (
        "import sys\n"
        "from mailguard.bayes.model import BayesModel, Hasher\n"
        "from mailguard.bayes.tokenizer import tokens\n"
        "from mailguard.scan.message import ParsedMessage\n"
        "h = Hasher(16); m = BayesModel(16)\n"
        "msg = ParsedMessage.from_bytes(b'Subject: cheap offer\\r\\n\\r\\nwin money now\\r\\n')\n"
        "m.learn(h.slots(['a', 'b']), True); m.learn(h.slots(['c']), False)\n"
        "m.score(h.slots(tokens(msg)))\n"
        "print('sklearn' in sys.modules, 'scipy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
