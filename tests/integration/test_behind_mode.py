"""Behind mode end to end: Postfix smtpd (smtpd_proxy_filter) → mailguard → Postfix after-filter smtpd."""
from __future__ import annotations

import subprocess
import uuid

from realservers import TEST_DOMAIN, Postfix, free_port, wait_port


def test_postfix_proxy_filter_through_mailguard(tmp_path, start_mailguard):
    before, filter_port = free_port(), free_port()
    pf = Postfix(tmp_path / "pf", free_port(),
                 extra_master=f"127.0.0.1:{before} inet n - n - - smtpd\n"
                              f"  -o smtpd_proxy_filter=127.0.0.1:{filter_port}\n")
    pf.setup()
    pf.start()
    try:
        start_mailguard(pf.port, relay={"mode": "behind"},
                             server={"listen": f"127.0.0.1:{filter_port}", "trusted_networks": ["127.0.0.0/8"]})
        wait_port(before)
        tag = uuid.uuid4().hex
        res = subprocess.run(["swaks", "--server", f"127.0.0.1:{before}", "--to", f"user@{TEST_DOMAIN}",
                              "--from", "alice@outside.example", "--helo", f"helo-{tag}.example",
                              "--header", f"Subject: behind {tag}"], capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        data = pf.wait_delivered("user", lambda b: tag.encode() in b).read_bytes()
        assert b"X-Spam-Flag: NO" in data
        assert b"(mailguard)" not in data  # behind Postfix, no Received header of ours
        # the before-filter smtpd refused an unknown user itself, through mailguard's lock-step
        res = subprocess.run(["swaks", "--server", f"127.0.0.1:{before}", "--to", f"ghost@{TEST_DOMAIN}"],
                             capture_output=True, text=True, timeout=60)
        assert "550 5.1.1" in res.stdout
        # Only the after-filter smtpd writes a Received header, from the XFORWARD facts that
        # mailguard received from the before-filter smtpd and passed on: it names the client's HELO.
        assert f"from helo-{tag}.example".encode() in data
    finally:
        pf.close()
