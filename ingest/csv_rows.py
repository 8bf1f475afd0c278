"""Call-center CSV exports → complaints, row by row; pure, so every odd file is a unit test.

A bad row never spoils its file: it becomes a `BadRow` with its raw bytes and a reason that names
the file, the row and the column, never the value (personal data stays in the store).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from muara.domain import RawInput
from muara.ingest.rows import (
    CONFLICTING_ROW,
    DATE_FORMATS_HINT,
    EMPTY_FILE,
    INVALID_DATE,
    INVALID_ENCODING,
    INVALID_FIELD,
    MALFORMED_ROW,
    MISSING_COLUMNS,
    MISSING_FIELD,
    NOT_CSV,
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    UTF8_BOM,
    UTF16_BOMS,
    BadRow,
    ParsedFile,
    call_complaint,
    check_call_values,
    check_timezone,
    file_error,
    looks_binary,
    parse_received_at,
    printable,
    zone,
)
from muara.ingest.settings import SpoolSource

# The shared names tests and callers know from here.
__all__ = [
    "CONFLICTING_ROW",
    "CSV_CONTENT_TYPE",
    "EMPTY_FILE",
    "INVALID_DATE",
    "INVALID_ENCODING",
    "INVALID_FIELD",
    "MALFORMED_ROW",
    "MAX_RECORD_LINES",
    "MISSING_COLUMNS",
    "MISSING_FIELD",
    "NOT_CSV",
    "BadRow",
    "ParsedFile",
    "check_timezone",
    "parse_csv",
    "parse_received_at",
]

CSV_CONTENT_TYPE = "text/csv"

# A quoted field may hold line breaks; one that runs on longer than this is an unclosed quote.
MAX_RECORD_LINES = 50

_OTHER_DELIMITERS = (";", "\t", "|", ",")
_REQUIRED = REQUIRED_FIELDS
_OPTIONAL = OPTIONAL_FIELDS


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


def _sniff_not_csv(data: bytes) -> str | None:
    """Why `data` is not CSV text at all (binary, UTF-16), or None when it may well be."""
    if data.startswith(UTF16_BOMS):
        return "is UTF-16 encoded; export it as UTF-8"
    if looks_binary(data):
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
        names = [printable(name) for name in header[:30]]
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
    return check_call_values(_values(fields, layout), source.columns, where)


def _values(fields: list[str], layout: _Layout) -> dict[str, str]:
    return {attr: fields[i] for attr, i in layout.index.items()}


def _is_blank(record: _Record) -> bool:
    return record.fields is not None and not any(f.strip() for f in record.fields)


def parse_csv(data: bytes, *, file_name: str, file_digest: str, source: SpoolSource) -> ParsedFile:
    """Parse one export; never raises on bad input (a bad `source.timezone` is a config error)."""
    zone(source.timezone)
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    if not data.strip():
        return file_error(EMPTY_FILE, f"{file_name}: the file is empty")
    if why := _sniff_not_csv(data):
        return file_error(NOT_CSV, f"{file_name}: the file {why}")
    # bytes.splitlines breaks only at \r, \n and \r\n, which never occur inside a UTF-8 sequence.
    raw_lines = data.splitlines(keepends=True)
    lines = [line.decode("utf-8", "surrogateescape") for line in raw_lines]
    records = _Records(lines, source.delimiter)
    header = next((r for r in records if not _is_blank(r)), None)
    if header is None:
        return file_error(EMPTY_FILE, f"{file_name}: the file holds only blank lines")
    if header.fields is None:
        return file_error(NOT_CSV, f"{file_name}: the header line {header.error}")
    layout = _header_layout(header.fields, source, file_name)
    if isinstance(layout, str):
        return file_error(MISSING_COLUMNS, layout)
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
        complaint = call_complaint(
            self.source.channel, _values(fields, self.layout), received_at, self.file_name, row
        )
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
