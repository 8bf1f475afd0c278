"""Where a complaint is, and which local office (kecamatan or kelurahan) serves that place.

About one complaint in eight is a matter for the local office, and which office depends on where
the complaint is, not on its words. The model learns the *role* ("a matter for the local office");
this module turns the role into an office from the complaint's location: the channel's metadata,
or place names in the text matched against the region's gazetteer. Pure, apart from `load`.
"""

from __future__ import annotations

import csv
import difflib
import enum
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muara.classify.errors import TrainingDataError

# The model's label for "a matter for the local office"; it never reaches the router unresolved
# except as a request for review (router/rules.py knows it).
LOCAL_OFFICE_LABEL = "__LOCAL_OFFICE__"


class Level(enum.StrEnum):
    """The two tiers of local office under a kabupaten/kota."""

    DISTRICT = "district"  # kecamatan
    SUBDISTRICT = "subdistrict"  # kelurahan or desa


DEFAULT_PREFIXES = {Level.DISTRICT: "Kecamatan", Level.SUBDISTRICT: "Kelurahan"}

_OFFICE = re.compile(
    r"""^\s*(?:kantor\s+)?
    (?:(?P<district>kecamatan|kec\.?|camat)|(?P<subdistrict>kelurahan|kel\.?|lurah|desa|ds\.?))
    (?:\s+(?P<name>\S.*?))?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_FUZZY_CUTOFF = 0.85
_MAX_RESOLVED = 50_000


def fold(name: str) -> str:
    """A place name as a key: case, spaces and punctuation do not tell names apart."""
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


def parse_office(label: str) -> tuple[Level, str | None] | None:
    """The level and place of a local-office label ("Kelurahan Ploso"), None for an agency."""
    match = _OFFICE.match(label)
    if match is None:
        return None
    level = Level.DISTRICT if match.group("district") else Level.SUBDISTRICT
    return level, match.group("name")


def role_of(label: str) -> str:
    """The label the model learns: every local office is one role."""
    return LOCAL_OFFICE_LABEL if parse_office(label) is not None else label


@dataclass(frozen=True, slots=True)
class Place:
    """Where a complaint is, as far as anyone knows; either part may be unknown."""

    district: str | None = None
    subdistrict: str | None = None

    def name_at(self, level: Level) -> str | None:
        """The place's name at one tier."""
        return self.district if level is Level.DISTRICT else self.subdistrict


class Gazetteer:
    """The region's districts and their subdistricts, to recognise place names."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.districts: dict[str, str] = {}
        self.subdistricts: dict[str, list[tuple[str, str]]] = {}
        for district, subdistrict in pairs:
            district, subdistrict = district.strip(), subdistrict.strip()
            if district:
                self.districts.setdefault(fold(district), district)
            if district and subdistrict:
                self.subdistricts.setdefault(fold(subdistrict), []).append((subdistrict, district))
        names = {d.casefold() for d in self.districts.values()}
        names |= {s.casefold() for pairs in self.subdistricts.values() for s, _ in pairs}
        # Longest first, so "wonorejo rungkut" wins over "rungkut"; spaces in a name match any
        # run of spaces or punctuation, as citizens write "karang pilang" or "karang-pilang".
        alternatives = sorted(names, key=len, reverse=True)
        self._pattern = (
            re.compile(
                r"\b("
                + "|".join(r"[\W_]*".join(map(re.escape, name.split())) for name in alternatives)
                + r")\b"
            )
            if alternatives
            else None
        )

    @classmethod
    def load(cls, path: Path) -> Gazetteer:
        """Read a `district,subdistrict` CSV (the shape of the region's official list)."""
        try:
            with path.open(encoding="utf-8-sig", newline="") as file:
                reader = csv.DictReader(file)
                fields = {name.strip().casefold(): name for name in reader.fieldnames or []}
                if "district" not in fields:
                    raise TrainingDataError(
                        f"{path}: a gazetteer needs the columns district,subdistrict"
                    )
                sub = fields.get("subdistrict")
                pairs = [
                    (row[fields["district"]] or "", (row[sub] or "") if sub else "")
                    for row in reader
                ]
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise TrainingDataError(f"cannot read the gazetteer {path}: {err}") from err
        return cls(pairs)

    def __len__(self) -> int:
        return sum(len(pairs) for pairs in self.subdistricts.values()) or len(self.districts)

    def district(self, name: str) -> str | None:
        """The canonical spelling of a district, tolerating small spelling differences."""
        return _lookup(self.districts, name)

    def subdistrict(self, name: str, district: str | None = None) -> tuple[str, str] | None:
        """(subdistrict, its district) for a name; None when unknown or ambiguous."""
        key = fold(name)
        pairs = self.subdistricts.get(key)
        if pairs is None:
            close = difflib.get_close_matches(key, list(self.subdistricts), 1, _FUZZY_CUTOFF)
            pairs = self.subdistricts[close[0]] if close else None
        if not pairs:
            return None
        if district is not None:
            pairs = [pair for pair in pairs if fold(pair[1]) == fold(district)] or pairs
        return pairs[0] if len(pairs) == 1 else None

    def find(self, text: str) -> Place:
        """Place names mentioned in a text (normalised, lower case): a subdistrict wins."""
        if self._pattern is None:
            return Place()
        found = [match.group(1) for match in self._pattern.finditer(text.casefold())]
        districts = [d for name in found if (d := self.districts.get(fold(name)))]
        district = districts[0] if len(set(districts)) == 1 else None
        for name in found:
            pair = self.subdistrict(name, district)
            if pair is not None and fold(name) in self.subdistricts:
                return Place(pair[1], pair[0])
        return Place(district, None)


def _lookup(table: Mapping[str, str], name: str) -> str | None:
    key = fold(name)
    if not key:
        return None
    if key in table:
        return table[key]
    close = difflib.get_close_matches(key, list(table), 1, _FUZZY_CUTOFF)
    return table[close[0]] if close else None


class OfficeDirectory:
    """Which office label serves a place: learned from the history's labels, completed by the
    gazetteer, so the label is spelled as the region spells it (and as LAPOR! knows it)."""

    def __init__(
        self,
        offices: Mapping[Level, Mapping[str, str]] | None = None,
        prefixes: Mapping[Level, str] | None = None,
    ) -> None:
        self.offices: dict[Level, dict[str, str]] = {
            level: dict((offices or {}).get(level, {})) for level in Level
        }
        self.prefixes = {**DEFAULT_PREFIXES, **(prefixes or {})}
        # Places repeat: each is matched (fuzzily, which is slow) once.
        self._resolved: dict[tuple[Level, Place, Gazetteer | None], str | None] = {}

    @classmethod
    def learn(cls, labels: Iterable[str]) -> OfficeDirectory:
        """Every office named in the labels, and how the region writes each tier's prefix."""
        offices: dict[Level, dict[str, str]] = {level: {} for level in Level}
        prefixes: dict[Level, Counter[str]] = {level: Counter() for level in Level}
        for label in labels:
            parsed = parse_office(label)
            if parsed is None:
                continue
            level, name = parsed
            if name is None:
                continue
            offices[level].setdefault(fold(name), label)
            prefixes[level][label[: len(label) - len(name)].strip()] += 1
        return cls(
            offices,
            {level: count.most_common(1)[0][0] for level, count in prefixes.items() if count},
        )

    def to_metadata(self) -> dict[str, Any]:
        """Plain data for the model's metadata."""
        return {
            "offices": {level.value: dict(sorted(t.items())) for level, t in self.offices.items()},
            "prefixes": {level.value: prefix for level, prefix in self.prefixes.items()},
        }

    @classmethod
    def from_metadata(cls, data: Mapping[str, Any] | None) -> OfficeDirectory:
        """The directory a model was saved with."""
        data = data or {}
        return cls(
            {Level(k): v for k, v in data.get("offices", {}).items()},
            {Level(k): v for k, v in data.get("prefixes", {}).items()},
        )

    def known(self, gazetteer: Gazetteer | None = None) -> set[str]:
        """Every office label this directory (and the gazetteer) can resolve to."""
        labels = {label for table in self.offices.values() for label in table.values()}
        if gazetteer is not None:
            for district in gazetteer.districts.values():
                labels.add(self._label(Level.DISTRICT, district))
            for pairs in gazetteer.subdistricts.values():
                labels.update(self._label(Level.SUBDISTRICT, name) for name, _ in pairs)
        return labels

    def _label(self, level: Level, name: str) -> str:
        return self.offices[level].get(fold(name)) or f"{self.prefixes[level]} {name}"

    def resolve(self, level: Level, place: Place, gazetteer: Gazetteer | None = None) -> str | None:
        """The office of `level` serving `place`; None when the place is not a known one."""
        key = (level, place, gazetteer)
        if key in self._resolved:
            return self._resolved[key]
        if len(self._resolved) >= _MAX_RESOLVED:
            self._resolved.clear()
        found = self._resolve(level, place, gazetteer)
        self._resolved[key] = found
        return found

    def _resolve(self, level: Level, place: Place, gazetteer: Gazetteer | None) -> str | None:
        name = place.name_at(level)
        if not name:
            return None
        if found := _lookup(self.offices[level], name):
            return found
        # A region names one of two same-named kelurahan with its kecamatan ("Wonorejo - Rungkut").
        qualified = f"{name} {place.district}" if level is Level.SUBDISTRICT else ""
        if place.district and (found := self.offices[level].get(fold(qualified))):
            return found
        if gazetteer is None:
            return None
        if level is Level.DISTRICT:
            canonical = gazetteer.district(name)
        else:
            pair = gazetteer.subdistrict(name, place.district)
            canonical = pair[0] if pair else None
        return None if canonical is None else self._label(level, canonical)


def locate(place: Place | None, text: str, gazetteer: Gazetteer | None) -> Place:
    """The channel's metadata where it has any, else place names found in the text."""
    if place is not None and (place.district or place.subdistrict):
        if place.district is None and place.subdistrict and gazetteer is not None:
            pair = gazetteer.subdistrict(place.subdistrict)
            if pair is not None:
                return Place(pair[1], place.subdistrict)
        return place
    if gazetteer is None:
        return Place()
    return gazetteer.find(text)


@dataclass(frozen=True, slots=True)
class GazetteerSummary:
    """What `inspect_gazetteer` found in a usable file."""

    districts: int
    subdistricts: int
    rows: int


def inspect_gazetteer(path: Path, *, max_problems: int = 5) -> GazetteerSummary:
    """Check a gazetteer file strictly, for `muara check-config`; `TrainingDataError` says why not.

    `Gazetteer.load` is lenient (a blank row costs nothing at run time); an operator setting up a
    region wants to know about every row that will not count, before the daemon silently skips it.
    """
    if not path.exists():
        raise TrainingDataError(f"{path}: no such file")
    if not path.is_file():
        raise TrainingDataError(f"{path}: not a file")
    problems: list[str] = []
    pairs: list[tuple[str, str]] = []
    rows = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file)
            header = next(reader, None)
            if header is None:
                raise TrainingDataError(f"{path}: empty: expected the header district,subdistrict")
            names = [name.strip().casefold() for name in header]
            if "district" not in names:
                found = ", ".join(repr(name) for name in header) or "none"
                raise TrainingDataError(
                    f"{path}: the header must name the columns district,subdistrict; found {found}"
                )
            at_district = names.index("district")
            at_sub = names.index("subdistrict") if "subdistrict" in names else None
            for line, row in enumerate(reader, 2):
                if not any(cell.strip() for cell in row):
                    continue
                rows += 1
                if len(row) != len(header):
                    problems.append(f"line {line}: {len(row)} fields, the header has {len(header)}")
                    continue
                district = row[at_district].strip()
                sub = row[at_sub].strip() if at_sub is not None else ""
                if not district:
                    problems.append(f"line {line}: no district")
                    continue
                pairs.append((district, sub))
    except UnicodeDecodeError as err:
        raise TrainingDataError(
            f"{path}: not UTF-8 text (bad byte at offset {err.start}); save it as 'CSV UTF-8'"
        ) from err
    except csv.Error as err:
        raise TrainingDataError(f"{path}: not a readable CSV: {err}") from err
    except OSError as err:
        raise TrainingDataError(f"cannot read the gazetteer {path}: {err.strerror}") from err
    if problems:
        more = len(problems) - max_problems
        listed = "; ".join(problems[:max_problems]) + (f"; and {more} more" if more > 0 else "")
        raise TrainingDataError(f"{path}: {len(problems)} unusable rows: {listed}")
    if not pairs:
        raise TrainingDataError(f"{path}: a header but no places")
    gazetteer = Gazetteer(pairs)
    subdistricts = len({(fold(d), fold(s)) for d, s in pairs if s})
    return GazetteerSummary(len(gazetteer.districts), subdistricts, rows)
