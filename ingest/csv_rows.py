"""Call-center CSV exports → complaints, row by row; pure, so every odd file is a unit test.

A bad row never spoils its file: it becomes a `BadRow` with its raw bytes and a reason that names
the file, the row and the column, never the value (personal data stays in the store).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from muara.config import SpoolSource
from muara.domain import NewComplaint, RawInput, Reporter

# Error classes of quarantine records, as the store keeps them.
MALFORMED_ROW = "MalformedRow"
INVALID_ENCODING = "InvalidEncoding"
MISSING_FIELD = "MissingField"
INVALID_DATE = "InvalidDate"
INVALID_FIELD = "InvalidField"
CONFLICTING_ROW = "ConflictingRow"
EMPTY_FILE = "EmptyFile"
NOT_CSV = "NotCsv"
MISSING_COLUMNS = "MissingColumns"

CSV_CONTENT_TYPE = "text/csv"

# Column widths of the store (store/tables.py): longer values would fail the whole transaction.
MAX_SOURCE_ID_CHARS = 255
MAX_PLACE_CHARS = 128
# A quoted field may hold line breaks; one that runs on longer than this is an unclosed quote.
MAX_RECORD_LINES = 50
# How much of the file's start the binary sniff looks at, and the share of odd characters it allows.
SNIFF_BYTES = 8192
MAX_ODD_SHARE = 0.1

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_OTHER_DELIMITERS = (";", "\t", "|", ",")
_REQUIRED = ("source_id", "received_at", "text")
_OPTIONAL = ("reporter_name", "reporter_contact", "category", "district", "subdistrict")
_LOCAL_DATE = re.compile(
    r"(?P<d>\d{1,2})[/-](?P<m>\d{1,2})[/-](?P<y>\d{4})"
    r"(?:[ T]+(?P<H>\d{1,2})[:.](?P<M>\d{2})(?:[:.](?P<S>\d{2}))?)?"
    r"(?:\s*(?P<zone>WIB|WITA|WIT))?",
    re.IGNORECASE,
)
# Indonesia's three time zones, as clocks and call-center exports name them.
_INDONESIAN_ZONES = {
    "WIB": timezone(timedelta(hours=7)),
    "WITA": timezone(timedelta(hours=8)),
    "WIT": timezone(timedelta(hours=9)),
}
DATE_FORMATS_HINT = "ISO 8601 or DD/MM/YYYY HH:MM"


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that could not become a complaint: its raw bytes and why, free of personal data."""

    row: int
    raw: RawInput
    error_class: str
    reason: str


@dataclass(slots=True)
class ParsedFile:
    """What one export holds: complaints with their raw rows, bad rows, or a whole-file error."""

    rows: list[tuple[NewComplaint, RawInput]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    file_error: str | None = None
    file_error_class: str = ""
    # Mapped optional columns the header lacks: worth a log line, since their data is not read.
    missing_optional: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Record:
    """One CSV record: the physical lines it spans (0-based, end exclusive) and its fields."""

    start: int
    end: int
    fields: list[str] | None
    error: str | None = None


class _RunawayRecordError(Exception):
    """A record ran over `MAX_RECORD_LINES` lines: an unclosed quote, not a real field."""


class _Lines:
    """Feeds decoded lines to `csv.reader` and remembers which lines each record used."""

    def __init__(self, lines: list[str], first: int) -> None:
        self.lines = lines
        self.pos = first
        self.record_start = first

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        if self.pos - self.record_start >= MAX_RECORD_LINES:
            raise _RunawayRecordError
        line = self.lines[self.pos]
        self.pos += 1
        return line


class _Records:
    """CSV records with the lines they came from; `rewind` re-reads from a given line."""

    def __init__(self, lines: list[str], delimiter: str, first: int = 0) -> None:
        self._feed = _Lines(lines, first)
        self._reader = csv.reader(self._feed, delimiter=delimiter)

    def __iter__(self) -> _Records:
        return self

    def __next__(self) -> _Record:
        feed = self._feed
        start = feed.record_start = feed.pos
        try:
            fields = next(self._reader)
        except _RunawayRecordError:
            feed.pos = start + 1
            reason = f"has a quoted field not closed within {MAX_RECORD_LINES} lines"
            return _Record(start, start + 1, None, reason)
        except csv.Error as err:
            # csv's messages describe the syntax ("field larger than field limit"), not the data.
            return _Record(start, feed.pos, None, f"is not valid CSV ({err})")
        return _Record(start, feed.pos, fields)

    def rewind(self, line: int) -> None:
        """Go on reading at `line`; the reader keeps no state between records, so this is safe."""
        self._feed.pos = line


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {name!r}") from err


def check_timezone(name: str) -> None:
    """Raise `ValueError` unless `name` is a time zone this machine knows (a config check)."""
    _zone(name)


def parse_received_at(value: str, zone_name: str) -> datetime | None:
    """An aware datetime from ISO 8601 or `DD/MM/YYYY HH:MM` (naive ones are in `zone_name`)."""
    value = value.strip()
    local = _LOCAL_DATE.fullmatch(value)
    try:
        if local is not None:
            parsed = datetime(  # noqa: DTZ001 - the zone is attached below
                int(local["y"]),
                int(local["m"]),
                int(local["d"]),
                int(local["H"] or 0),
                int(local["M"] or 0),
                int(local["S"] or 0),
            )
            if local["zone"]:
                parsed = parsed.replace(tzinfo=_INDONESIAN_ZONES[local["zone"].upper()])
        else:
            parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_zone(zone_name))
        parsed.astimezone(UTC)  # out of range once in UTC (year 1 or 9999) is no date either
    except (ValueError, OverflowError):
        return None
    return parsed


def _printable(text: str, limit: int = 40) -> str:
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text.strip())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _sniff_not_csv(data: bytes) -> str | None:
    """Why `data` is not CSV text at all (binary, UTF-16), or None when it may well be."""
    if data.startswith(_UTF16_BOMS):
        return "is UTF-16 encoded; export it as UTF-8"
    # Undecodable bytes and control characters (NUL included) are rare in text and common in
    # anything else; a few of them are bad rows, many of them mean the file is no text at all.
    text = data[:SNIFF_BYTES].decode("utf-8", "surrogateescape")
    odd = sum(1 for ch in text if not ch.isprintable() and ch not in "\r\n\t")
    if odd > MAX_ODD_SHARE * len(text):
        return "is not CSV text (binary content)"
    return None


@dataclass(frozen=True, slots=True)
class _Layout:
    """Which field index holds which complaint field, for one file's header."""

    index: dict[str, int]
    width: int
    missing_optional: tuple[str, ...]


def _header_layout(header: list[str], source: SpoolSource, file_name: str) -> _Layout | str:
    """Map the header to complaint fields, or say what is wrong with it."""
    mapping = {
        attr: column
        for attr in (*_REQUIRED, *_OPTIONAL)
        if (column := getattr(source.columns, attr)) is not None
    }
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        positions.setdefault(name.strip().casefold(), []).append(i)
    index: dict[str, int] = {}
    for attr, column in mapping.items():
        found = positions.get(column.strip().casefold(), [])
        if len(found) > 1:
            return f"{file_name}: column '{column}' appears {len(found)} times in the header"
        if found:
            index[attr] = found[0]
    missing = [mapping[attr] for attr in _REQUIRED if attr not in index]
    if missing:
        return _missing_columns_reason(header, missing, bool(index), source, file_name)
    missing_optional = tuple(mapping[a] for a in _OPTIONAL if a in mapping and a not in index)
    return _Layout(index, len(header), missing_optional)


def _missing_columns_reason(
    header: list[str],
    missing: list[str],
    looks_like_header: bool,
    source: SpoolSource,
    file_name: str,
) -> str:
    """Name the missing columns; list the found ones only if the line is a header, not data."""
    reason = f"{file_name}: the header lacks the column(s) {', '.join(map(repr, missing))}"
    if looks_like_header:
        names = [_printable(name) for name in header[:30]]
        more = f" and {len(header) - 30} more" if len(header) > 30 else ""
        return f"{reason}; found columns: {', '.join(map(repr, names))}{more}"
    line = source.delimiter.join(header)
    required = [getattr(source.columns, attr).casefold() for attr in _REQUIRED]
    for other in _OTHER_DELIMITERS:
        if other != source.delimiter and any(
            part.strip().casefold() in required for part in line.split(other)
        ):
            return (
                f"{reason}; the header seems to use {other!r} as its delimiter: set "
                f"delimiter = {other!r} for spool source '{source.name}'"
            )
    # No expected column at all: the first line may be data, so its values are not repeated here.
    return (
        f"{reason}; none of the {len(header)} field(s) on the first line is an expected column "
        f"(is the header missing, or is the delimiter not {source.delimiter!r}?)"
    )


def _check_row(
    fields: list[str], layout: _Layout, source: SpoolSource, where: str
) -> tuple[str, str] | None:
    """The (error class, reason) that makes a row bad, or None when it is a complaint."""
    if len(fields) != layout.width:
        return MALFORMED_ROW, f"{where}: has {len(fields)} fields, the header has {layout.width}"
    for attr, i in layout.index.items():
        value = fields[i]
        column = getattr(source.columns, attr)
        if any("\udc80" <= ch <= "\udcff" for ch in value):
            return INVALID_ENCODING, f"{where}: column '{column}' is not valid UTF-8"
        if "\x00" in value:
            return INVALID_ENCODING, f"{where}: column '{column}' contains a NUL character"
    for attr in _REQUIRED:
        if not fields[layout.index[attr]].strip():
            return MISSING_FIELD, f"{where}: column '{getattr(source.columns, attr)}' is empty"
    limits = {
        "source_id": MAX_SOURCE_ID_CHARS,
        "district": MAX_PLACE_CHARS,
        "subdistrict": MAX_PLACE_CHARS,
    }
    for attr, limit in limits.items():
        if attr in layout.index and len(fields[layout.index[attr]].strip()) > limit:
            column = getattr(source.columns, attr)
            return INVALID_FIELD, f"{where}: column '{column}' is longer than {limit} characters"
    return None


def _value(fields: list[str], layout: _Layout, attr: str) -> str | None:
    i = layout.index.get(attr)
    if i is None:
        return None
    return fields[i].strip() or None


def _complaint(
    fields: list[str],
    layout: _Layout,
    source: SpoolSource,
    received_at: datetime,
    file_name: str,
    row: int,
) -> NewComplaint:
    extra: dict[str, object] = {"spool_file": file_name, "spool_row": row}
    if category := _value(fields, layout, "category"):
        extra["category"] = category
    return NewComplaint(
        channel=source.channel,
        source_id=fields[layout.index["source_id"]].strip(),
        received_at=received_at,
        text=fields[layout.index["text"]].strip(),
        reporter=Reporter(
            name=_value(fields, layout, "reporter_name"),
            contact=_value(fields, layout, "reporter_contact"),
        ),
        district=_value(fields, layout, "district"),
        subdistrict=_value(fields, layout, "subdistrict"),
        extra=extra,
    )


def _file_error(error_class: str, reason: str) -> ParsedFile:
    return ParsedFile(file_error=reason, file_error_class=error_class)


def _is_blank(record: _Record) -> bool:
    return record.fields is not None and not any(f.strip() for f in record.fields)


def parse_csv(data: bytes, *, file_name: str, file_digest: str, source: SpoolSource) -> ParsedFile:
    """Parse one export; never raises on bad input (a bad `source.timezone` is a config error)."""
    _zone(source.timezone)
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    if not data.strip():
        return _file_error(EMPTY_FILE, f"{file_name}: the file is empty")
    if why := _sniff_not_csv(data):
        return _file_error(NOT_CSV, f"{file_name}: the file {why}")
    # bytes.splitlines breaks only at \r, \n and \r\n, which never occur inside a UTF-8 sequence.
    raw_lines = data.splitlines(keepends=True)
    lines = [line.decode("utf-8", "surrogateescape") for line in raw_lines]
    records = _Records(lines, source.delimiter)
    header = next((r for r in records if not _is_blank(r)), None)
    if header is None:
        return _file_error(EMPTY_FILE, f"{file_name}: the file holds only blank lines")
    if header.fields is None:
        return _file_error(NOT_CSV, f"{file_name}: the header line {header.error}")
    layout = _header_layout(header.fields, source, file_name)
    if isinstance(layout, str):
        return _file_error(MISSING_COLUMNS, layout)
    rows = _Rows(source, file_name, file_digest, raw_lines, header, layout)
    for record in records:
        if _is_blank(record):
            continue  # a blank line or an empty spreadsheet row: nothing to keep
        rows.add(record, records)
    return rows.parsed


class _Rows:
    """Turns the records after the header into complaints and bad rows."""

    def __init__(
        self,
        source: SpoolSource,
        file_name: str,
        file_digest: str,
        raw_lines: list[bytes],
        header: _Record,
        layout: _Layout,
    ) -> None:
        self.source = source
        self.file_name = file_name
        self.file_digest = file_digest
        self.raw_lines = raw_lines
        # Every raw row starts with the header: a one-row CSV file that can be fixed and re-dropped.
        self.header_bytes = b"".join(raw_lines[header.start : header.end])
        self.layout = layout
        self.parsed = ParsedFile(missing_optional=layout.missing_optional)
        # First row of each call id and its values: the same row twice is fine, a clash is not.
        self.seen: dict[str, tuple[int, tuple[str, ...]]] = {}

    def _raw(self, start: int, end: int, ref: str) -> RawInput:
        return RawInput(
            channel=self.source.channel,
            source_ref=f"{self.source.name}:{ref}",
            content=self.header_bytes + b"".join(self.raw_lines[start:end]),
            content_type=CSV_CONTENT_TYPE,
        )

    def _bad(self, start: int, end: int, error_class: str, reason: str) -> None:
        raw = self._raw(start, end, f"{self.file_digest[:16]}:row{start + 1}")
        self.parsed.bad.append(BadRow(start + 1, raw, error_class, reason))

    def add(self, record: _Record, records: _Records) -> None:
        """Classify one record; a broken one spanning lines gives up only its first line."""
        row = record.start + 1
        where = f"{self.file_name}: row {row}"
        end = record.end
        problem: tuple[str, str] | None
        if record.fields is None:
            problem = (MALFORMED_ROW, f"{where}: {record.error}")
        else:
            problem = _check_row(record.fields, self.layout, self.source, where)
        if problem is not None:
            if problem[0] == MALFORMED_ROW and end - record.start > 1:
                # Most likely a quote opened on this line and never closed: keep this line alone
                # as the bad row and read the next lines as rows of their own.
                end = record.start + 1
                records.rewind(end)
                problem = (MALFORMED_ROW, f"{problem[1]} (a quoted field runs on past this line)")
            self._bad(record.start, end, *problem)
            return
        assert record.fields is not None
        fields = record.fields
        received_at = parse_received_at(
            fields[self.layout.index["received_at"]], self.source.timezone
        )
        if received_at is None:
            column = self.source.columns.received_at
            reason = f"{where}: column '{column}' is not a date ({DATE_FORMATS_HINT})"
            self._bad(record.start, end, INVALID_DATE, reason)
            return
        complaint = _complaint(fields, self.layout, self.source, received_at, self.file_name, row)
        values = tuple(f.strip() for f in fields)
        earlier = self.seen.setdefault(complaint.source_id, (row, values))
        if earlier[1] != values:
            column = self.source.columns.source_id
            reason = (
                f"{where}: the value of column '{column}' is already used by row {earlier[0]} "
                "with different content"
            )
            self._bad(record.start, end, CONFLICTING_ROW, reason)
            return
        raw = self._raw(record.start, end, complaint.source_id)
        self.parsed.rows.append((complaint, raw))
