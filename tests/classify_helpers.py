"""A small fictional region for the classifier's tests: its gazetteer and labelled history.

Built from the starter examples (written for this project), never from the shared data: the
local-office examples get the offices of two made-up kecamatan and their kelurahan.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from muara.classify.location import Gazetteer, Place
from muara.classify.starter import starter_examples

# district -> its subdistricts; "Sukamaju" exists in both, as real names repeat.
REGION: dict[str, tuple[str, ...]] = {
    "Kota Lama": ("Pasar Baru", "Sukamaju", "Kebon Jeruk"),
    "Sumber Sari": ("Krajan", "Tegal Rejo", "Sukamaju"),
}
PAIRS = [(district, sub) for district, subs in REGION.items() for sub in subs]


def gazetteer() -> Gazetteer:
    """The fictional region's gazetteer."""
    return Gazetteer(PAIRS)


def write_gazetteer(path: Path) -> Path:
    """The gazetteer as the CSV a region would configure."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["district", "subdistrict"])
        writer.writerows(PAIRS)
    return path


def region_rows() -> list[tuple[str, str, Place, datetime]]:
    """(text, label, place, received_at): the starter examples as a region's history.

    Local-office examples are labelled with the office of their place ("Kelurahan Krajan",
    "Kecamatan Kota Lama"); every example has a place and a date a few hours apart.
    """
    rows = []
    start = datetime(2025, 1, 1, tzinfo=UTC)
    examples = starter_examples()
    random.Random(6).shuffle(examples)  # the starter lists agency after agency; time does not
    for n, (text, label) in enumerate(examples):
        district, sub = PAIRS[n % len(PAIRS)]
        place = Place(district, sub)
        if label == "Kelurahan":
            label = f"Kelurahan {sub}" if sub != "Sukamaju" else "Kelurahan Sukamaju - " + district
        elif label == "Kecamatan":
            label = f"Kecamatan {district}"
        rows.append((text, label, place, start + timedelta(hours=5 * n)))
    return rows


def write_history(path: Path, rows: Sequence[tuple[str, str, Place, datetime]]) -> Path:
    """Rows in Muara's own CSV layout (the `muara` preset)."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "received_at", "text", "agency", "district", "subdistrict"])
        for n, (text, label, place, when) in enumerate(rows):
            writer.writerow(
                [n, when.isoformat(), text, label, place.district or "", place.subdistrict or ""]
            )
    return path
