"""Call-center JSON Lines exports → complaints, line by line; pure, like the CSV parser.

One JSON object per line; the spool source's column mapping names its keys (a key with dots,
`caller.number`, reads nested objects). A bad line is quarantined with the file name, its row
(line) number and a reason that names keys, never values; the good lines of the file are kept.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

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
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    UTF8_BOM,
    UTF16_BOMS,
    BadRow,
    ParsedFile,
    call_complaint,
    check_call_values,
    file_error,
    looks_binary,
    parse_received_at,
    printable,
    zone,
)
from muara.ingest.settings import SpoolSource

NOT_JSON_LINES = "NotJsonLines"
JSONL_CONTENT_TYPE = "application/jsonl"
# Epoch numbers above this are milliseconds (JavaScript exports), below it seconds.
_EPOCH_MS_FROM = 100_000_000_000
_MISSING = object()
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _lookup(obj: dict[str, Any], key: str) -> Any:
    """The value under `key`, or under its dotted path into nested objects; `_MISSING` if none."""
    if key in obj:
        return obj[key]
    node: Any = obj
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return "a number with a fraction"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _epoch(value: float) -> datetime | None:
    seconds = value / 1000 if abs(value) >= _EPOCH_MS_FROM else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


class _Lines:
    """Turns the objects of one file into complaints and bad rows."""

    def __init__(self, source: SpoolSource, file_name: str, file_digest: str) -> None:
        self.source = source
        self.file_name = file_name
        self.file_digest = file_digest
        self.parsed = ParsedFile()
        self.seen: dict[str, tuple[int, str]] = {}
        mapping = {attr: getattr(source.columns, attr) for attr in REQUIRED_FIELDS}
        for attr in OPTIONAL_FIELDS:
            if (key := getattr(source.columns, attr)) is not None:
                mapping[attr] = key
        self.mapping: dict[str, str] = mapping

    def bad(self, row: int, line: bytes, error_class: str, reason: str) -> None:
        raw = RawInput(
            channel=self.source.channel,
            source_ref=f"{self.source.name}:{self.file_digest[:16]}:row{row}",
            content=line,
            content_type=JSONL_CONTENT_TYPE,
        )
        self.parsed.bad.append(BadRow(row, raw, error_class, reason))

    def values(self, obj: dict[str, Any], where: str) -> dict[str, str] | tuple[str, str]:
        """The mapped values as text, or the (error class, reason) of one that is no text."""
        values: dict[str, str] = {}
        for attr, key in self.mapping.items():
            value = _lookup(obj, key)
            if value is _MISSING or value is None:
                continue
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if attr == "received_at" and (number or isinstance(value, str)):
                value = str(value)  # a placeholder for the checks; parsed from `obj` later
            elif attr == "received_at":
                return INVALID_DATE, f"{where}: key '{key}' is {_type_name(value)}, not a date"
            elif isinstance(value, int) and number:
                value = str(value)
            if not isinstance(value, str):
                return INVALID_FIELD, f"{where}: key '{key}' is {_type_name(value)}, not text"
            values[attr] = value
        return values

    def received_at(self, obj: dict[str, Any], where: str) -> datetime | tuple[str, str]:
        key = self.mapping["received_at"]
        value = _lookup(obj, key)
        parsed: datetime | None = None
        if isinstance(value, str):
            parsed = parse_received_at(value, self.source.timezone)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parsed = _epoch(value)
        if parsed is not None:
            return parsed
        return INVALID_DATE, (
            f"{where}: key '{key}' is not a date ({DATE_FORMATS_HINT}, or epoch seconds)"
        )

    def add(self, row: int, line: bytes, obj: dict[str, Any]) -> None:
        where = f"{self.file_name}: row {row}"
        values = self.values(obj, where)
        if isinstance(values, tuple):
            self.bad(row, line, *values)
            return
        if problem := check_call_values(values, self.source.columns, where):
            self.bad(row, line, *problem)
            return
        received_at = self.received_at(obj, where)
        if isinstance(received_at, tuple):
            self.bad(row, line, *received_at)
            return
        complaint = call_complaint(self.source.channel, values, received_at, self.file_name, row)
        canonical = json.dumps(obj, sort_keys=True, ensure_ascii=False)
        earlier = self.seen.setdefault(complaint.source_id, (row, canonical))
        if earlier[1] != canonical:
            key = self.mapping["source_id"]
            reason = (
                f"{where}: the value of key '{key}' is already used by row {earlier[0]} "
                "with different content"
            )
            self.bad(row, line, CONFLICTING_ROW, reason)
            return
        raw = RawInput(
            channel=self.source.channel,
            source_ref=f"{self.source.name}:{complaint.source_id}",
            content=line,
            content_type=JSONL_CONTENT_TYPE,
        )
        self.parsed.rows.append((complaint, raw))


def _decode(line: bytes, where: str) -> dict[str, Any] | tuple[str, str]:
    """The line's object, or the (error class, reason) why it is none."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return INVALID_ENCODING, f"{where}: is not valid UTF-8"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        # The decoder's message names the syntax and the position, never the content.
        return MALFORMED_ROW, f"{where}: is not valid JSON ({err.msg} at column {err.colno})"
    except RecursionError:
        return MALFORMED_ROW, f"{where}: is nested too deeply"
    if not isinstance(obj, dict):
        return MALFORMED_ROW, f"{where}: is {_type_name(obj)}, not a JSON object"
    return obj


def _missing_keys_reason(
    objects: list[tuple[int, bytes, dict[str, Any]]], lines: _Lines
) -> str | None:
    """Name the required keys that no object has: a mapping that does not fit this export."""
    missing = [
        key
        for attr in REQUIRED_FIELDS
        if all(_lookup(obj, key := lines.mapping[attr]) is _MISSING for _, _, obj in objects)
    ]
    if not missing:
        return None
    keys = sorted({printable(k) for _, _, obj in objects[:50] for k in obj})
    more = f" and {len(keys) - 30} more" if len(keys) > 30 else ""
    return (
        f"{lines.file_name}: no record has the key(s) {', '.join(map(repr, missing))}; "
        f"keys found: {', '.join(map(repr, keys[:30]))}{more}"
    )


def parse_jsonl(
    data: bytes, *, file_name: str, file_digest: str, source: SpoolSource
) -> ParsedFile:
    """Parse one JSON Lines export; never raises on bad input."""
    zone(source.timezone)
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    if not data.strip():
        return file_error(EMPTY_FILE, f"{file_name}: the file is empty")
    if data.startswith(UTF16_BOMS):
        return file_error(NOT_JSON_LINES, f"{file_name}: the file is UTF-16 encoded; use UTF-8")
    if looks_binary(data):
        return file_error(NOT_JSON_LINES, f"{file_name}: the file is not JSON Lines text (binary)")
    lines = _Lines(source, file_name, file_digest)
    objects: list[tuple[int, bytes, dict[str, Any]]] = []
    # JSON text has no raw line breaks inside strings, so a physical line is one record.
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        decoded = _decode(line, f"{file_name}: row {number}")
        if isinstance(decoded, tuple):
            lines.bad(number, line, *decoded)
        else:
            objects.append((number, line, decoded))
    if not objects:
        return file_error(NOT_JSON_LINES, f"{file_name}: no line of the file is a JSON object")
    if reason := _missing_keys_reason(objects, lines):
        return file_error(MISSING_COLUMNS, reason)
    for number, line, obj in objects:
        lines.add(number, line, obj)
    lines.parsed.bad.sort(key=lambda bad: bad.row)
    return lines.parsed
