"""Where a complaint is and which local office serves it: gazetteer, office labels, resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from muara.classify.errors import TrainingDataError
from muara.classify.location import (
    LOCAL_OFFICE_LABEL,
    Gazetteer,
    Level,
    OfficeDirectory,
    Place,
    locate,
    parse_office,
    role_of,
)
from tests.classify_helpers import gazetteer, write_gazetteer


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Kelurahan Dukuh Setro", (Level.SUBDISTRICT, "Dukuh Setro")),
        ("Kecamatan Tambaksari", (Level.DISTRICT, "Tambaksari")),
        ("kec. Gubeng", (Level.DISTRICT, "Gubeng")),
        ("Kel Ploso", (Level.SUBDISTRICT, "Ploso")),
        ("Desa Sumbersari", (Level.SUBDISTRICT, "Sumbersari")),
        ("Kantor Kecamatan Kota", (Level.DISTRICT, "Kota")),
        ("Kelurahan Wonorejo - Rungkut", (Level.SUBDISTRICT, "Wonorejo - Rungkut")),
        ("Kelurahan", (Level.SUBDISTRICT, None)),
        ("Dinas Sosial", None),
        ("Kelurahanku", None),
        ("DPUBM", None),
        (LOCAL_OFFICE_LABEL, None),
    ],
)
def test_parse_office(label: str, expected: tuple[Level, str | None] | None) -> None:
    assert parse_office(label) == expected


def test_every_office_is_one_role() -> None:
    assert role_of("Kelurahan Ploso") == role_of("Kecamatan Gubeng") == LOCAL_OFFICE_LABEL
    assert role_of("Dinas Sosial") == "Dinas Sosial"


def test_the_gazetteer_reads_a_region_file(tmp_path: Path) -> None:
    loaded = Gazetteer.load(write_gazetteer(tmp_path / "region.csv"))
    assert len(loaded) == 6
    assert loaded.district("kota  LAMA") == "Kota Lama"
    assert loaded.district("Kotalama") == "Kota Lama"  # spaces do not tell names apart
    assert loaded.district("Kota Lamaa") == "Kota Lama"  # nor a typo
    assert loaded.district("Jakarta") is None
    assert loaded.subdistrict("krajan") == ("Krajan", "Sumber Sari")
    assert loaded.subdistrict("Sukamaju") is None, "two Sukamaju: ambiguous"
    assert loaded.subdistrict("Sukamaju", "Sumber Sari") == ("Sukamaju", "Sumber Sari")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("kecamatan,kelurahan\nA,B\n", "needs the columns district,subdistrict"),
        (None, "cannot read the gazetteer"),
    ],
)
def test_a_bad_gazetteer_file_says_why(tmp_path: Path, content: str | None, match: str) -> None:
    path = tmp_path / "g.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(TrainingDataError, match=match):
        Gazetteer.load(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("got mampet di kelurahan krajan dekat masjid", Place("Sumber Sari", "Krajan")),
        ("di tegal-rejo, kecamatan sumber sari", Place("Sumber Sari", "Tegal Rejo")),
        ("jalan di kota lama rusak", Place("Kota Lama", None)),
        ("di sukamaju kecamatan kota lama", Place("Kota Lama", "Sukamaju")),
        ("di sukamaju", Place(None, None)),  # which one?
        ("krajanan bukan tempat", Place(None, None)),  # whole words only
        ("tidak ada tempat disebut", Place(None, None)),
    ],
)
def test_place_names_in_text(text: str, expected: Place) -> None:
    assert gazetteer().find(text) == expected


def test_metadata_wins_over_the_text() -> None:
    region = gazetteer()
    text = "di kelurahan krajan"
    assert locate(Place("Kota Lama", "Pasar Baru"), text, region) == Place(
        "Kota Lama", "Pasar Baru"
    )
    assert locate(None, text, region) == Place("Sumber Sari", "Krajan")
    assert locate(Place(None, "Krajan"), "", region) == Place("Sumber Sari", "Krajan")
    assert locate(None, text, None) == Place()


def test_offices_are_learned_from_the_labels_and_completed_by_the_gazetteer() -> None:
    directory = OfficeDirectory.learn(
        ["Kel. Krajan", "Kelurahan Sukamaju - Kota Lama", "Kec. Kota Lama", "Kec. Kota Lama", "DLH"]
    )
    region = gazetteer()
    # As the history spells it (that is how LAPOR! knows the office).
    assert directory.resolve(Level.SUBDISTRICT, Place("Sumber Sari", "krajan")) == "Kel. Krajan"
    assert directory.resolve(Level.DISTRICT, Place("Kota Lama", None)) == "Kec. Kota Lama"
    assert (
        directory.resolve(Level.SUBDISTRICT, Place("Kota Lama", "Sukamaju"))
        == "Kelurahan Sukamaju - Kota Lama"
    )
    # Never seen in the history: named from the gazetteer, with the region's own prefix.
    assert directory.resolve(Level.SUBDISTRICT, Place("Kota Lama", "Pasar Baru")) is None
    assert (
        directory.resolve(Level.SUBDISTRICT, Place("Kota Lama", "Pasar Baru"), region)
        == "Kel. Pasar Baru"
    )
    assert (
        directory.resolve(Level.DISTRICT, Place("Sumber Sari", None), region) == "Kec. Sumber Sari"
    )
    # Unknown places and missing tiers resolve to nothing.
    assert directory.resolve(Level.SUBDISTRICT, Place("Atlantis", "Kota Hilang"), region) is None
    assert directory.resolve(Level.SUBDISTRICT, Place("Kota Lama", None), region) is None
    assert "Kel. Pasar Baru" in directory.known(region)
    assert "Kel. Pasar Baru" not in directory.known()


def test_the_directory_survives_the_metadata() -> None:
    directory = OfficeDirectory.learn(["Kelurahan Krajan", "Kecamatan Kota Lama"])
    again = OfficeDirectory.from_metadata(directory.to_metadata())
    assert again.offices == directory.offices
    assert again.prefixes == directory.prefixes
    assert OfficeDirectory.from_metadata(None).known() == set()
