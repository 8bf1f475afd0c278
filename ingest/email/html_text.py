"""HTML mail bodies as plain text, with the standard library's tolerant HTML parser.

A small converter is enough here: the text feeds a classifier and a coordinator's screen, not a
renderer. (html2text is GPL-3.0, which an Apache-2.0 project cannot take in; BeautifulSoup and
lxml are far more than this needs.)
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "object"})
# Elements that end a line, and those that end a paragraph (a blank line follows).
_LINE = frozenset(
    {"address", "dd", "div", "dt", "figcaption", "li", "tbody", "thead", "tfoot", "tr"}
)
_PARAGRAPH = frozenset(
    {
        "article", "aside", "blockquote", "dl", "fieldset", "figure", "footer", "form", "h1",
        "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p", "pre",
        "section", "table", "ul",
    }
)  # fmt: skip
# Break markers, resolved once the whole document is read: adjacent block boundaries make one
# line break (or one blank line), while every <br> counts (Gmail writes a blank line as
# <div><br></div>).
_LINE_MARK, _PARAGRAPH_MARK, _BR_MARK = "\x01", "\x02", "\x03"
_MARKS = re.compile("[\x01\x02\x03][\x01\x02\x03 \t\n]*")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
# Where mail clients put the message being replied to (Gmail, Yahoo, Thunderbird, Apple Mail).
_QUOTE_CLASSES = frozenset({"gmail_quote", "yahoo_quoted", "moz-cite-prefix", "gmail_attr"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _Converter(HTMLParser):
    def __init__(self, *, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_quotes = drop_quotes
        self.parts: list[str] = []
        # Open elements whose content is skipped, as a stack of tag names.
        self.skipping: list[str] = []
        self.pre = 0

    def _is_quote(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if not self.drop_quotes:
            return False
        if tag == "blockquote":
            return True
        classes = set((dict(attrs).get("class") or "").split())
        return bool(classes & _QUOTE_CLASSES)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            if tag not in _VOID:
                self.skipping.append(tag)
            return
        if tag in _SKIP or self._is_quote(tag, attrs):
            if tag not in _VOID:
                self.skipping.append(tag)
            return
        if tag == "br":
            self.parts.append(_BR_MARK)
        elif tag in _LINE:
            self.parts.append(_LINE_MARK)
            if tag == "li":
                self.parts.append("- ")
        elif tag in _PARAGRAPH:
            self.parts.append(_PARAGRAPH_MARK)
            if tag == "pre":
                self.pre += 1
        elif tag in {"td", "th"}:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            # Close up to the matching open tag; browsers forgive unclosed tags, so do we.
            if tag in self.skipping:
                while self.skipping and self.skipping.pop() != tag:
                    pass
            return
        if tag in _LINE:
            self.parts.append(_LINE_MARK)
        elif tag in _PARAGRAPH:
            self.parts.append(_PARAGRAPH_MARK)
            if tag == "pre" and self.pre:
                self.pre -= 1

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        data = _CONTROLS.sub("", data)
        self.parts.append(data if self.pre else _SPACES.sub(" ", data.replace("\n", " ")))


def html_to_text(html: str, *, drop_quotes: bool = False) -> str:
    """The readable text of an HTML body; `drop_quotes` leaves out quoted reply history."""
    converter = _Converter(drop_quotes=drop_quotes)
    converter.feed(html)
    converter.close()
    text = _MARKS.sub(_breaks, "".join(converter.parts))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _breaks(run: re.Match[str]) -> str:
    marks = [c for c in run.group() if c in (_LINE_MARK, _PARAGRAPH_MARK, _BR_MARK)]
    block = 2 if _PARAGRAPH_MARK in marks else 1 if _LINE_MARK in marks else 0
    brs = marks.count(_BR_MARK)
    if block and marks[0] == _BR_MARK:
        brs -= 1  # a <br> that ends a block adds no line of its own
    return "\n" * max(1, block + brs)
