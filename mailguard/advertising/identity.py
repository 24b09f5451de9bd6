"""The keys of the ledger and the refusals, one way for the flow, the check and the commands.

A recipient is its mailbox: the local part lower-cased (no site we know of runs case-sensitive
mailboxes, and `Bob@` and `bob@` must not get 3 ads each) and the domain in its normal form.
An advertiser is an organizational domain (`news.shop.vn` and `shop.vn` are one advertiser)."""
from __future__ import annotations

from mailguard import domains


def recipient_key(address: str) -> str:
    """`Bob@Example.VN` -> `bob@example.vn`; "" when it is not an address with a domain."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    name = domains.normalize(domain) if at else ""
    return f"{local.lower()}@{name}" if local and name else ""


def advertiser_key(domain_or_address: str) -> str:
    """The organizational domain of a domain or of an address's domain; "" when none."""
    text = domain_or_address.strip().strip("<>")
    return domains.organizational(text.rpartition("@")[2] if "@" in text else text)
