"""The shipped systemd unit: systemd accepts it, `systemd-analyze security` rates it 2.0 or less,
and mailguard serves mail under the one restriction its runtime could trip over
(MemoryDenyWriteExecute). systemd-analyze works offline on a unit file: no systemd as PID 1."""
from __future__ import annotations

import re
import smtplib
import subprocess
import sys
from pathlib import Path

from bayestools import msg
from realservers import ROOT, VENV_BIN, Mailguard, config_for

UNIT = ROOT / "systemd" / "mailguard.service"
INSTALLED_BINARY = "/opt/mailguard/venv/bin/mailguard"

# What systemd's MemoryDenyWriteExecute= enforces, set by the kernel itself (PR_SET_MDWE,
# Linux 6.3): no mapping both writable and executable, none made executable later. It is
# inherited across execve, so it holds for the mailguard the wrapper becomes.
MDWE_EXEC = """\
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(f"PR_SET_MDWE: {os.strerror(ctypes.get_errno())} (needs Linux 6.3 or later)")
os.execv(sys.argv[1], sys.argv[1:])
"""
MDWE = [sys.executable, "-c", MDWE_EXEC]


def unit_here(tmp_path: Path) -> Path:
    """The unit with ExecStart= on this checkout's mailguard (verify wants an existing binary)."""
    text = UNIT.read_text()
    assert INSTALLED_BINARY in text
    path = tmp_path / "mailguard.service"
    path.write_text(text.replace(INSTALLED_BINARY, str(VENV_BIN / "mailguard")))
    return path


def test_systemd_analyze_verify_accepts_the_unit_without_a_word(tmp_path):
    # verify exits 0 even for a directive it ignores; what it ignored it says on stderr.
    res = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit_here(tmp_path))],
                         capture_output=True, text=True)
    assert (res.returncode, res.stdout + res.stderr) == (0, "")


def test_the_units_exposure_level_is_2_or_less(tmp_path):
    res = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit_here(tmp_path))],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    m = re.search(r"Overall exposure level for mailguard\.service: (\d+\.\d+)", res.stdout)
    assert m, res.stdout
    assert float(m.group(1)) <= 2.0, res.stdout


def test_training_and_serving_work_with_memory_deny_write_execute(tmp_path, postfix, session_dns):
    mg = Mailguard(tmp_path / "mg", config_for(postfix.port, dns={"servers": [session_dns.address]}), prefix=MDWE)
    mg.base.mkdir()
    mg.config_path.write_text(mg.config_text)
    corpus = tmp_path / "corpus"
    for label in ("spam", "ham"):
        (corpus / label).mkdir(parents=True)
        for i in range(3):
            (corpus / label / f"{i}.eml").write_bytes(msg(i, label == "spam"))
    trained = subprocess.run([*MDWE, str(VENV_BIN / "mailguard"), "train", "--config", str(mg.config_path),
                              "--state-dir", str(mg.base / "state"), "--spam", str(corpus / "spam"),
                              "--ham", str(corpus / "ham")], capture_output=True, text=True, timeout=120)
    assert trained.returncode == 0, trained.stderr
    assert "3 spam, 3 ham learnt" in trained.stdout

    mg.start()
    try:
        with smtplib.SMTP("127.0.0.1", mg.port, timeout=30) as client:
            client.sendmail("alice@example.org", ["user@test.example"],
                            b"From: alice@example.org\r\nTo: user@test.example\r\nSubject: under MDWE\r\n"
                            b"Message-ID: <mdwe@example.org>\r\n\r\nhello\r\n")
        delivered = postfix.wait_delivered("user", lambda raw: b"Message-ID: <mdwe@example.org>" in raw)
        assert b"X-Spam-Status:" in delivered.read_bytes()
        assert "Bayes model" in mg.log() and "3 spam, 3 ham learnt" in mg.log()
    finally:
        mg.stop()
