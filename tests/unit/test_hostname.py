"""What `serve` takes for a fully-qualified host name (it warns about any other)."""
from __future__ import annotations

import pytest

from mailguard.domains import is_fqdn


@pytest.mark.parametrize("name, fqdn", [
    ("mx.example.com", True), ("MX.Example.COM.", True), ("mail.example.vn", True),
    ("localhost", False), ("mailhost", False), ("localhost.localdomain", False), ("box.localdomain", False),
    ("192.0.2.7", False), ("", False), ("bad_.example..com", False),
])
def test_a_fully_qualified_host_name(name, fqdn):
    assert is_fqdn(name) is fqdn
