"""What every file parser of a spool hands back, and the value checks they share; pure.

A bad row never spoils its file: it becomes a `BadRow` with its raw bytes and a reason that names
the file, the row and the field, never the value (personal data stays in the store).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from muara.domain import NewComplaint, RawInput, Reporter
from muara.ingest.settings import CsvColumns

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

# Column widths of the store (store/tables.py): longer values would fail the whole transaction.
MAX_SOURCE_ID_CHARS = 255
MAX_PLACE_CHARS = 128
# How much of the file's start the binary sniff looks at, and the share of odd characters it allows.
SNIFF_BYTES = 8192
MAX_ODD_SHARE = 0.1

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
DATE_FORMATS_HINT = "ISO 8601 or DD/MM/YYYY HH:MM"

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


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that could not become a complaint: its raw bytes and why, free of personal data."""

    row: int
    raw: RawInput
    error_class: str
    reason: str


@dataclass(slots=True)
class ParsedFile:
    """What one file holds: complaints with their raw rows, bad rows, or a whole-file error."""

    rows: list[tuple[NewComplaint, RawInput]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    file_error: str | None = None
    file_error_class: str = ""
    # Mapped optional columns the header lacks: worth a log line, since their data is not read.
    missing_optional: tuple[str, ...] = ()


def file_error(error_class: str, reason: str) -> ParsedFile:
    """A file that is quarantined whole."""
    return ParsedFile(file_error=reason, file_error_class=error_class)


@cache
def zone(name: str) -> ZoneInfo:
    """The named time zone; `ValueError` if this machine does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {name!r}") from err


def check_timezone(name: str) -> None:
    """Raise `ValueError` unless `name` is a time zone this machine knows (a config check)."""
    zone(name)


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
            parsed = parsed.replace(tzinfo=zone(zone_name))
        parsed.astimezone(UTC)  # out of range once in UTC (year 1 or 9999) is no date either
    except (ValueError, OverflowError):
        return None
    return parsed


def printable(text: str, limit: int = 40) -> str:
    """`text` cut to `limit` characters with control characters shown as `?` (for names)."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text.strip())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def looks_binary(data: bytes) -> bool:
    """True when the start of `data` has too many undecodable or control characters for text."""
    # Undecodable bytes and control characters (NUL included) are rare in text and common in
    # anything else; a few of them are bad rows, many of them mean the file is no text at all.
    text = data[:SNIFF_BYTES].decode("utf-8", "surrogateescape")
    odd = sum(1 for ch in text if not ch.isprintable() and ch not in "\r\n\t")
    return odd > MAX_ODD_SHARE * len(text)


def encoding_problem(value: str) -> str | None:
    """Why a decoded value cannot be stored as text (bad UTF-8, NUL), or None."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        return "is not valid UTF-8"
    if "\x00" in value:
        return "contains a NUL character"
    return None


# The complaint fields a call-log row maps (settings.CsvColumns); the first three must be there.
REQUIRED_FIELDS = ("source_id", "received_at", "text")
OPTIONAL_FIELDS = (
    "reporter_name",
    "reporter_contact",
    "agent",
    "category",
    "district",
    "subdistrict",
)
_LIMITS = {
    "source_id": MAX_SOURCE_ID_CHARS,
    "district": MAX_PLACE_CHARS,
    "subdistrict": MAX_PLACE_CHARS,
}


def check_call_values(
    values: dict[str, str], columns: CsvColumns, where: str
) -> tuple[str, str] | None:
    """The (error class, reason) that makes a call-log row bad, or None; names columns only."""
    for attr, value in values.items():
        if problem := encoding_problem(value):
            return INVALID_ENCODING, f"{where}: column '{getattr(columns, attr)}' {problem}"
    for attr in REQUIRED_FIELDS:
        if not values.get(attr, "").strip():
            return MISSING_FIELD, f"{where}: column '{getattr(columns, attr)}' is empty"
    for attr, limit in _LIMITS.items():
        if len(values.get(attr, "").strip()) > limit:
            column = getattr(columns, attr)
            return INVALID_FIELD, f"{where}: column '{column}' is longer than {limit} characters"
    return None


def call_complaint(
    channel: str, values: dict[str, str], received_at: datetime, file_name: str, row: int
) -> NewComplaint:
    """A checked call-log row as a complaint; vendor category and agent go to `extra`."""

    def value(attr: str) -> str | None:
        return values.get(attr, "").strip() or None

    extra: dict[str, object] = {"spool_file": file_name, "spool_row": row}
    if category := value("category"):
        extra["category"] = category
    if agent := value("agent"):
        extra["agent"] = agent
    return NewComplaint(
        channel=channel,
        source_id=values["source_id"].strip(),
        received_at=received_at,
        text=values["text"].strip(),
        reporter=Reporter(name=value("reporter_name"), contact=value("reporter_contact")),
        district=value("district"),
        subdistrict=value("subdistrict"),
        extra=extra,
    )
