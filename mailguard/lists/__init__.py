"""Local lists: named files of IPs/CIDRs, domains and addresses, for blocking, allowing and rules."""
