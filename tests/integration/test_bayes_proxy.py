"""The BAYES check in `mailguard serve`: symbols in the forwarded headers, and a model file that
turns corrupt (refused with the file named, last good model kept) or is corrupt at start (mail
flows without Bayes)."""
from __future__ import annotations

import signal
import smtplib
import uuid

from realservers import TEST_DOMAIN, wait_for
from bayestools import msg, saved_model


# These tests read the delivered headers: a clear spam (the shipped fitted scores weigh Bayes and
# the toy message's rules past the quarantine threshold) must still be delivered, marked.
DELIVER_ALL = {"quarantine": 1000.0, "reject": 2000.0}


def send(mg, tag: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.sendmail("a@outside.example", [f"user@{TEST_DOMAIN}"], f"X-Tag: {tag}\r\n".encode() + raw)


def delivered_headers(postfix, tag: str) -> str:
    data = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
    return data.split(b"\r\n\r\n" if b"\r\n\r\n" in data else b"\n\n", 1)[0].decode("utf-8", "replace")


def test_proxy_scores_with_the_model_and_keeps_the_last_good_one_when_the_file_turns_corrupt(
        postfix, start_mailguard, tmp_path):
    state = tmp_path / "mailguard0" / "state"
    state.mkdir(parents=True)
    model = state / "bayes.model"
    saved_model(model, 3, 3)
    mg = start_mailguard(postfix.port, bayes={"min_spam": 3, "min_ham": 3}, actions=DELIVER_ALL)
    tag = uuid.uuid4().hex
    send(mg, tag, msg(700, True))
    assert "BAYES_SPAM" in delivered_headers(postfix, tag)

    model.write_bytes(b"PK\x03\x04 damaged")
    mg.signal(signal.SIGHUP)
    wait_for(lambda: f"Bayes model refused: {model}" in mg.log(), 20, what="the refusal in the log")
    assert "keeping the model loaded before" in mg.log()
    tag = uuid.uuid4().hex
    send(mg, tag, msg(701, True))
    assert "BAYES_SPAM" in delivered_headers(postfix, tag)


def test_a_corrupt_model_at_start_is_refused_and_mail_flows_without_bayes(postfix, start_mailguard, tmp_path):
    state = tmp_path / "mailguard0" / "state"
    state.mkdir(parents=True)
    model = state / "bayes.model"
    model.write_bytes(b"not a model at all")
    mg = start_mailguard(postfix.port, bayes={"min_spam": 3, "min_ham": 3})
    assert f"Bayes model refused: {model}" in mg.log() and "running without Bayes" in mg.log()
    tag = uuid.uuid4().hex
    send(mg, tag, msg(702, True))
    headers = delivered_headers(postfix, tag)
    assert "X-Spam-Status" in headers and "BAYES_" not in headers


def test_autolearn_through_the_proxy_learns_clear_verdicts_by_shutdown(postfix, start_mailguard, tmp_path):
    # Clean mail scoring 0 is "far below" an autolearn_ham of 0: learnt as ham, queued, and
    # learnt at the latest when the proxy stops (the queue is not lost with the process).
    from mailguard.bayes import persist

    mg = start_mailguard(postfix.port, bayes={"autolearn": True, "autolearn_ham": 0.0})
    tags = [uuid.uuid4().hex for _ in range(3)]
    for i, tag in enumerate(tags):
        send(mg, tag, msg(800 + i, False))
    for tag in tags:
        delivered_headers(postfix, tag)
    assert mg.stop() == 0
    model = persist.load(tmp_path / "mailguard0" / "state" / "bayes.model")
    assert (model.nspam, model.nham) == (0, 3)
    assert "autolearn: 3 of 3 messages learnt" in mg.log()


def test_a_model_trained_while_serving_is_loaded_before_the_next_message_arrives(postfix, start_mailguard, tmp_path):
    mg = start_mailguard(postfix.port, bayes={"min_spam": 3, "min_ham": 3}, actions=DELIVER_ALL)
    model = mg.base / "state" / "bayes.model"
    assert "BAYES_" not in mg.log() and not model.exists()
    for label, spam in (("spam", True), ("ham", False)):
        (tmp_path / label).mkdir()
        for i in range(3):
            (tmp_path / label / f"{i}.eml").write_bytes(msg(710 + i, spam))
    res = mg.cli("train", "--spam", str(tmp_path / "spam"), "--ham", str(tmp_path / "ham"))
    assert res.returncode == 0, res.stderr
    # No mail in between: the service's file watch loads the model on its own.
    wait_for(lambda: f"Bayes model {model} loaded: 3 spam, 3 ham learnt" in mg.log(), 30,
             what="the new model loaded without mail arriving")
    tag = uuid.uuid4().hex
    send(mg, tag, msg(720, True))
    assert "BAYES_SPAM" in delivered_headers(postfix, tag)
