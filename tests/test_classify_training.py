"""Training from an office's CSV: cleaning, rare labels, evaluation, errors worth acting on."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from muara.classify.errors import TrainingDataError
from muara.classify.model import REVIEW_LABEL, AgencyModel
from muara.classify.starter import starter_examples
from muara.classify.training import TrainReport, merge_rare_labels, train_from_csv

RARE = [
    ("banjir bandang menerjang rumah warga", "BPBD"),
    ("tanah longsor menutup akses desa", "BPBD"),
    ("wifi gratis di taman kota tidak bisa dipakai", "DISKOMINFO"),
    ("website kabupaten tidak bisa dibuka", "DISKOMINFO"),
    ("aplikasi layanan publik error terus", "DISKOMINFO"),
]


def _rows(per_agency: int) -> list[tuple[str, str]]:
    taken: Counter[str] = Counter()
    rows = []
    for text, label in starter_examples():
        if taken[label] < per_agency:
            taken[label] += 1
            rows.append((text, label))
    return rows


def _write(
    path: Path,
    header: list[str],
    rows: Sequence[tuple[str, ...]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def data_csv(tmp_path: Path) -> Path:
    rows: list[tuple[str, ...]] = [(text, label, "2024-01-01") for text, label in _rows(25)]
    rows += [(text, label, "2024-01-02") for text, label in RARE]
    rows += [("", "DLH", "2024-01-03"), ("   ", "PDAM", "2024-01-03"), ("jalan rusak", "", "")]
    rows.append(())  # a blank line is not a skipped row
    return _write(tmp_path / "aduan.csv", ["isi_aduan", "opd", "tanggal"], rows)


def test_train_from_csv_trains_evaluates_saves_and_merges_rare_labels(
    data_csv: Path, tmp_path: Path
) -> None:
    messages: list[str] = []
    out = tmp_path / "models" / "kab.skops"
    report = train_from_csv(
        data_csv,
        text_column="isi_aduan",
        label_column="opd",
        out_path=out,
        progress=messages.append,
    )

    assert report.merged_labels == ("BPBD", "DISKOMINFO")
    assert REVIEW_LABEL in report.labels
    assert not {"BPBD", "DISKOMINFO"} & set(report.labels)
    assert report.n_examples == 250 + len(RARE)
    assert report.dropped_rows == 3
    assert report.accuracy is not None and report.macro_f1 is not None
    assert 0.7 < report.accuracy <= 1
    assert 0 < report.macro_f1 <= 1

    model = AgencyModel.load(out)
    assert model.version == report.version
    assert model.labels == report.labels
    evaluation = model.metadata["evaluation"]
    assert evaluation["accuracy"] == report.accuracy
    assert evaluation["n_test"] == 51  # 20% of 255
    assert evaluation["stratified"] is True
    assert model.metadata["label_counts"][REVIEW_LABEL] == len(RARE)
    assert model.metadata["source"] == "csv:aduan.csv"
    assert model.predict(["air pdam mati sudah seminggu"])[0].agency == "PDAM"

    said = "\n".join(messages)
    for step in ("reading", "evaluating", "training on 255 examples", f"saved to {out}"):
        assert step in said
    assert "sent to review: BPBD, DISKOMINFO" in said


def test_summary_tells_an_operator_what_happened(data_csv: Path, tmp_path: Path) -> None:
    report = train_from_csv(
        data_csv, text_column="isi_aduan", label_column="opd", out_path=tmp_path / "m.skops"
    )
    summary = report.summary()
    assert report.version in summary
    assert "BPBD, DISKOMINFO" in summary
    assert "255 examples" in summary
    assert "skipped 3 rows" in summary
    assert f"accuracy {report.accuracy:.3f}" in summary


def test_excel_style_csv_with_bom_and_semicolons(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "excel.csv",
        ["Isi Laporan", "OPD"],
        _rows(8),
        encoding="utf-8-sig",
        delimiter=";",
    )
    report = train_from_csv(
        path,
        text_column="isi laporan",  # matched regardless of case
        label_column="opd",
        out_path=tmp_path / "m.skops",
        holdout=0,
    )
    assert report.n_examples == 80
    assert report.accuracy is None and report.macro_f1 is None
    assert "not evaluated" in report.summary()


def test_a_missing_column_names_it_and_the_columns_found(data_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError) as caught:
        train_from_csv(
            data_csv, text_column="laporan", label_column="opd", out_path=tmp_path / "m.skops"
        )
    message = str(caught.value)
    assert "'laporan'" in message
    assert "'isi_aduan', 'opd', 'tanggal'" in message
    assert not (tmp_path / "m.skops").exists()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"text,label\n", "0 usable rows with 0 label"),
        (b"text,label\njalan rusak,DPUBM\naspal rusak,DPUBM\n", r"1 label\(s\) \['DPUBM'\]"),
        (b"text,label\njalan rusak,DPUBM\nair mati,PDAM\n", "fewer than 2 labels have 5"),
        (b"text,label\njalan \xff rusak,DPUBM\n", "not UTF-8"),
    ],
)
def test_unusable_files_say_what_to_fix(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(TrainingDataError, match=match) as caught:
        train_from_csv(path, text_column="text", label_column="label", out_path=tmp_path / "m")
    assert str(path) in str(caught.value)


def test_holdout_must_leave_something_to_train_on(data_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="holdout"):
        train_from_csv(
            data_csv,
            text_column="isi_aduan",
            label_column="opd",
            out_path=tmp_path / "m",
            holdout=1,
        )


def test_too_small_for_a_holdout_still_trains(tmp_path: Path) -> None:
    rows = [("jalan rusak", "DPUBM"), ("sampah numpuk", "DLH")]
    path = _write(tmp_path / "tiny.csv", ["text", "label"], rows)
    report = train_from_csv(
        path, text_column="text", label_column="label", out_path=tmp_path / "m", min_examples=1
    )
    assert report.accuracy is None
    assert report.labels == ("DLH", "DPUBM")


@pytest.mark.parametrize(
    ("labels", "min_examples", "expected", "merged"),
    [
        (["A", "A", "B"], 2, ["A", "A", REVIEW_LABEL], ["B"]),
        (["A", "B", "C", "A"], 2, ["A", REVIEW_LABEL, REVIEW_LABEL, "A"], ["B", "C"]),
        (["A", "B"], 1, ["A", "B"], []),
        # Already "route to review": never reported as merged.
        ([REVIEW_LABEL, "A", "A"], 2, [REVIEW_LABEL, "A", "A"], []),
    ],
)
def test_merge_rare_labels(
    labels: list[str], min_examples: int, expected: list[str], merged: list[str]
) -> None:
    assert merge_rare_labels(labels, min_examples) == (expected, merged)


def test_report_is_a_frozen_value() -> None:
    report = TrainReport(Path("m"), "v", 1, ("A",), (), None, None)
    with pytest.raises(AttributeError):
        report.version = "w"  # type: ignore[misc]
