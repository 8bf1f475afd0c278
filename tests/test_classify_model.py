"""The agency model, its persistence, and the starter model a fresh install routes with."""

from __future__ import annotations

import fractions
import json
import math
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from muara.classify import persist
from muara.classify.calibration import NEVER
from muara.classify.errors import TrainingDataError
from muara.classify.fitting import data_fingerprint, train_model
from muara.classify.location import LOCAL_OFFICE_LABEL, Place
from muara.classify.model import AgencyModel, ModelLoadError, load_model
from muara.classify.starter import (
    STARTER_AGENCIES,
    STARTER_FILENAME,
    STARTER_LOCAL_OFFICES,
    ensure_starter_model,
    starter_examples,
)
from muara.classify.text import NORMALISER_VERSION
from tests.classify_helpers import gazetteer, region_rows

# Written for these tests, in words the templates do not use; the model never saw them.
HELD_OUT = [
    ("jalan di depan rumah saya berlubang besar mohon segera diperbaiki", "DPUBM"),
    ("jembatan di desa kami mau putus, tolong diperbaiki", "DPUBM"),
    ("sampah di TPS belakang pasar sudah menggunung dan baunya kemana-mana", "DLH"),
    ("sungai dicemari limbah, airnya berbusa dan bau", "DLH"),
    ("air pdam di rumah saya mati total dari pagi", "PDAM"),
    ("pipa air bocor di depan gang, airnya terbuang", "PDAM"),
    ("traffic light di simpang empat mati, jadi semrawut", "DISHUB"),
    ("banyak parkir liar di depan minimarket", "DISHUB"),
    ("ktp elektronik saya sudah 3 bulan belum jadi", "DISPENDUK"),
    ("ngurus akta kelahiran kok lama banget ya", "DISPENDUK"),
    ("bansos pkh ibu saya tidak cair", "DINSOS"),
    ("ada odgj keliaran di dekat sekolah, meresahkan", "DINSOS"),
    ("minta fogging pak, tetangga kena demam berdarah", "DINKES"),
    ("puskesmas tutup padahal masih jam pelayanan", "DINKES"),
    ("anak saya ditolak ppdb padahal rumah dekat sekolah", "DISPENDIK"),
    ("guru di sd anak saya jarang masuk kelas", "DISPENDIK"),
    ("pkl jualan di trotoar, pejalan kaki susah lewat", "SATPOLPP"),
    ("reklame liar dipasang di tiang listrik", "SATPOLPP"),
    ("lampu jalan di gang kami mati semua, gelap sekali", "DPRKPP"),
    ("rumah nenek saya tidak layak huni, atapnya mau ambruk", "DPRKPP"),
    ("kampung kami kebanjiran lagi, air masuk rumah sepinggang", "BPBD"),
    ("longsor di lereng bukit, rumah warga tertimbun", "BPBD"),
    ("rumah tetangga terbakar, tolong kirim pemadam", "DAMKAR"),
    ("ada sarang tawon besar di pohon depan rumah", "DAMKAR"),
    ("izin usaha saya di OSS tidak kunjung terbit", "DPMPTSP"),
    ("PBG rumah sudah diajukan tapi belum ada kabar", "DPMPTSP"),
    ("tagihan pbb tahun ini mahal sekali", "BAPENDA"),
    ("sppt pbb rumah saya salah nama", "BAPENDA"),
    ("website pemkab error tidak bisa diakses", "DISKOMINFO"),
    ("wifi gratis di alun-alun tidak bisa konek", "DISKOMINFO"),
    ("gaji saya dibayar di bawah umk oleh pabrik", "DISNAKER"),
    ("thr tahun ini tidak dibayar perusahaan", "DISNAKER"),
    ("pak RT tidak mau kasih surat pengantar", LOCAL_OFFICE_LABEL),
    ("pelayanan loket kantor kecamatan sangat lambat", LOCAL_OFFICE_LABEL),
]
HELD_OUT_TEXTS = [text for text, _ in HELD_OUT]


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> AgencyModel:
    return AgencyModel.load(ensure_starter_model(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="module")
def regional() -> AgencyModel:
    """A model trained on the fictional region's history, with held-out calibration."""
    rows = region_rows()
    return train_model(
        [text for text, _, _, _ in rows],
        [label for _, label, _, _ in rows],
        places=[place for _, _, place, _ in rows],
        received_at=[when for _, _, _, when in rows],
        version="region-1",
        gazetteer=gazetteer(),
    )


# --- the starter data -------------------------------------------------------------------------


def test_starter_examples_are_deterministic_varied_and_cover_every_agency() -> None:
    examples = starter_examples()
    assert examples == starter_examples()
    assert len(examples) >= 1000
    assert len({text for text, _ in examples}) == len(examples)
    per_label = Counter(label for _, label in examples)
    assert set(per_label) == set(STARTER_AGENCIES) | set(STARTER_LOCAL_OFFICES)
    assert min(per_label.values()) >= 50
    words = Counter(word for text, _ in examples for word in text.lower().split())
    assert {"yg", "tdk", "ndak", "mas", "jln", "durung"} <= set(words), "informal words missing"


def test_the_starter_covers_the_agencies_of_a_kabupaten() -> None:
    names = " ".join(STARTER_AGENCIES.values()).lower()
    for duty in (
        "pekerjaan umum",
        "air minum",
        "lingkungan hidup",
        "perhubungan",
        "kependudukan",
        "pendidikan",
        "kesehatan",
        "sosial",
        "pamong praja",
        "bencana",
        "kebakaran",
        "pelayanan terpadu",  # licensing
        "pendapatan",  # revenue
        "komunikasi",
        "tenaga kerja",
        "perumahan",
    ):
        assert duty in names


def test_held_out_sentences_really_are_unseen() -> None:
    seen = {text.lower() for text, _ in starter_examples()}
    assert not seen & {text.lower() for text in HELD_OUT_TEXTS}


# --- prediction -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "agency"), HELD_OUT)
def test_starter_names_the_obvious_agency_for_unseen_complaints(
    starter: AgencyModel, text: str, agency: str
) -> None:
    assert starter.predict([text])[0].agency == agency


def test_suggestions_are_ranked_probabilities(starter: AgencyModel) -> None:
    for suggestion in starter.predict(HELD_OUT_TEXTS, top_k=3):
        probs = [p for _, p in suggestion.top]
        assert len(suggestion.top) == 3
        assert 0 < suggestion.confidence <= 1
        assert (suggestion.agency, suggestion.confidence) == suggestion.top[0]
        assert probs == sorted(probs, reverse=True)
        assert sum(probs) <= 1 + 1e-9
        assert len({label for label, _ in suggestion.top}) == 3
        assert suggestion.model_version == starter.version


def test_top_k_beyond_the_labels_gives_every_label(starter: AgencyModel) -> None:
    [suggestion] = starter.predict(["air mati"], top_k=50)
    assert {label for label, _ in suggestion.top} == set(starter.labels)
    assert sum(p for _, p in suggestion.top) <= 1 + 1e-9
    # Before calibration the role probabilities are a distribution.
    scored = starter.score(["air mati"])
    [raw] = starter.suggester().suggest(scored, 50, calibrated=False)
    assert math.isclose(sum(p for _, p in raw.top), 1.0)


def test_a_batch_predicts_the_same_as_one_by_one(starter: AgencyModel) -> None:
    batch = starter.predict(HELD_OUT_TEXTS)
    single = [starter.predict([text])[0] for text in HELD_OUT_TEXTS]
    assert [s.agency for s in batch] == [s.agency for s in single]
    for one, other in zip(batch, single, strict=True):
        assert [label for label, _ in one.top] == [label for label, _ in other.top]
        assert [p for _, p in one.top] == pytest.approx([p for _, p in other.top])


def test_odd_input_still_gets_a_suggestion(starter: AgencyModel) -> None:
    suggestions = starter.predict(["", "   ", "!!!", "🙏", "NIK 3201012345670001"])
    assert len(suggestions) == 5
    assert all(s.agency in starter.labels for s in suggestions)


def test_predict_rejects_misuse(starter: AgencyModel) -> None:
    assert starter.predict([]) == []
    with pytest.raises(TypeError):
        starter.predict("jalan rusak")
    with pytest.raises(ValueError, match="top_k"):
        starter.predict(["jalan rusak"], top_k=0)
    with pytest.raises(ValueError, match="2 texts but 1 places"):
        starter.predict(["a", "b"], places=[None])


def test_the_starter_has_no_per_agency_thresholds(starter: AgencyModel) -> None:
    # Synthetic precision says nothing about a region: the router's global threshold applies.
    assert starter.thresholds(0.95) is None
    assert starter.metadata["evaluation"]["held_out"]["scheme"].startswith("by group")


# --- the local-office role --------------------------------------------------------------------

RT_COMPLAINT = "ketua rt di kampung kami minta uang untuk surat pengantar, mohon lurah menegur"


def test_the_role_resolves_to_the_office_of_the_place(regional: AgencyModel) -> None:
    place = Place("Kota Lama", "Pasar Baru")
    [found] = regional.predict([RT_COMPLAINT], top_k=30, places=[place])
    assert found.agency == "Kelurahan Pasar Baru"
    labels = [label for label, _ in found.top]
    assert "Kecamatan Kota Lama" in labels, "the other tier is ranked too"
    assert LOCAL_OFFICE_LABEL not in labels


def test_a_kelurahan_named_with_its_kecamatan_is_found(regional: AgencyModel) -> None:
    [found] = regional.predict([RT_COMPLAINT], places=[Place("Kota Lama", "Sukamaju")])
    assert found.agency == "Kelurahan Sukamaju - Kota Lama"


def test_without_a_location_the_role_goes_to_review(regional: AgencyModel) -> None:
    [found] = regional.predict([RT_COMPLAINT])
    assert found.agency == LOCAL_OFFICE_LABEL


def test_place_names_in_the_text_are_found_with_a_gazetteer(regional: AgencyModel) -> None:
    text = RT_COMPLAINT + " di kelurahan tegal rejo"
    assert regional.predict([text])[0].agency == "Kelurahan Tegal Rejo"
    without = regional.with_gazetteer(None)
    assert without.predict([text])[0].agency == LOCAL_OFFICE_LABEL
    # An ambiguous name (two Sukamaju) is not guessed.
    assert regional.predict([RT_COMPLAINT + " di sukamaju"])[0].agency == LOCAL_OFFICE_LABEL


def test_an_unknown_place_is_not_invented(regional: AgencyModel) -> None:
    [found] = regional.predict([RT_COMPLAINT], places=[Place("Atlantis", "Kota Hilang")])
    assert found.agency == LOCAL_OFFICE_LABEL


def test_agencies_ignore_the_place(regional: AgencyModel) -> None:
    texts = ["air pdam mati total dari pagi"] * 2
    found = regional.predict(texts, places=[Place("Kota Lama", "Krajan"), None])
    assert [s.agency for s in found] == ["PDAM", "PDAM"]


# --- honest confidence ------------------------------------------------------------------------


def test_thresholds_cover_every_label_and_office(regional: AgencyModel) -> None:
    thresholds = regional.thresholds(0.95)
    assert thresholds is not None
    agencies = set(regional.labels) - {LOCAL_OFFICE_LABEL}
    assert agencies <= set(thresholds)
    assert {"Kelurahan Pasar Baru", "Kecamatan Sumber Sari"} <= set(thresholds)
    assert all(0 <= t <= 1 or t == NEVER for t in thresholds.values())
    # A stricter target never lowers a threshold.
    stricter = regional.thresholds(0.99)
    assert stricter is not None
    assert all(stricter[label] >= thresholds[label] for label in thresholds)
    # An untabled target takes the next stricter one.
    assert regional.thresholds(0.93) == thresholds


def test_held_out_figures_are_recorded(regional: AgencyModel) -> None:
    held = regional.metadata["evaluation"]["held_out"]
    assert held["scheme"] == "time-ordered, 3 folds"
    assert held["n"] == len(region_rows())
    assert 0.5 < held["accuracy"] <= 1
    assert set(held["coverage_at_precision"]) == {"0.9", "0.95", "0.98"}
    assert regional.metadata["temperature"] > 0
    calibration = regional.metadata["calibration"]
    assert calibration["y"] == sorted(calibration["y"]), "calibration is monotone"


# --- training and metadata --------------------------------------------------------------------

TINY = (
    ["jalan berlubang", "aspal rusak", "sampah menumpuk", "bau sampah", "air mati", "pipa bocor"],
    ["DPUBM", "DPUBM", "DLH", "DLH", "PDAM", "PDAM"],
)


def test_training_records_where_the_model_came_from() -> None:
    at = datetime(2026, 11, 24, 15, 12, tzinfo=timezone(timedelta(hours=7)))
    model = train_model(*TINY, trained_at=at, evaluation={"accuracy": 0.5})
    fingerprint = data_fingerprint(*TINY)
    assert model.version == f"20261124T0812-{fingerprint[:6]}"  # the version is in UTC
    assert model.labels == ("DLH", "DPUBM", "PDAM")
    metadata = model.metadata
    assert metadata["trained_at"] == at.isoformat()
    assert metadata["n_examples"] == 6
    assert metadata["data_sha256"] == fingerprint
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert metadata["label_counts"] == {"DLH": 2, "DPUBM": 2, "PDAM": 2}
    # Too few to hold any out: no calibration, no thresholds, the evaluation as given.
    assert metadata["evaluation"] == {"accuracy": 0.5}
    assert metadata["thresholds"] is None
    assert metadata["normaliser_version"] == NORMALISER_VERSION
    json.dumps(metadata)  # plain data only


def test_an_explicit_version_wins_and_metadata_is_a_copy() -> None:
    model = train_model(*TINY, version="kab-sleman-v3")
    model.metadata["version"] = "changed"
    assert model.version == "kab-sleman-v3"
    assert re.fullmatch(r"\d{8}T\d{4}-[0-9a-f]{6}", train_model(*TINY).version)


def test_the_fingerprint_ignores_order_but_not_content() -> None:
    texts, labels = TINY
    assert data_fingerprint(texts[::-1], labels[::-1]) == data_fingerprint(texts, labels)
    assert data_fingerprint(texts, labels[::-1]) != data_fingerprint(texts, labels)


def test_training_refuses_what_cannot_make_a_model() -> None:
    with pytest.raises(TrainingDataError, match="at least 2 labels"):
        train_model(["jalan rusak", "aspal"], ["DPUBM", "DPUBM"])
    with pytest.raises(TrainingDataError, match="at least 2 labels"):
        # Two offices are one role: nothing to tell apart.
        train_model(["rt ribut", "lurah absen"], ["Kelurahan Krajan", "Kelurahan Tegal Rejo"])
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        train_model(["jalan rusak", "aspal"], ["DPUBM"])
    with pytest.raises(ValueError, match="timezone"):
        train_model(*TINY, trained_at=datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_two_labels_are_enough() -> None:
    model = train_model(["jalan rusak", "aspal", "sampah", "bau"], ["A", "A", "B", "B"])
    [found] = model.predict(["sampah bau"], top_k=5)
    assert found.agency == "B"
    assert len(found.top) == 2


# --- persistence ------------------------------------------------------------------------------


def test_save_and_load_give_identical_predictions(regional: AgencyModel, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "model.skops"
    regional.save(path)
    loaded = load_model(path).with_gazetteer(regional.gazetteer)
    assert loaded.version == regional.version
    assert loaded.labels == regional.labels
    assert loaded.metadata == regional.metadata
    places = [Place("Kota Lama", "Krajan")] * len(HELD_OUT_TEXTS)
    assert loaded.predict(HELD_OUT_TEXTS, places=places) == regional.predict(
        HELD_OUT_TEXTS, places=places
    )
    assert [p.name for p in path.parent.iterdir()] == ["model.skops"], "a temp file was left"


def test_bytes_round_trip_like_a_file(regional: AgencyModel) -> None:
    again = AgencyModel.from_bytes(regional.to_bytes(), "registry:region-1")
    assert again.predict(HELD_OUT_TEXTS) == regional.with_gazetteer(None).predict(HELD_OUT_TEXTS)
    with pytest.raises(ModelLoadError, match="registry:broken"):
        AgencyModel.from_bytes(b"not a model", "registry:broken")


def test_loading_a_model_from_an_older_normaliser_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = train_model(*TINY, version="old")
    stale = AgencyModel(model._pipeline, {**model.metadata, "normaliser_version": 0})
    stale.save(tmp_path / "old.skops")
    AgencyModel.load(tmp_path / "old.skops")
    assert "model old was trained with text normaliser v0" in caplog.text


def test_saving_over_a_model_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    train_model(*TINY, version="one").save(path)
    train_model(*TINY, version="two").save(path)
    assert AgencyModel.load(path).version == "two"


def _dump(path: Path, obj: object) -> Path:
    sio.dump(obj, path)
    return path


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not a skops model file"),
        (b"this is not a model at all", "not a skops model file"),
        (b"PK\x03\x04 truncated zip", "not a skops model file"),
    ],
)
def test_loading_garbage_names_the_file(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=reason) as caught:
        AgencyModel.load(path)
    assert str(path) in str(caught.value)
    assert caught.value.path == path


def test_loading_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such file") as caught:
        AgencyModel.load(tmp_path / "absent.skops")
    assert "absent.skops" in str(caught.value)
    with pytest.raises(ModelLoadError, match="not a file"):
        AgencyModel.load(tmp_path)


def test_a_foreign_skops_file_is_not_taken_for_a_model(tmp_path: Path) -> None:
    path = _dump(tmp_path / "other.skops", LogisticRegression())
    with pytest.raises(ModelLoadError, match="not a Muara agency model"):
        AgencyModel.load(path)


def test_untrusted_types_are_refused_before_anything_is_built(tmp_path: Path) -> None:
    payload = {
        "format": persist.FORMAT,
        "format_version": persist.FORMAT_VERSION,
        "metadata": "{}",
        "pipeline": fractions.Fraction(1, 3),
    }
    path = _dump(tmp_path / "evil.skops", payload)
    with pytest.raises(ModelLoadError, match=r"untrusted types: fractions\.Fraction"):
        AgencyModel.load(path)


def test_a_model_from_another_format_version_is_refused(tmp_path: Path) -> None:
    path = _dump(tmp_path / "future.skops", {"format": persist.FORMAT, "format_version": 1})
    with pytest.raises(ModelLoadError, match="format version 1 is not 2"):
        AgencyModel.load(path)


def test_a_level_model_of_another_kind_is_refused(tmp_path: Path) -> None:
    model = train_model(*TINY, version="x")
    payload = {
        "format": persist.FORMAT,
        "format_version": persist.FORMAT_VERSION,
        "metadata": json.dumps(model.metadata),
        "pipeline": model._pipeline,
        "level": model._pipeline,
    }
    with pytest.raises(ModelLoadError, match="level model"):
        AgencyModel.load(_dump(tmp_path / "odd.skops", payload))


# --- the starter model on disk ----------------------------------------------------------------


def test_ensure_starter_model_trains_once_the_same_everywhere_then_reuses(
    starter: AgencyModel, tmp_path: Path
) -> None:
    path = ensure_starter_model(tmp_path)
    assert path == tmp_path / STARTER_FILENAME
    model = AgencyModel.load(path)
    # Trained apart from the module's starter (another folder, as on another machine).
    assert model.version == starter.version
    assert model.predict(HELD_OUT_TEXTS) == starter.predict(HELD_OUT_TEXTS)
    assert model.version.startswith("starter-")
    assert model.metadata["source"] == "starter"
    assert set(model.labels) == set(STARTER_AGENCIES) | {LOCAL_OFFICE_LABEL}
    written = path.stat().st_mtime_ns
    assert ensure_starter_model(tmp_path) == path
    assert path.stat().st_mtime_ns == written, "reused, not retrained"


def test_ensure_starter_model_replaces_a_damaged_file(tmp_path: Path) -> None:
    (tmp_path / STARTER_FILENAME).write_bytes(b"half a file")
    path = ensure_starter_model(tmp_path)
    assert AgencyModel.load(path).predict(HELD_OUT_TEXTS[:1])[0].agency == "DPUBM"
