"""The client's forward-confirmed reverse DNS name, handed to Postfix with XCLIENT NAME=."""
from __future__ import annotations

import asyncio
import smtplib
import uuid

from mailguard.config import DnsSettings
from mailguard.dnsresolver import Resolver
from mailguard.dnsresolver.reverse import verified_client_name
from realservers import TEST_DOMAIN

RECORDS = [
    "2.0.0.127.in-addr.arpa. 300 IN PTR client.outside.example.",
    "client.outside.example. 300 IN A 127.0.0.2",
    "3.0.0.127.in-addr.arpa. 300 IN PTR liar.outside.example.",
    "liar.outside.example. 300 IN A 192.0.2.99",
    "10.2.0.192.in-addr.arpa. 300 IN PTR mx.example.com.",
    "mx.example.com. 300 IN A 192.0.2.10",
    "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR v6.example.com.",
    "v6.example.com. 300 IN AAAA 2001:db8::10",
]


def test_name_is_verified_forward_and_back(start_dns, silent_dns):
    server = start_dns(RECORDS)

    async def go():
        r = Resolver.from_settings(DnsSettings(servers=(server.address,), timeout=2.0))
        dead = Resolver.from_settings(DnsSettings(servers=(silent_dns.address,), timeout=0.3))
        return [await verified_client_name(r, "192.0.2.10"), await verified_client_name(r, "2001:db8::10"),
                await verified_client_name(r, "127.0.0.3"), await verified_client_name(r, "198.51.100.7"),
                await verified_client_name(r, "not-an-ip"), await verified_client_name(dead, "192.0.2.10")]

    found = asyncio.run(go())
    assert [f.name for f in found[:5]] == ["mx.example.com", "v6.example.com", None, None, None]
    assert not any(f.temporary_failure for f in found[:5])
    assert found[5].name is None and found[5].temporary_failure


def test_postfix_sees_the_verified_name_through_xclient(postfix, start_mailguard, start_dns):
    server = start_dns(RECORDS)
    mg = start_mailguard(postfix.port, dns={"servers": [server.address]})
    tags = {}
    for source in ("127.0.0.2", "127.0.0.3"):
        tag = tags[source] = uuid.uuid4().hex
        with smtplib.SMTP("127.0.0.1", mg.port, timeout=60, source_address=(source, 0)) as s:
            s.ehlo("helo.outside.example")
            assert s.mail("a@outside.example")[0] == 250
            assert s.rcpt("victim@elsewhere.example")[0] == 554  # logged with the client's name
            assert s.rcpt(f"user@{TEST_DOMAIN}")[0] == 250
            s.data(f"Subject: {tag}\r\n\r\nbody\r\n".encode())
        postfix.wait_delivered("user", lambda b, tag=tag: tag.encode() in b)
    log = postfix.log()
    assert "from client.outside.example[127.0.0.2]" in log
    assert "from unknown[127.0.0.3]" in log  # its PTR name does not point back
