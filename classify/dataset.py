"""Labelled complaints from an office's CSV export: which column is which, and the rows.

Two presets name the columns of the exports offices actually have: LAPOR!'s open-data export and
Muara's own layout (also that of the shared Surabaya data). Any column can be named instead.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from muara.classify.errors import TrainingDataError
from muara.classify.location import Place

_DELIMITERS = ",;\t|"
# Fields larger than csv's default 128 KiB exist in real exports (pasted letters).
csv.field_size_limit(16 * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class Columns:
    """Which column holds what; the optional ones may be None (not in the file)."""

    text: str
    label: str
    title: str | None = None
    received_at: str | None = None
    district: str | None = None
    subdistrict: str | None = None


PRESETS: dict[str, Columns] = {
    # Muara's own layout, and that of the shared data: id, received_at, text, agency, district,
    # subdistrict.
    "muara": Columns(
        text="text",
        label="agency",
        received_at="received_at",
        district="district",
        subdistrict="subdistrict",
    ),
    # LAPOR!'s open-data export: the title and body of the report, the institution it was
    # disposed to, when it came in, and the area (taken as the district).
    "lapor": Columns(
        text="IsiLaporan",
        title="JudulLaporan",
        label="DisposisiInstansi",
        received_at="TanggalLaporanMasuk",
        district="Area",
    ),
}


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled complaint."""

    text: str
    label: str
    received_at: datetime | None = None
    place: Place | None = None
    weight: float = 1.0

    def relabelled(self, label: str) -> Example:
        """The same complaint with another label."""
        return replace(self, label=label)


@dataclass(frozen=True, slots=True)
class Dataset:
    """What a file gave: the usable examples and what had to be skipped."""

    examples: list[Example]
    dropped: int  # rows with no text or no label
    undated: int  # rows whose date could not be read (with a date column)


def columns_for(
    preset: str | None,
    *,
    text: str | None = None,
    label: str | None = None,
    title: str | None = None,
    received_at: str | None = None,
    district: str | None = None,
    subdistrict: str | None = None,
) -> tuple[Columns, set[str]]:
    """The preset's columns with any named one replacing it; and the names that must exist.

    A preset's optional columns are used when the file has them; a column named on the command
    line must be there.
    """
    if preset is not None and preset not in PRESETS:
        raise TrainingDataError(f"unknown preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
    base = PRESETS[preset or "muara"]
    given = {
        "text": text,
        "label": label,
        "title": title,
        "received_at": received_at,
        "district": district,
        "subdistrict": subdistrict,
    }
    chosen = replace(base, **{k: v for k, v in given.items() if v is not None})
    required = {chosen.text, chosen.label} | {v for v in given.values() if v is not None}
    return chosen, required


def _delimiter(header_line: str) -> str:
    # Excel in an Indonesian locale writes ';', other tools ','; the header line tells which.
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _find(header: list[str], wanted: str) -> int | None:
    if wanted in header:
        return header.index(wanted)
    folded = [name.strip().casefold() for name in header]
    key = wanted.strip().casefold()
    return folded.index(key) if folded.count(key) == 1 else None


_DMY = re.compile(
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T](\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?$"
)


def parse_when(value: str, zone: ZoneInfo) -> datetime | None:
    """ISO 8601, or the DD/MM/YYYY [HH:MM[:SS]] Indonesian spreadsheets write; None if neither."""
    value = value.strip()
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        match = _DMY.match(value)
        if match is None:
            return None
        day, month, year, hour, minute, second = match.groups()
        try:
            when = datetime(  # noqa: DTZ001 - the zone is added below
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
            )
        except ValueError:
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)


def read_csv(
    csv_path: Path,
    columns: Columns,
    *,
    required: set[str] | None = None,
    timezone: str = "Asia/Jakarta",
    progress: Callable[[str], None] | None = None,
) -> Dataset:
    """The labelled complaints of a CSV export; every problem is a `TrainingDataError`."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise TrainingDataError(f"unknown time zone {timezone!r}") from err
    need = required if required is not None else {columns.text, columns.label}
    examples: list[Example] = []
    dropped = undated = 0
    try:
        # utf-8-sig: spreadsheet programs put a byte-order mark before the header.
        with csv_path.open(encoding="utf-8-sig", newline="") as file:
            first = file.readline()
            if not first.strip():
                raise TrainingDataError(f"{csv_path} is empty: expected a header row")
            file.seek(0)
            reader = csv.reader(file, delimiter=_delimiter(first))
            header = [name.strip() for name in next(reader)]
            at: dict[str, int | None] = {}
            for field in ("text", "label", "title", "received_at", "district", "subdistrict"):
                name = getattr(columns, field)
                at[field] = None if name is None else _find(header, name)
                if name is not None and at[field] is None and name in need:
                    found = ", ".join(repr(column) for column in header) or "none"
                    raise TrainingDataError(
                        f"column {name!r} not found in {csv_path}; columns found: {found}"
                    )

            def cell(row: list[str], field: str) -> str:
                index = at[field]
                return row[index].strip() if index is not None and index < len(row) else ""

            for number, row in enumerate(reader, 1):
                if progress is not None and number % 20_000 == 0:
                    progress(f"read {number:,} rows…")
                text, label = cell(row, "text"), cell(row, "label")
                if not (text and label):
                    if any(value.strip() for value in row):
                        dropped += 1
                    continue
                if title := cell(row, "title"):
                    text = f"{title}\n{text}"
                when = None
                if at["received_at"] is not None:
                    when = parse_when(cell(row, "received_at"), zone)
                    undated += when is None
                district, subdistrict = cell(row, "district"), cell(row, "subdistrict")
                place = Place(district or None, subdistrict or None)
                examples.append(
                    Example(text, label, when, place if district or subdistrict else None)
                )
    except UnicodeDecodeError as err:
        raise TrainingDataError(
            f"{csv_path} is not UTF-8 text (bad byte at offset {err.start}); save it as 'CSV UTF-8'"
        ) from err
    except csv.Error as err:
        raise TrainingDataError(f"{csv_path} is not a readable CSV: {err}") from err
    except OSError as err:
        raise TrainingDataError(f"cannot read {csv_path}: {err.strerror}") from err
    return Dataset(examples, dropped, undated)
