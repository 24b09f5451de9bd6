"""Autolearn: which verdicts are learnt, and a batch learnt through the store into the model file."""
from __future__ import annotations

import asyncio

from mailguard.bayes import persist
from mailguard.bayes.autolearn import AutoLearner, autolearn_label
from mailguard.bayes.holder import ModelHolder
from mailguard.bayes.spec import BayesSettings
from mailguard.config import ActionSettings
from mailguard.scan.verdict import Action, Symbol, decide
from mailguard.store.backends import DB_NAME
from mailguard.store.sqlite import SqliteStore

from bayestools import msg

SETTINGS = BayesSettings(autolearn=True, autolearn_spam=12.0, autolearn_ham=-1.0)


def verdict(*symbols: Symbol):
    return decide(list(symbols), ActionSettings())


def test_only_verdicts_far_beyond_the_thresholds_are_learnt_and_bayes_does_not_count():
    assert autolearn_label(verdict(Symbol("RBL_X", 8.0), Symbol("DBL_SPAM", 5.0)), SETTINGS) == "spam"
    assert autolearn_label(verdict(Symbol("RBL_X", 8.0), Symbol("BAYES_SPAM", 5.5)), SETTINGS) is None
    assert autolearn_label(verdict(Symbol("DMARC_PASS", -0.5), Symbol("ARC_ALLOW", -1.0)), SETTINGS) == "ham"
    assert autolearn_label(verdict(Symbol("DMARC_PASS", -0.5), Symbol("BAYES_HAM", -3.0)), SETTINGS) is None
    assert autolearn_label(verdict(Symbol("GTUBE", 0.0, force=Action.REJECT), Symbol("RBL_X", 20.0)), SETTINGS) is None
    assert autolearn_label(verdict(Symbol("RBL_X", 6.0)), SETTINGS) is None


def test_queued_messages_are_learnt_once_into_the_model_file(tmp_path):
    path = tmp_path / "bayes.model"

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            holder = ModelHolder.load(path)
            learner = AutoLearner(SETTINGS, holder, store, flush_seconds=3600)
            spam = verdict(Symbol("RBL_X", 15.0))
            ham = verdict(Symbol("ARC_ALLOW", -2.0))
            assert learner.consider(msg(1, True), spam) == "spam"
            assert learner.consider(msg(1, True), spam) == "spam"  # twice: counted once
            assert learner.consider(msg(2, False), ham) == "ham"
            assert learner.consider(msg(3, False), verdict(Symbol("X", 1.0))) is None
            done = await learner.flush()
            learner._task.cancel()
            return done, holder

    done, holder = asyncio.run(go())
    assert done == 2
    saved = persist.load(path)
    assert (saved.nspam, saved.nham) == (1, 1)
    assert holder.model is not None and holder.model.nspam == 1


def test_a_refused_model_file_is_never_overwritten_by_autolearn(tmp_path):
    path = tmp_path / "bayes.model"
    path.write_bytes(b"garbage")

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            learner = AutoLearner(SETTINGS, ModelHolder.load(path), store, flush_seconds=3600)
            learner.consider(msg(1, True), verdict(Symbol("RBL_X", 15.0)))
            done = await learner.flush()
            learner._task.cancel()
            return done

    assert asyncio.run(go()) == 0
    assert path.read_bytes() == b"garbage"


def test_service_learner_learns_and_forgets_into_the_served_model(tmp_path):
    from mailguard.bayes.autolearn import ServiceLearner

    path = tmp_path / "bayes.model"

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            holder = ModelHolder.load(path)
            service = ServiceLearner(holder, store)
            learnt = await service.learn([(msg(1, True), "spam"), (msg(2, False), "ham"), (msg(3, True), "spam")])
            counts = (holder.model.nspam, holder.model.nham)
            forgotten = await service.forget([msg(3, True), msg(99, True)])
            return learnt, counts, forgotten, holder

    learnt, counts, forgotten, holder = asyncio.run(go())
    assert (learnt, counts, forgotten) == (3, (2, 1), 1)
    assert (holder.model.nspam, holder.model.nham) == (1, 1)
    assert (persist.load(path).nspam, persist.load(path).nham) == (1, 1)
