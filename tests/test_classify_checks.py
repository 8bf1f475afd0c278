"""`muara check-config` on the classifier's files: the gazetteer and the relevance model."""

from __future__ import annotations

from pathlib import Path

import pytest

from muara.checks import check_gazetteer, check_relevance, run_checks
from muara.classify.location import inspect_gazetteer
from muara.classify.relevance_model import TRAINED_FILENAME, train_relevance
from muara.cli import main
from muara.config import Settings
from tests.classify_helpers import PAIRS, REGION, write_gazetteer


def _settings(tmp_path: Path, **classifier: object) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path / "data", "classifier": classifier})


def test_a_good_gazetteer_is_counted(tmp_path: Path) -> None:
    path = write_gazetteer(tmp_path / "gazetteer.csv")
    found = inspect_gazetteer(path)
    # "Sukamaju" is in both districts: two subdistricts of the same name, counted twice.
    assert (found.districts, found.subdistricts, found.rows) == (len(REGION), len(PAIRS), 6)
    result = check_gazetteer(_settings(tmp_path, gazetteer_path=path))
    assert result.ok
    assert result.detail == f"{path}: 2 districts, 6 subdistricts"


def test_a_gazetteer_with_districts_only_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "districts.csv"
    path.write_text("\ufeffDistrict\nKota Lama\nSumber Sari\n\n", encoding="utf-8")
    found = inspect_gazetteer(path)
    assert (found.districts, found.subdistricts) == (2, 0)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "no such file"),
        ("", "empty: expected the header district,subdistrict"),
        ("kecamatan,kelurahan\nKota Lama,Krajan\n", "the header must name the columns"),
        ("district,subdistrict\n", "a header but no places"),
        (
            "district,subdistrict\nKota Lama,Krajan\n,Tegal Rejo\nSumber Sari,Krajan,extra\n",
            "2 unusable rows: line 3: no district; line 4: 3 fields, the header has 2",
        ),
    ],
)
def test_a_bad_gazetteer_is_a_failed_check_saying_why(
    tmp_path: Path, content: str | None, error: str
) -> None:
    path = tmp_path / "gazetteer.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = check_gazetteer(_settings(tmp_path, gazetteer_path=path))
    assert not result.ok
    assert result.name == "classifier.gazetteer_path"
    assert error in result.detail


def test_a_gazetteer_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gazetteer.csv"
    path.write_bytes(b"district,subdistrict\nKota Lama,Pasar Baru\n\xff\xfe,x\n")
    result = check_gazetteer(_settings(tmp_path, gazetteer_path=path))
    assert not result.ok and "not UTF-8 text" in result.detail


def test_no_gazetteer_is_fine(tmp_path: Path) -> None:
    result = check_gazetteer(_settings(tmp_path))
    assert result.ok and "not set" in result.detail


def test_the_relevance_model_check(tmp_path: Path) -> None:
    assert check_relevance(_settings(tmp_path)).detail == "not set: the bundled seed model"
    trained = tmp_path / "data" / "models" / TRAINED_FILENAME
    train_relevance(["jalan rusak", "halo"] * 30, ["complaint", "chatter"] * 30, version="v9").save(
        trained
    )
    assert check_relevance(_settings(tmp_path)).detail == f"{trained}: version v9"
    broken = tmp_path / "broken.skops"
    broken.write_bytes(b"junk")
    result = check_relevance(_settings(tmp_path, relevance_model_path=broken))
    assert not result.ok and "not a skops model file" in result.detail


async def test_check_config_runs_the_gazetteer_check(tmp_path: Path) -> None:
    path = tmp_path / "gazetteer.csv"
    path.write_text("kecamatan\nKota Lama\n", encoding="utf-8")
    settings = _settings(tmp_path, gazetteer_path=path)
    results = {r.name: r for r in await run_checks(settings)}
    assert not results["classifier.gazetteer_path"].ok


def test_muara_check_config_fails_on_a_bad_gazetteer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "gazetteer.csv"
    bad.write_text("kecamatan\nKota Lama\n", encoding="utf-8")
    config = tmp_path / "muara.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[classifier]\ngazetteer_path = "{bad}"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "check-config"]) != 0
    captured = capsys.readouterr()
    assert "the header must name the columns district,subdistrict" in captured.out + captured.err
