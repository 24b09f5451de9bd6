"""Tests leave no machine state: a private Postfix takes its folder out of main.cf again."""
from __future__ import annotations

import subprocess

from realservers import Postfix, free_port


def listed() -> str:
    return subprocess.run(["postconf", "-h", "alternate_config_directories"], capture_output=True,
                          text=True).stdout


def test_a_private_postfix_leaves_nothing_in_the_machines_main_cf(tmp_path):
    pf = Postfix(tmp_path / "pf", free_port())
    pf.setup()
    pf.start()
    assert str(pf.etc) in listed()
    pf.close()
    assert str(pf.etc) not in listed()
