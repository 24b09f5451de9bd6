"""DNS blocklists: the client address (DNSBL) and the domains of links (URIBL/DBL)."""
