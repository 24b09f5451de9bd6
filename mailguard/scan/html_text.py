"""HTML to visible text: a linear pre-pass, then html.parser, tracking hidden elements."""
from __future__ import annotations

import re
from html.parser import HTMLParser


from mailguard.scan.caps import MAX_ANCHOR_TEXT, MAX_HTML_TAGS, MAX_TAG
from mailguard.scan.encoded_words import INVISIBLE


# A complete tag: name, then attributes with quoted values that hold no '<'. Possessive
# quantifiers: nothing backtracks, and a match never runs past the next '<'.
_TAG = re.compile(r"""<(/?)([A-Za-z][^\s/><]*+)((?:[^<>"']++|"[^"<]*+"|'[^'<]*+')*+)>""")
_RAW_TEXT_END = {"script": re.compile(r"</script", re.I), "style": re.compile(r"</style", re.I)}
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br center dd div dl dt fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol option p pre section table tbody td tfoot "
    "th thead tr ul caption body html".split())
_SKIP_TAGS = frozenset({"title", "template"})
# Elements whose end the HTML parser never implies early, so their hiding is tracked.
_HIDEABLE = frozenset({"div", "span", "font", "table", "center", "section", "article", "a", "b",
                       "i", "u", "em", "strong", "small", "big", "aside", "header", "footer"})
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0+(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:;|!|$)",
    re.I)
_SPACES = re.compile(r"[ \t\r\f\v\xa0\u2000-\u200a\u3000]+")
_NEWLINES = re.compile(r" ?\n[\s\xa0]*")


_STRAY_LT = re.compile(r"<(?![A-Za-z/!?])")
_LT = "\ufdd0"  # stands for a literal '<' (a noncharacter: never in real text) until the end


def _html_safe(html: str, max_tags: int = MAX_HTML_TAGS) -> tuple[str, int, bool]:
    """HTML with comments, declarations, scripts and styles removed and every stray '<'
    escaped, so that html.parser never waits for the end of an unclosed construct (which
    makes it quadratic). Linear: every step moves forward, every search stops at a '<' or
    ends the document. At most `max_tags` tags are read: returns (safe HTML, tags read, cut)."""
    if "<" in html:
        html = _STRAY_LT.sub(_LT, html)
    out: list[str] = []
    pos, n = 0, len(html)
    tags = 0
    while pos < n:
        if tags >= max_tags:
            return "".join(out), tags, True
        tags += 1
        lt = html.find("<", pos)
        if lt < 0:
            out.append(html[pos:])
            break
        out.append(html[pos:lt])
        nxt = html[lt + 1:lt + 2]
        if nxt in ("!", "?"):
            if html.startswith("<!--", lt):
                end = html.find("-->", lt + 2)
                if end < 0:
                    break  # an unclosed comment hides the rest, as in a browser
                pos = end + 3
            else:  # doctype, CDATA, conditional comments, processing instructions: not shown
                end = html.find(">", lt + 2)
                if end < 0:
                    break
                pos = end + 1
            continue
        m = _TAG.match(html, lt, min(n, lt + MAX_TAG))
        if m is None:
            out.append(_LT)
            pos = lt + 1
            continue
        name = m.group(2).lower()
        if name in _RAW_TEXT_END and not m.group(1):
            close = _RAW_TEXT_END[name].search(html, m.end())
            if close is None:
                break
            end = html.find(">", close.end())
            if end < 0:
                break
            pos = end + 1
            out.append(" ")
            continue
        tag = m.group(0)
        tags += (tag.count("=") + (tag.count(" ") + tag.count("\n") + tag.count("\t")) // 2
                 + len(tag) // 512)
        out.append(tag)
        pos = m.end()
    return "".join(out), tags, False


_HEAD_TAGS = frozenset({"base", "link", "meta", "title", "style", "script", "noscript",
                        "template", "basefont", "bgsound", "head"})


class _VisibleText(HTMLParser):
    """Collects what a reader sees: no head, title, template, script or style (the latter two
    already removed by _html_safe), nor elements hidden by `hidden` or an inline style; block
    elements separate words, inline ones do not (`<b>V</b>iagra` reads "Viagra")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.anchors: list[tuple[str, str]] = []  # (href, visible anchor text)
        self._head = False
        self._skip = 0  # open title / template elements
        self._hidden: list[list] = []  # [tag, open count] of hiding elements
        self._anchor: list | None = None  # [href, [text pieces]]

    def handle_starttag(self, tag, attrs):
        if tag == "head":
            self._head = True
            return
        if self._head and tag not in _HEAD_TAGS:
            self._head = False  # as in HTML5: a body element ends an unclosed head
        if tag in ("a", "area"):  # links count even when hidden; their text only when shown
            if tag == "a":
                self._close_anchor()
            href = dict(attrs).get("href")
            if href:
                if tag == "a":
                    self._anchor = [href, []]
                else:
                    self.anchors.append((href, ""))
        if tag in _SKIP_TAGS:
            self._skip += 1
            return
        if self._hidden:
            if tag == self._hidden[-1][0]:
                self._hidden[-1][1] += 1
            return
        if tag in _HIDEABLE:
            attr = dict(attrs)
            style = attr.get("style") or ""
            if "hidden" in attr or (style and _HIDDEN_STYLE.search(style[:2000])):
                self._hidden.append([tag, 1])
                return
        if tag in _BLOCK_TAGS:
            self.pieces.append(" " if tag in ("td", "th") else "\n")

    def handle_startendtag(self, tag, attrs):  # "<div/>" opens a div in HTML5; void tags have no end
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "head":
            self._head = False
            return
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
            return
        if self._hidden:
            if tag == self._hidden[-1][0]:
                self._hidden[-1][1] -= 1
                if self._hidden[-1][1] == 0:
                    self._hidden.pop()
            if tag == "a":
                self._close_anchor()
            return
        if tag == "a":
            self._close_anchor()
        if tag in _BLOCK_TAGS:
            self.pieces.append(" " if tag in ("td", "th") else "\n")

    def handle_data(self, data):
        if self._skip or self._hidden:
            return
        if self._head:
            if not data.strip():
                return
            self._head = False  # text in an unclosed head is body text (HTML5)
        self.pieces.append(data)
        if self._anchor is not None:
            self._anchor[1].append(data)

    def _close_anchor(self):
        if self._anchor is not None:
            text = "".join(self._anchor[1]).replace(_LT, "<")
            text = _SPACES.sub(" ", INVISIBLE.sub("", text)).strip()
            self.anchors.append((self._anchor[0], text[:MAX_ANCHOR_TEXT]))
            self._anchor = None

    def finish(self) -> str:
        self.close()
        self._close_anchor()
        return _clean_text("".join(self.pieces).replace(_LT, "<"))


def _clean_text(text: str) -> str:
    """Visible text: invisible characters dropped, runs of blanks and blank lines collapsed."""
    text = INVISIBLE.sub("", text.replace("\x00", ""))
    text = _SPACES.sub(" ", text)
    return _NEWLINES.sub("\n", text).strip()


def html_to_text(html: str, max_tags: int = MAX_HTML_TAGS) -> tuple[str, list[tuple[str, str]], int, bool]:
    """(visible text, [(href, anchor text)], tags read, cut at max_tags) of an HTML document."""
    safe, tags, cut = _html_safe(html, max_tags)
    parser = _VisibleText()
    parser.feed(safe)
    return parser.finish(), parser.anchors, tags, cut
