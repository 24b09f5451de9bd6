"""Every symbol the built-in checks can emit: rules may not take these names (CONTRACTS.md,
"Reserved symbols"), and meta rules and `[scores]` may refer to them."""
from __future__ import annotations

from mailguard.config import Config

# Families named by a prefix: the check adds the rest (CHECK_TIMEOUT_DNSBL, MIME_BAD_BASE64,
# LIST_<NAME>). BAYES_ is kept for the Bayes check's symbols.
RESERVED_PREFIXES = ("CHECK_ERROR_", "CHECK_TIMEOUT_", "MIME_", "BAYES_", "LIST_")
# Families whose every member cannot be listed here (any check's timeout, the Bayes check's
# symbols): a meta rule or [scores] may name any member. MIME_* and LIST_* names are exact.
OPEN_FAMILIES = ("CHECK_ERROR_", "CHECK_TIMEOUT_", "BAYES_")


def builtin_symbols(config: Config) -> frozenset[str]:
    from mailguard.auth.symbols import BUILTIN_SYMBOLS as AUTH
    from mailguard.dnsbl.check import DESCRIPTIONS as RBL
    from mailguard.dnsbl.codes import parse_code
    from mailguard.scan.problems import PROBLEM_CODES

    names = {"GTUBE", *AUTH, *RBL, *PROBLEM_CODES}
    for zone in config.dnsbl.zone:
        if zone.symbol:
            names.add(zone.symbol)
        for code in zone.codes:
            try:
                names.add(parse_code(code, zone.bitmask).symbol)
            except ValueError:
                pass  # the config's own validation reports it
    names.update(f"LIST_{f.name.upper()}" for f in config.lists.file)
    return frozenset(names)

