"""Training from an office's CSV: columns and presets, rare labels, corrections, errors worth
acting on."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from muara.classify.dataset import Example, columns_for, parse_when, read_csv
from muara.classify.errors import TrainingDataError
from muara.classify.fitting import train_model
from muara.classify.location import Place
from muara.classify.model import REVIEW_LABEL, AgencyModel
from muara.classify.starter import starter_examples
from muara.classify.training import (
    TrainReport,
    apply_corrections,
    merge_rare_labels,
    train_from_csv,
    what_changed,
)
from tests.classify_helpers import region_rows, write_history

JAKARTA = ZoneInfo("Asia/Jakarta")
RARE = [
    ("banjir bandang menerjang rumah warga", "BPBD-X"),
    ("tanah longsor menutup akses desa", "BPBD-X"),
    ("wifi gratis di taman kota tidak bisa dipakai", "KOMINFO-X"),
    ("website kabupaten tidak bisa dibuka", "KOMINFO-X"),
    ("aplikasi layanan publik error terus", "KOMINFO-X"),
]


def _rows(per_agency: int) -> list[tuple[str, str]]:
    taken: Counter[str] = Counter()
    rows = []
    for text, label in starter_examples():
        if taken[label] < per_agency and label.isupper():
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
    rows: list[tuple[str, ...]] = [(text, label, "2024-01-01") for text, label in _rows(10)]
    rows += [(text, label, "2024-01-02") for text, label in RARE]
    rows += [("", "DLH", "2024-01-03"), ("   ", "PDAM", "2024-01-03"), ("jalan rusak", "", "")]
    rows.append(())  # a blank line is not a skipped row
    return _write(tmp_path / "aduan.csv", ["isi_aduan", "opd", "tanggal"], rows)


def _train(path: Path, **options: object) -> tuple[AgencyModel, TrainReport]:
    options.setdefault("out_path", None)
    return train_from_csv(path, **options)  # type: ignore[arg-type]


def test_train_from_csv_trains_evaluates_saves_and_merges_rare_labels(
    data_csv: Path, tmp_path: Path
) -> None:
    messages: list[str] = []
    out = tmp_path / "models" / "kab.skops"
    model, report = _train(
        data_csv,
        text_column="isi_aduan",
        label_column="opd",
        out_path=out,
        progress=messages.append,
    )
    assert report.merged_labels == ("BPBD-X", "KOMINFO-X")
    assert REVIEW_LABEL in report.labels
    assert not {"BPBD-X", "KOMINFO-X"} & set(report.labels)
    assert report.n_examples == 160 + len(RARE)
    assert report.dropped_rows == 3
    assert report.accuracy is not None and report.macro_f1 is not None
    assert 0.6 < report.accuracy <= 1

    saved = AgencyModel.load(out)
    assert saved.version == report.version == model.version
    assert saved.labels == report.labels
    held = saved.metadata["evaluation"]["held_out"]
    assert held["accuracy"] == report.accuracy
    assert held["n"] == 165
    assert held["scheme"] == "shuffled, 3 folds"  # no date column named: no time order
    assert saved.metadata["label_counts"][REVIEW_LABEL] == len(RARE)
    assert saved.metadata["source"] == "csv:aduan.csv"
    assert saved.predict(["air pdam mati sudah seminggu"])[0].agency == "PDAM"

    said = "\n".join(messages)
    for step in ("reading", "held-out fold 1/3", "final model on 165 examples", f"saved to {out}"):
        assert step in said
    assert "sent to review: BPBD-X, KOMINFO-X" in said


def test_summary_tells_an_operator_what_happened(data_csv: Path) -> None:
    _, report = _train(data_csv, text_column="isi_aduan", label_column="opd")
    summary = report.summary()
    assert report.version in summary
    assert "BPBD-X, KOMINFO-X" in summary
    assert "165 examples" in summary
    assert "skipped 3 rows" in summary
    assert f"accuracy {report.accuracy:.3f}" in summary
    assert "auto-routable at 95% precision" in summary


def test_excel_style_csv_with_bom_and_semicolons(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "excel.csv",
        ["Isi Laporan", "OPD"],
        _rows(5),
        encoding="utf-8-sig",
        delimiter=";",
    )
    _, report = _train(
        path,
        text_column="isi laporan",  # matched regardless of case
        label_column="opd",
        folds=0,
    )
    assert report.n_examples == 80
    assert report.accuracy is None and report.macro_f1 is None
    assert "not evaluated" in report.summary()


def test_a_missing_column_names_it_and_the_columns_found(data_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError) as caught:
        _train(data_csv, text_column="laporan", label_column="opd", out_path=tmp_path / "m.skops")
    message = str(caught.value)
    assert "'laporan'" in message
    assert "'isi_aduan', 'opd', 'tanggal'" in message
    assert not (tmp_path / "m.skops").exists()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"text,agency\n", "0 usable rows with 0 label"),
        (b"text,agency\njalan rusak,DPUBM\naspal rusak,DPUBM\n", r"1 label\(s\) \['DPUBM'\]"),
        (b"text,agency\njalan rusak,DPUBM\nair mati,PDAM\n", "fewer than 2 labels have 5"),
        (b"text,agency\njalan \xff rusak,DPUBM\n", "not UTF-8"),
    ],
)
def test_unusable_files_say_what_to_fix(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(TrainingDataError, match=match) as caught:
        _train(path)
    assert str(path) in str(caught.value)


def test_too_small_for_held_out_figures_still_trains(tmp_path: Path) -> None:
    rows = [("jalan rusak", "DPUBM"), ("sampah numpuk", "DLH")]
    path = _write(tmp_path / "tiny.csv", ["text", "agency"], rows)
    _, report = _train(path, min_examples=1)
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
        # Offices count as one role: each seen once is still learned.
        (
            ["Kelurahan X", "Kecamatan Y", "A", "A"],
            2,
            ["Kelurahan X", "Kecamatan Y", "A", "A"],
            [],
        ),
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


# --- columns, presets, dates ------------------------------------------------------------------


def test_the_lapor_preset_reads_the_open_data_export(tmp_path: Path) -> None:
    header = [
        "No",
        "JudulLaporan",
        "IsiLaporan",
        "DisposisiInstansi",
        "TanggalLaporanMasuk",
        "Area",
    ]
    rows = [
        ("1", "Jalan rusak", "lubang besar di jalan", "Dinas PU", "2023-03-01 08:00:00", "Kota"),
        ("2", "Sampah", "sampah menumpuk", "DLH", "01/03/2023 09:30", "Desa"),
        ("3", "", "air mati", "PDAM", "kemarin", ""),
    ]
    path = _write(tmp_path / "lapor.csv", header, rows)
    columns, required = columns_for("lapor")
    data = read_csv(path, columns, required=required)
    first, second, third = data.examples
    assert first.text == "Jalan rusak\nlubang besar di jalan"
    assert first.label == "Dinas PU"
    assert first.received_at == datetime(2023, 3, 1, 8, tzinfo=ZoneInfo("Asia/Jakarta"))
    assert first.place == Place("Kota", None)
    assert second.received_at == datetime(2023, 3, 1, 9, 30, tzinfo=ZoneInfo("Asia/Jakarta"))
    assert third.text == "air mati" and third.received_at is None and third.place is None
    assert data.undated == 1


def test_the_default_layout_uses_optional_columns_when_present(tmp_path: Path) -> None:
    path = write_history(tmp_path / "h.csv", region_rows()[:5])
    columns, required = columns_for(None)
    data = read_csv(path, columns, required=required)
    assert all(e.received_at is not None and e.place is not None for e in data.examples)
    bare = _write(tmp_path / "bare.csv", ["text", "agency"], [("air mati", "PDAM")])
    [only] = read_csv(bare, columns, required=required).examples
    assert only.received_at is None and only.place is None


def test_a_column_named_on_the_command_line_must_exist(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.csv", ["text", "agency"], [("air mati", "PDAM")])
    columns, required = columns_for(None, district="kecamatan")
    with pytest.raises(TrainingDataError, match="'kecamatan' not found"):
        read_csv(path, columns, required=required)
    with pytest.raises(TrainingDataError, match="unknown preset 'sap'"):
        columns_for("sap")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-01-01T00:29:00", datetime(2022, 1, 1, 0, 29, tzinfo=JAKARTA)),
        ("2022-01-01 00:29", datetime(2022, 1, 1, 0, 29, tzinfo=JAKARTA)),
        ("31/12/2022", datetime(2022, 12, 31, tzinfo=JAKARTA)),
        ("31-12-2022 23.15", datetime(2022, 12, 31, 23, 15, tzinfo=JAKARTA)),
        ("31/02/2022", None),
        ("besok", None),
        ("", None),
    ],
)
def test_parse_when(value: str, expected: datetime | None) -> None:
    assert parse_when(value, JAKARTA) == expected


def test_a_date_with_an_offset_keeps_it() -> None:
    found = parse_when("2022-01-01T00:00:00+00:00", ZoneInfo("Asia/Jakarta"))
    assert found == datetime(2022, 1, 1, tzinfo=UTC)


def test_dated_history_is_held_out_by_time(tmp_path: Path) -> None:
    path = write_history(tmp_path / "history.csv", region_rows())
    columns, required = columns_for("muara")
    model, report = _train(path, columns=columns, required=required)
    assert report.held_out is not None
    assert report.held_out["scheme"] == "time-ordered, 3 folds"
    # Local offices are one role, resolved from each row's place.
    assert "__LOCAL_OFFICE__" in model.labels
    assert not any(label.startswith("Kelurahan") for label in model.labels)


# --- coordinators' corrections ----------------------------------------------------------------

WHEN = datetime(2026, 1, 5, tzinfo=timezone(timedelta(hours=7)))


def test_a_correction_overrules_the_history_of_the_same_text() -> None:
    history = [
        Example("Lampu PJU mati", "DPRKPP"),
        Example("lampu  pju MATIII", "DPRKPP"),  # the same text to the model
        Example("lampu pju mati!", "DPRKPP"),  # not quite: kept
        Example("lampu lalu lintas mati", "DISHUB"),
    ]
    corrections = [Example("lampu pju mati", "DISHUB", WHEN, Place("Kota Lama", None))]
    examples, overruled = apply_corrections(history, corrections, weight=5.0)
    assert overruled == 2
    assert [e.label for e in examples] == ["DPRKPP", "DISHUB", "DISHUB"]
    assert examples[-1].weight == 5.0
    assert examples[-1].place == Place("Kota Lama", None)


def test_corrections_outweigh_the_history_they_contradict() -> None:
    texts = [text for text, _ in _rows(8)]
    labels = [label for _, label in _rows(8)]
    # History says street lights are housing (DPRKPP); coordinators keep routing them to DISHUB.
    lights = ["lampu pju di gang mati total", "pju depan rumah padam terus"]
    history = [Example(t, label) for t, label in zip(texts, labels, strict=True)]
    history += [Example(text, "DPRKPP") for text in lights * 3]
    corrections = [Example(text, "DISHUB") for text in lights]
    before = train_model([e.text for e in history], [e.label for e in history], version="before")
    examples, overruled = apply_corrections(history, corrections, weight=5.0)
    after = train_model(
        [e.text for e in examples],
        [e.label for e in examples],
        weights=[e.weight for e in examples],
        version="after",
    )
    assert overruled == 6
    probe = ["lampu pju di gang mati total"]
    assert before.predict(probe)[0].agency == "DPRKPP"
    assert after.predict(probe)[0].agency == "DISHUB"
    lines = what_changed(before, after, corrections)
    assert lines[0] == "compared with the model in use, before:"
    assert "  coordinator decisions the model agrees with: 0/2 -> 2/2" in lines
