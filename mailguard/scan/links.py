"""Links in text and HTML: URLs, hosts, registered domains, obfuscated forms."""
from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote


from mailguard import domains
from mailguard.scan.caps import MAX_LINKS, MAX_LINK_CANDIDATES, MAX_URL
from mailguard.scan.problems import MIME_TOO_MANY_LINKS, Problem


@dataclass(frozen=True)
class Link:
    url: str  # normalized: scheme lower-case and de-obfuscated, "://", the ASCII host
    host: str  # lower-case ASCII (IDN as punycode); an IP literal in its canonical form
    host_unicode: str  # the host for people (punycode decoded)
    domain: str | None  # registered domain by the Public Suffix List; None for IPs
    ip: str | None  # set when the host is an IP literal (decimal/hex/octal forms converted)
    anchor_text: str  # what the reader sees for an HTML anchor; "" for links found in text
    part_index: int
    found_by: str  # "text" | "href" | "obfuscated"


_SCHEME = r"(?P<scheme>h[tx][tx]ps?|ftp)(?P<sep>://|:\\\\|:/\\|:\\/|\[:\]//)"
# In text: a scheme form anywhere (text glued by HTML rendering has no word boundary), or a bare
# www. host at a word start. The body is one character class, so matching is linear.
_TEXT_URL = re.compile(
    r"(?:" + _SCHEME + r"|(?<![\w.@/-])(?P<www>www\d{0,3}\.))"
    r"(?P<rest>[^\s<>\"'`{}|^\[\]\x00-\x1f\x7f]{1,%d})" % MAX_URL, re.I)
_HREF_URL = re.compile(r"(?:" + _SCHEME + r"|(?P<pr>//))", re.I)
_URL_TRAIL = ".,;:!?)'\"*>]}"
_AUTH_END = re.compile(r"[/?#\\]")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
_DOTS = re.compile("[.\u3002\uff0e\uff61]")
_WS_CTRL = re.compile(r"[\x00-\x20\x7f]+")


_IPV4_PART = re.compile(r"0[xX](?P<hex>[0-9a-fA-F]*)|0(?P<oct>[0-7]+)|(?P<dec>0|[1-9][0-9]*)")


def _ipv4_number(part: str) -> int | None:
    m = _IPV4_PART.fullmatch(part)
    if m is None:
        return None
    if m.group("dec") is not None:
        return int(m.group("dec"), 10)
    if m.group("oct") is not None:
        return int(m.group("oct"), 8)
    return int(m.group("hex"), 16) if m.group("hex") else 0


def parse_ipv4(host: str) -> str | None:
    """A WHATWG IPv4 host (decimal, hex, octal, 1-4 parts) in dotted form, else None."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4 or any(len(p) > 12 for p in parts):
        return None
    nums = [_ipv4_number(p) for p in parts]
    if any(n is None for n in nums):
        return None
    *head, last = nums
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(nums)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return str(ipaddress.IPv4Address(value))


def _host_to_ascii(host: str) -> str | None:
    labels = _DOTS.split(host)
    if labels and labels[-1] == "":
        labels.pop()
    out = []
    for label in labels:
        if label.isascii():
            out.append(label.lower())
            continue
        try:
            out.append(label.encode("idna").decode("ascii"))
        except Exception:
            try:
                out.append("xn--" + label.lower().encode("punycode").decode("ascii"))
            except Exception:
                return None
    return ".".join(out)


def _host_to_unicode(host: str) -> str:
    if "xn--" not in host:
        return host
    out = []
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except Exception:
                try:
                    label = label[4:].encode("ascii").decode("punycode")
                except Exception:
                    pass
        out.append(label)
    return ".".join(out)


@functools.lru_cache(maxsize=1024)
def normalize_url(scheme: str, rest: str) -> tuple[str, str, str, str | None, str | None, bool] | None:
    """(url, host, host_unicode, domain, ip, obfuscated_host) for `scheme://rest`, or None when
    the host is not a plausible Internet host."""
    m = _AUTH_END.search(rest)
    authority, tail = (rest[:m.start()], rest[m.start():]) if m else (rest, "")
    if "\\" in tail:  # browsers read '\' as '/' in http(s) URLs
        tail = tail.replace("\\", "/")
    userinfo, _, hostport = authority.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal
        end = hostport.find("]")
        try:
            ip = str(ipaddress.IPv6Address(hostport[1:end].split("%")[0]))
        except ValueError:
            return None
        host = f"[{ip}]"
        port = hostport[end + 1:]
        url = f"{scheme}://{userinfo + '@' if userinfo else ''}{host}{port}{tail}"
        return url, host, host, None, ip, False
    host, _, port = hostport.partition(":")
    if port and not port.isdigit():
        port = ""
    if "%" in host:
        host = unquote(host, errors="replace")
    host = host.strip().rstrip(".。．｡")
    if not host or len(host) > 253:
        return None
    obfuscated = False
    ip = None
    last = _DOTS.split(host)[-1]
    if last.isascii() and (last.isdigit() or last[:2].lower() == "0x"):
        ip = parse_ipv4(host)
        if ip is None:
            return None
        obfuscated = ip != host
        ascii_host = ip
    else:
        ascii_host = _host_to_ascii(host)
        if not ascii_host or len(ascii_host) > 253:
            return None
        labels = ascii_host.split(".")
        if len(labels) < 2 or not _TLD.fullmatch(labels[-1]) or not all(
                _LABEL.fullmatch(lab) for lab in labels):
            return None
    url = (f"{scheme}://{userinfo + '@' if userinfo else ''}{ascii_host}"
           f"{':' + port if port else ''}{tail}")
    if ip:
        return url, ip, ip, None, ip, obfuscated
    return url, ascii_host, _host_to_unicode(ascii_host), domains.registered(ascii_host), None, False


def _strip_trailing(url: str) -> str:
    """A URL without the punctuation that ends the sentence around it; a ')' closing a '(' of
    the URL stays. Linear: the string is cut once."""
    end = len(url)
    opened, closed = url.count("("), url.count(")")
    while end and url[end - 1] in _URL_TRAIL:
        if url[end - 1] == ")":
            if opened >= closed:
                break
            closed -= 1
        end -= 1
    return url[:end]


def _scheme_of(raw_scheme: str, sep: str) -> tuple[str, bool]:
    s = raw_scheme.lower()
    canonical = "ftp" if s == "ftp" else ("https" if s.endswith("s") else "http")
    return canonical, (s != canonical or sep != "://")


class LinkCollector:
    def __init__(self, problems: list[Problem]) -> None:
        self.links: list[Link] = []
        self._seen: set[tuple] = set()
        self._candidates = 0
        self.full = False
        self._problems = problems

    def _budget(self) -> bool:
        self._candidates += 1
        if self._candidates > MAX_LINK_CANDIDATES or len(self.links) >= MAX_LINKS:
            if not self.full:
                self.full = True
                self._problems.append(Problem(MIME_TOO_MANY_LINKS, f"over {MAX_LINKS} links"))
            return False
        return True

    def _add(self, scheme: str, rest: str, found_by: str, obfuscated: bool, anchor: str,
             part_index: int) -> None:
        norm = normalize_url(scheme, rest[:MAX_URL])
        if norm is None:
            return
        url, host, host_unicode, domain, ip, obf_host = norm
        if obfuscated or obf_host:
            found_by = "obfuscated"
        key = (url, found_by, anchor, part_index)
        if key in self._seen:
            return
        self._seen.add(key)
        self.links.append(Link(url, host, host_unicode, domain, ip, anchor, part_index, found_by))

    def from_text(self, text: str, part_index: int) -> None:
        for m in _TEXT_URL.finditer(text):
            if not self._budget():
                return
            rest = _strip_trailing(m.group("rest"))
            if not rest:
                continue
            if m.group("www"):
                self._add("http", m.group("www") + rest, "text", False, "", part_index)
            else:
                scheme, obf = _scheme_of(m.group("scheme"), m.group("sep"))
                self._add(scheme, rest, "text", obf, "", part_index)

    def from_href(self, href: str, anchor: str, part_index: int) -> None:
        if not self._budget():
            return
        href = _WS_CTRL.sub("", href[:MAX_URL * 2])
        m = _HREF_URL.match(href)
        if m is None:
            return
        rest = href[m.end():]
        if m.group("pr"):
            self._add("http", rest, "href", False, anchor, part_index)
        else:
            scheme, obf = _scheme_of(m.group("scheme"), m.group("sep"))
            self._add(scheme, rest, "href", obf, anchor, part_index)
