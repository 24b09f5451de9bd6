"""The never-block list: sources that users' spam reports never put on the local block list.

One list file in the format of every local list (mailguard/lists/contents.py: one domain, IP,
CIDR range or address a line, `#` comments), the shipped `rules/never-block.txt` unless
`[reports] never_block` names another. Covered, for the kinds of mailguard/store/sources.py:

- "ip": an address in one of the list's networks, or one never looked up in blocklists
  (loopback, RFC 1918, link-local, ...: CONTRACTS.md) — such an address is a hop of our own
  or the reporter's network, never the spammer's;
- "domain" and "link": a listed domain or any subdomain of one;
- "address": a listed address exactly — a listed domain does not cover the single addresses at
  it (one abusive Gmail account may be listed, gmail.com may not);
- every kind: the site's own `local_domains` and their subdomains (our users are not blocked
  by their colleagues' reports: watching our own servers is another duty, Decree 91 Art. 10(3)).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailguard import domains
from mailguard.dnsbl.targets import lookupable_ip
from mailguard.lists.contents import ListContents, LineProblem, parse


@dataclass(frozen=True)
class NeverBlock:
    contents: ListContents
    local_domains: frozenset[str] = frozenset()
    path: str = ""

    @classmethod
    def load(cls, path: str | None, local_domains: Iterable[str] = ()) -> NeverBlock:
        """The list of the file at `path` ("" or None: the shipped one). A file that cannot be
        read raises ListError (a ConfigError naming the file); lines that are no entry are
        skipped (`problem_lines`: serve logs them, config check reports them), as for every
        local list."""
        from mailguard.lists.registry import read_list  # imports mailguard.config: not at load
        from mailguard.lists.spec import ListFile
        from mailguard.paths import shipped_never_block

        path = str(path or shipped_never_block())
        read = read_list(ListFile(name="never_block", path=path, use="rules"))
        return cls(read.contents, _domains(local_domains), path)

    @classmethod
    def from_text(cls, text: str, local_domains: Iterable[str] = ()) -> NeverBlock:
        return cls(parse(text), _domains(local_domains))

    @property
    def problems(self) -> tuple[LineProblem, ...]:
        return self.contents.problems

    def problem_lines(self) -> list[str]:
        """The skipped lines, worded as those of every local list (LocalList.problem_lines)."""
        from mailguard.lists.registry import LocalList
        from mailguard.lists.spec import ListFile

        return LocalList(ListFile(name="never_block", path=self.path, use="rules"), self.contents).problem_lines()

    def covers(self, kind: str, value: str) -> bool:
        """True when the source (kind, value) must never be counted or listed."""
        if not value:
            return True  # nothing to block: the caller has no source
        if kind == "ip":
            if lookupable_ip(value) is None:  # not an address at all, or one of ours
                return True
            return self.contents.match_ip(value) is not None
        if kind == "address":
            local, at, domain = value.rpartition("@")
            name = domains.normalize(domain)
            if not at or not name:
                return True
            return self._local(name) or f"{local.lower()}@{name}" in self.contents.addresses
        if kind in ("domain", "link"):
            name = domains.normalize(value)
            if not name:
                return True
            return self._local(name) or self.contents.match_domain(name) is not None
        raise ValueError(f"unknown source kind {kind!r}")

    def _local(self, name: str) -> bool:
        labels = name.split(".")
        return any(".".join(labels[i:]) in self.local_domains for i in range(len(labels)))


def _domains(names: Iterable[str]) -> frozenset[str]:
    return frozenset(n for n in (domains.normalize(d) for d in names) if n)

