"""`mailguard scan --json` (CONTRACTS.md): the numbers are JSON numbers of one kind."""
from __future__ import annotations

import json
import subprocess

from realservers import VENV_BIN

CLEAN = (b"From: a@sender.example\r\nTo: b@rcpt.example\r\nDate: Mon, 1 Dec 2025 10:00:00 +0000\r\n"
         b"Message-ID: <clean@sender.example>\r\nSubject: lunch\r\n\r\nSee you at noon.\r\n")


def test_a_score_of_zero_is_written_as_a_float_like_every_other_score(tmp_path):
    cfg = tmp_path / "mailguard.toml"
    cfg.write_text(f'[rules]\nsite_dir = "{tmp_path / "none"}"\n')
    (tmp_path / "clean.eml").write_bytes(CLEAN)
    res = subprocess.run([VENV_BIN / "mailguard", "scan", "--offline", "--json", "--config", cfg,
                          "--state-dir", tmp_path / "state", tmp_path / "clean.eml"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    row = json.loads(res.stdout)
    assert row["symbols"] == {} and row["action"] == "accept"
    assert '"score": 0.0' in res.stdout and isinstance(row["score"], float) and isinstance(row["required"], float)
