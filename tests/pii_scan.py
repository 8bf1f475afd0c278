"""The suite-wide log scan: no test's log output may carry personal data (DESIGN.md invariant 6).

During every test the root logger runs at DEBUG (library loggers capped exactly as
`muara.logs.configure_logging("DEBUG", ...)` caps them in production) and every record goes
through Muara's real scrubbing filter and formatter into a scanner. The scanner looks for what
the filter is meant to hide, with patterns of its own (broader than the filter's, so it can find
what the filter misses), and for the reporters' names and handles of the fixtures
(tests/pii_fixtures.py), which no filter can mask, and for the suite's fixed secrets (tokens,
passwords). Subprocesses (tests/processes.py) hand their
captured stderr over with `track_output`; it is scanned at the test's teardown.

A hit fails the test at teardown, naming the logger and a redacted excerpt. Records are copied
before the filter runs, so `caplog` and other handlers see them unchanged.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

from muara.logs import PersonalDataFilter, cap_library_loggers, make_formatter
from tests.pii_fixtures import EMAILS, HANDLES, NIKS, SECRETS, reporter_names

_SEP = r"[ .()\-]{0,2}"
PATTERNS: dict[str, re.Pattern[str]] = {
    # Also URL-encoded (%40), as a library quoting a request URL would write it.
    "e-mail": re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+", re.IGNORECASE),
    "nik": re.compile(r"(?<!\d)(?:\d{16}|\d{4}([ .-])\d{4}\1\d{4}\1\d{4})(?!\d)"),
    # Indonesian mobiles in any common form: 08…, 628…, +62 8…, %2B628…; 8 to 12 further digits.
    "phone": re.compile(rf"(?<![\d.])(?:\+62|62|0(?!\.)){_SEP}8(?:{_SEP}\d){{7,11}}(?!\d)"),
}


def _literal_alternation(words: Sequence[str], flags: int = 0) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", flags)


@dataclass(frozen=True)
class Hit:
    """One piece of personal data in one line of output."""

    origin: str
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.kind} in {self.origin}: {self.excerpt}"


def _redact(value: str) -> str:
    """Enough of a value to find it in the fixtures, not the value itself."""
    return f"{value[:2]}…{value[-2:]}" if len(value) > 5 else "…"


@dataclass
class PiiScanner:
    """Finds personal data in lines of log output."""

    hits: list[Hit] = field(default_factory=list)
    names: re.Pattern[str] = field(default_factory=lambda: _literal_alternation(reporter_names()))
    handles: re.Pattern[str] = field(
        default_factory=lambda: _literal_alternation(HANDLES, re.IGNORECASE)
    )
    secrets: re.Pattern[str] = field(default_factory=lambda: _literal_alternation(SECRETS))
    literals: re.Pattern[str] = field(
        default_factory=lambda: _literal_alternation((*NIKS, *EMAILS), re.IGNORECASE)
    )

    def scan(self, origin: str, line: str) -> list[Hit]:
        """The hits in one line of output (also kept in `hits`)."""
        found: list[Hit] = []
        checks = [*PATTERNS.items(), ("name", self.names), ("handle", self.handles)]
        checks += [("fixture value", self.literals), ("secret", self.secrets)]
        for kind, pattern in checks:
            for match in pattern.finditer(line):
                start, end = match.span()
                excerpt = (
                    line[max(0, start - 60) : start]
                    + f"<{kind}:{_redact(match.group())}>"
                    + line[end : end + 60]
                )
                found.append(Hit(origin, kind, excerpt.replace("\n", "⏎")))
        self.hits.extend(found)
        return found

    def scan_lines(self, origin: str, lines: list[str]) -> None:
        """Scan captured output, line by line."""
        for line in lines:
            self.scan(origin, line)


class ScanHandler(logging.Handler):
    """Formats every record as production would (filter, then formatter) and scans the line."""

    def __init__(self, scanner: PiiScanner) -> None:
        super().__init__(logging.DEBUG)
        self.scanner = scanner
        self.scrub = PersonalDataFilter()
        self.formatters = (make_formatter("text"), make_formatter("json"))

    def emit(self, record: logging.LogRecord) -> None:
        # A copy: the filter rewrites the record, and caplog must see what the code logged.
        mine = copy.copy(record)
        if not self.scrub.filter(mine):
            return
        for formatter in self.formatters:
            self.scanner.scan(f"logger {record.name!r}", formatter.format(mine))


_tracked: list[tuple[str, list[str]]] = []


def track_output(origin: str, lines: list[str]) -> None:
    """Scan `lines` (still being filled by a reader) at the end of the current test."""
    _tracked.append((origin, lines))


def scan_tracked(scanner: PiiScanner) -> None:
    """Scan the output tracked during this test, and forget it."""
    for origin, lines in _tracked:
        scanner.scan_lines(origin, list(lines))
    _tracked.clear()


@pytest.fixture(autouse=True)
def pii_log_scan() -> Iterator[PiiScanner]:
    """Every test's logs at DEBUG, scanned for personal data; a hit fails the test."""
    scanner = PiiScanner()
    handler = ScanHandler(scanner)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    capped = cap_library_loggers(logging.DEBUG)
    _tracked.clear()
    try:
        yield scanner
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in capped.items():
            logging.getLogger(name).setLevel(level)
        scan_tracked(scanner)
    if scanner.hits:
        shown = "\n".join(f"  {hit}" for hit in scanner.hits[:10])
        more = f"\n  … and {len(scanner.hits) - 10} more" if len(scanner.hits) > 10 else ""
        pytest.fail(f"personal data in log output:\n{shown}{more}", pytrace=False)
