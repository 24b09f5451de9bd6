"""Sender authentication: SPF, DKIM, DMARC, ARC, and the Authentication-Results header."""
