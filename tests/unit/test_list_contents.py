"""The list file format: what a line is taken as, and the lines reported as problems."""
from __future__ import annotations

from mailguard.lists.contents import parse


def test_a_mistyped_ip_address_or_range_is_reported_not_taken_as_a_domain():
    c = parse("192.0.2.300\n198.51.100.0/33\n10.1.2\n2001:db8::zz\n203.0.113.9\nspam.example\n")
    assert [(p.line, p.text, p.message) for p in c.problems] == [
        (1, "192.0.2.300", "not a valid IP address or CIDR range"),
        (2, "198.51.100.0/33", "not a valid IP address or CIDR range"),
        (3, "10.1.2", "not a valid IP address or CIDR range"),
        (4, "2001:db8::zz", "not a valid IP address or CIDR range"),
    ]
    assert c.domains == {"spam.example"} and c.match_ip("203.0.113.9") and c.size == 2
