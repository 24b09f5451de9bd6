"""DNS for every check: one shared async resolver (dnspython) with a cache and deadlines."""
from mailguard.dnsresolver.answer import DnsAnswer, DnsTempError, DnsTimeout, Status
from mailguard.dnsresolver.resolver import BlockingLookup, Resolver
from mailguard.dnsresolver.transport import DnspythonTransport, DnsTransport

__all__ = ["BlockingLookup", "DnsAnswer", "DnsTempError", "DnsTimeout", "DnsTransport", "DnspythonTransport",
           "Resolver", "Status"]
