"""The service user and an admin's commands agree on file ownership: run as root, `train`,
`quarantine`, `history` and the other commands that open the store act as the owner of the state
folder, so the service (running as that user) reads and writes what they made, and they what it
made."""
from __future__ import annotations

import json
import os
import pwd
import smtplib
import subprocess
from pathlib import Path

import pytest

from bayestools import msg
from realservers import VENV_BIN, Mailguard, as_user, config_for, let_others_traverse, python_for_others


@pytest.fixture
def service_user():
    """An unprivileged user that owns nothing of the test's: Debian's `nobody` (base-passwd), so
    that the test creates no account on the machine — the state folder it gets is a temporary one."""
    user = pwd.getpwnam("nobody")
    assert user.pw_uid != 0
    return user


def owners(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_uid, p.stat().st_gid) for p in folder.iterdir()}


def test_what_root_trains_the_service_reads_and_both_keep_the_files_the_service_users(
        tmp_path, postfix, session_dns, service_user):
    user = service_user
    let_others_traverse(tmp_path)
    mg = Mailguard(tmp_path / "mg", config_for(postfix.port, dns={"servers": [session_dns.address]}),
                   prefix=as_user(user, tmp_path / "py-serve"))
    mg.base.mkdir()
    mg.config_path.write_text(mg.config_text)
    state = mg.base / "state"
    state.mkdir(mode=0o750)
    os.chown(state, user.pw_uid, user.pw_gid)  # as .ci/install leaves the service's state folder
    corpus = tmp_path / "corpus"
    for label in ("spam", "ham"):
        (corpus / label).mkdir(parents=True)
        for i in range(3):
            (corpus / label / f"{i}.eml").write_bytes(msg(i, label == "spam"))

    def command(prefix: list[str], *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, str(VENV_BIN / "mailguard"), *args, "--config", str(mg.config_path),
                               "--state-dir", str(state)], capture_output=True, text=True, timeout=120)

    as_root = python_for_others(tmp_path / "py-root")  # the dropped command still imports modules
    trained = command(as_root, "train", "--spam", str(corpus / "spam"), "--ham", str(corpus / "ham"))
    assert trained.returncode == 0, trained.stderr
    assert f"acting as {user.pw_name}, the owner of {state}" in trained.stderr
    made = owners(state)
    assert {"bayes.model", "mailguard.sqlite3"} <= made.keys()
    assert set(made.values()) == {(user.pw_uid, user.pw_gid)}, made

    mg.start()  # the service, as that user, with root's model
    try:
        assert "3 spam, 3 ham learnt" in mg.log()
        with smtplib.SMTP("127.0.0.1", mg.port, timeout=30) as client:
            client.sendmail("alice@example.org", ["user@test.example"],
                            b"From: alice@example.org\r\nTo: user@test.example\r\nSubject: owned\r\n"
                            b"Message-ID: <owned@example.org>\r\n\r\nhello\r\n")
        postfix.wait_delivered("user", lambda raw: b"Message-ID: <owned@example.org>" in raw)
        history = command(as_root, "history", "--json")  # root reads the service's store while it runs
        assert history.returncode == 0, history.stderr
        assert [json.loads(line)["mail_from"] for line in history.stdout.splitlines()] == ["alice@example.org"]
    finally:
        mg.stop()
    assert set(owners(state).values()) == {(user.pw_uid, user.pw_gid)}, owners(state)

    # The service user's own commands use what root made: the store and the model.
    again = command(as_user(user, tmp_path / "py-user"), "train", "--spam", str(corpus / "spam"))
    assert again.returncode == 0, again.stderr
    assert "spam: 0 learnt, 0 moved from the other label, 3 already learnt" in again.stdout
