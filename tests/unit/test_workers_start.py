"""`serve --workers 2` that cannot start says why and exits 1, without ever saying `listening on`."""
from __future__ import annotations

import socket
import subprocess

from realservers import VENV_BIN, config_for


def serve(tmp_path, *args: str) -> subprocess.CompletedProcess:
    cfg = tmp_path / "mailguard.toml"
    cfg.write_text(config_for(1, dns={"servers": ["127.0.0.1:9"]}))
    return subprocess.run([VENV_BIN / "mailguard", "serve", "--config", cfg, "--workers", "2", *args],
                          capture_output=True, text=True, timeout=120)


def test_a_port_in_use_is_refused_before_any_worker_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = serve(tmp_path, "--state-dir", str(tmp_path / "state"), "--listen", f"127.0.0.1:{port}")
    assert res.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in res.stderr
    assert "listening on 127" not in res.stderr and "worker 0 started" not in res.stderr


def test_workers_that_cannot_open_the_store_end_the_supervisor_with_1(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    res = serve(tmp_path, "--state-dir", str(blocked))
    assert res.returncode == 1
    assert "cannot create the store" in res.stderr
    assert "ended before it was ready: not starting" in res.stderr
    assert "\nlistening on" not in res.stderr and "Traceback" not in res.stderr
