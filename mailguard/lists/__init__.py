"""Local lists: named files of IPs/CIDRs, domains and addresses, for blocking, allowing and rules."""
from mailguard.lists.contents import ListContents, normalize_domain, parse
from mailguard.lists.registry import ListError, LocalList, LocalLists, read_list

__all__ = ["ListContents", "ListError", "LocalList", "LocalLists", "normalize_domain", "parse", "read_list"]
