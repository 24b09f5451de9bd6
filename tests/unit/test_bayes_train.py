"""Learning through the store (idempotent, moves, forget), `mailguard train`, the BAYES check."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import numpy as np
import pytest

from mailguard import cli
from mailguard.bayes import persist
from mailguard.bayes.check import BayesCheck
from mailguard.bayes.digest import message_digest
from mailguard.bayes.holder import ModelHolder
from mailguard.bayes.model import BayesModel
from mailguard.bayes.spec import BayesSettings
from mailguard.bayes.train import Learner
from mailguard.config import Config
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.pipeline import ScanContext
from mailguard.store.backends import DB_NAME
from mailguard.store.sqlite import SqliteStore

from bayestools import BITS, msg, saved_model
from scantools import scan_verdict
FACTS = MessageFacts(client=ClientFacts(ip="192.0.2.1"), mail_from="a@example.com", rcpts=("b@example.org",),
                     queue_id="t1")


def run(coro):
    return asyncio.run(coro)


async def with_learner(tmp_path, fn):
    async with SqliteStore(tmp_path / DB_NAME) as store:
        learner = Learner(BayesModel(BITS), store, tmp_path / "bayes.model")
        return await fn(learner, store)


def test_learning_twice_counts_once_and_a_relabel_moves_the_message(tmp_path):
    async def go(learner, store):
        r1 = await learner.learn([msg(1, True), msg(2, True)], "spam")
        r2 = await learner.learn([msg(1, True)], "spam")  # unsaved yet: still known
        await learner.save()
        r3 = await learner.learn([msg(1, True)], "spam")
        counts = learner.model.spam.copy()
        r4 = await learner.learn([msg(1, True)], "ham")
        await learner.save()
        labels = await store.learned_labels([message_digest(msg(1, True)), message_digest(msg(2, True))])
        return r1, r2, r3, r4, counts, learner.model, labels

    r1, r2, r3, r4, counts, model, labels = run(with_learner(tmp_path, go))
    assert (r1.learnt, r2.already, r3.already) == (2, 1, 1)
    assert r4.moved == 1 and (model.nspam, model.nham) == (1, 1)
    assert counts.sum() > model.spam.sum()
    assert sorted(labels.values()) == ["ham", "spam"]


def test_forget_unlearns_with_the_label_it_was_learnt_with(tmp_path):
    async def go(learner, store):
        await learner.learn([msg(i, True) for i in range(5)], "spam")
        await learner.learn([msg(i, False) for i in range(5)], "ham")
        await learner.save()
        before = (learner.model.spam.copy(), learner.model.ham.copy())
        await learner.learn([msg(9, False)], "ham")
        await learner.save()
        r = await learner.forget([msg(9, False), msg(77, True)])
        await learner.save()
        left = await store.learned_labels([message_digest(msg(9, False))])
        return before, learner.model, r, left

    before, model, r, left = run(with_learner(tmp_path, go))
    assert (r.forgotten, r.unknown) == (1, 1) and left == {}
    assert np.array_equal(before[0], model.spam) and np.array_equal(before[1], model.ham)
    assert (model.nspam, model.nham) == (5, 5)


def test_digest_ignores_what_relays_add():
    plain = msg(3, True)
    relayed = msg(3, True, received="Received: from relay.example (relay.example [192.0.2.1])\r\n"
                                   "X-Spam-Status: Yes\r\nReturn-Path: <x@y>\r\n")
    assert message_digest(plain) == message_digest(relayed)
    assert message_digest(plain.replace(b"\r\n", b"\n")) == message_digest(plain)
    assert message_digest(plain) != message_digest(msg(4, True))


def write_dir(root: Path, n: int, spam: bool, start: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        (root / f"{i:05d}").write_bytes(msg(i, spam))
    return root


def test_train_command_is_idempotent_and_forgets(tmp_path, capsys):
    spam, ham = write_dir(tmp_path / "spam", 6, True), write_dir(tmp_path / "ham", 4, False)
    state = str(tmp_path / "state")
    assert cli.main(["train", "--state-dir", state, "--spam", str(spam), "--ham", str(ham)]) == 0
    out = capsys.readouterr().out
    assert "spam: 6 learnt" in out and "ham: 4 learnt" in out and "6 spam, 4 ham learnt" in out
    assert cli.main(["train", "--state-dir", state, "--spam", str(spam)]) == 0
    assert "6 already learnt" in capsys.readouterr().out
    assert cli.main(["train", "--state-dir", state, "--ham", str(spam / "00000")]) == 0
    assert "1 moved" in capsys.readouterr().out
    assert cli.main(["train", "--state-dir", state, "--forget", str(ham)]) == 0
    assert "4 unlearnt" in capsys.readouterr().out
    model = persist.load(Path(state) / "bayes.model")
    assert (model.nspam, model.nham) == (5, 1)


def test_train_usage_errors_exit_2(tmp_path, capsys):
    assert cli.main(["train", "--state-dir", str(tmp_path)]) == 2
    assert cli.main(["train", "--state-dir", str(tmp_path), "--spam", "x", "--forget", "y"]) == 2


def test_train_on_a_corrupt_model_exits_1_naming_the_file(tmp_path, capsys):
    state = tmp_path / "state"
    state.mkdir()
    (state / "bayes.model").write_bytes(b"PK\x03\x04 but not really a zip")
    spam = write_dir(tmp_path / "spam", 2, True)
    assert cli.main(["train", "--state-dir", str(state), "--spam", str(spam)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{state / 'bayes.model'}: ")
    assert (state / "bayes.model").read_bytes().startswith(b"PK\x03\x04 but")  # left alone


def test_train_reports_unreadable_sources_and_exits_1(tmp_path, capsys):
    assert cli.main(["train", "--state-dir", str(tmp_path / "s"), "--spam", str(tmp_path / "missing")]) == 1
    assert "missing" in capsys.readouterr().err


def scan_symbols(check: BayesCheck, raw: bytes) -> list:
    return run(check(ScanContext(FACTS, raw)))


def test_no_symbol_until_enough_spam_and_ham_were_learnt(tmp_path):
    path = tmp_path / "bayes.model"
    settings = BayesSettings(min_spam=20, min_ham=20)
    saved_model(path, 20, 19)
    check = BayesCheck(settings, ModelHolder.load(path))
    assert scan_symbols(check, msg(500, True)) == []
    saved_model(path, 20, 20)
    check = BayesCheck(settings, ModelHolder.load(path))
    [spam] = scan_symbols(check, msg(500, True))
    [ham] = scan_symbols(check, msg(501, False))
    assert spam.name == "BAYES_SPAM" and 0 < spam.score <= settings.spam_score and "p=" in spam.detail
    assert ham.name == "BAYES_HAM" and settings.ham_score <= ham.score < 0


def test_missing_model_gives_no_symbol_and_a_corrupt_one_keeps_the_last_good(tmp_path, caplog):
    path = tmp_path / "bayes.model"
    check = BayesCheck(BayesSettings(min_spam=1, min_ham=1), ModelHolder.load(path))
    assert scan_symbols(check, msg(1, True)) == []
    saved_model(path, 3, 3)
    holder = ModelHolder.load(path)
    assert holder.model is not None
    path.write_bytes(b"garbage")
    with caplog.at_level(logging.ERROR, logger="mailguard.bayes"):
        reloaded = ModelHolder.load(path, holder)
    assert reloaded.model is holder.model
    assert str(path) in caplog.text and "refused" in caplog.text
    assert ModelHolder.load(path).model is None  # no last good: run without Bayes


def test_pipeline_runs_bayes_offline_from_the_state_dir(tmp_path):
    from mailguard.checks.registry import CheckServices, build_pipeline

    saved_model(tmp_path / "bayes.model", 3, 3)
    cfg = Config().replace("store", state_dir=str(tmp_path)).replace("bayes", min_spam=3, min_ham=3)
    services = CheckServices.for_config(cfg)
    try:
        pipeline = build_pipeline(cfg, offline=True, services=services)
        verdict = scan_verdict(pipeline, FACTS, msg(900, True))
    finally:
        services.close()
    assert verdict.symbol("BAYES_SPAM") is not None


def test_a_model_file_changed_while_serving_is_picked_up_without_a_reload(tmp_path):
    path = tmp_path / "bayes.model"
    saved_model(path, 3, 3)
    holder = ModelHolder.load(path)
    holder.pacer.every = 0.0
    first = holder.model

    async def go():
        saved_model(path, 4, 3)
        holder.poll()  # sees the new file, loads it in a worker thread
        await holder.pacer.running
        return holder.model

    second = run(go())
    assert second is not first and (second.nspam, second.nham) == (4, 3)


def test_a_model_trained_while_serving_scores_the_next_message_without_waiting_for_mail(tmp_path):
    from mailguard.checks.registry import CheckServices, build_pipeline
    from mailguard.watch import FileWatch
    from scantools import scan_async

    cfg = Config().replace("store", state_dir=str(tmp_path)).replace("bayes", min_spam=3, min_ham=3)
    services = CheckServices.for_config(cfg)  # no model yet: serving without Bayes
    try:
        pipeline = build_pipeline(cfg, offline=True, services=services)
        services.bayes.pacer.every = 0.0  # due at once (serve's is 5 s)

        async def go():
            saved_model(tmp_path / "bayes.model", 3, 3)  # as `mailguard train` writes it
            FileWatch(services.rereads).tick()  # serve's timer: no mail has arrived since
            async with asyncio.timeout(30):
                await services.bayes.pacer.running
            return await scan_async(pipeline, FACTS, msg(900, True))

        verdict = run(go())
    finally:
        services.close()
    assert verdict.symbol("BAYES_SPAM") is not None


def test_bayes_settings_are_validated_with_the_line_named():
    from mailguard.config import ConfigError, from_text

    with pytest.raises(ConfigError, match=r"cfg.toml:3: \[bayes\] spam_score"):
        from_text("[bayes]\nham_score = -1.0\nspam_score = -0.4\n", "cfg.toml")
    with pytest.raises(ConfigError, match=r"\[bayes\] min_spam"):
        from_text("[bayes]\nmin_spam = -1\n", "cfg.toml")
    with pytest.raises(ConfigError, match=r"\[bayes\] autolearn_ham"):
        from_text("[bayes]\nautolearn_ham = 20.0\n", "cfg.toml")
    assert from_text("[bayes]\nmin_spam = 50\nautolearn = true\n").bayes.min_spam == 50


def test_a_train_run_waits_for_another_writer_and_keeps_its_counts(tmp_path):
    # Another writer (here the test; in production the proxy's autolearn or a user's report)
    # holds the model's write lock while `mailguard train` starts: train must wait, then read the
    # file as the other writer left it, so neither loses the other's counts.
    import subprocess

    from mailguard.bayes.writelock import WriteLock
    from realservers import VENV_BIN, wait_for

    state = tmp_path / "state"
    ham = write_dir(tmp_path / "ham", 3, False)
    model_path = state / "bayes.model"
    lock = WriteLock.acquire(model_path)
    try:
        train = subprocess.Popen([VENV_BIN / "mailguard", "train", "--state-dir", state, "--ham", ham],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def train_waits_for_the_lock() -> bool:  # the kernel lists a blocked flock as "-> FLOCK ... PID"
            return any("->" in line and f" {train.pid} " in line
                       for line in Path("/proc/locks").read_text().splitlines())

        wait_for(train_waits_for_the_lock, 60, what="mailguard train blocked on the model's write lock")

        async def other_writer():
            async with SqliteStore(state / DB_NAME) as store:
                learner = Learner.open(model_path, store)
                await learner.learn([msg(i, True) for i in range(5)], "spam")
                await learner.save()

        run(other_writer())
        assert train.poll() is None  # still waiting for the lock
    finally:
        lock.release()
    out, err = train.communicate(timeout=120)
    assert train.returncode == 0, err
    model = persist.load(model_path)
    assert (model.nspam, model.nham) == (5, 3), out
