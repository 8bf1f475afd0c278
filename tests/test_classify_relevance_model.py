"""The trained relevance filter: the seed set, the bundled model, `muara train-relevance`, and the
X collector deciding with it (real tweepy over HTTPS to the loopback X API stand-in)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.classify.errors import ModelLoadError, TrainingDataError
from muara.classify.relevance import Kind
from muara.classify.relevance_model import (
    SEED_FILENAME,
    TRAINED_FILENAME,
    RelevanceFilter,
    RelevanceModel,
    bundled_filter,
    open_relevance,
    relevance_text,
    train_relevance,
)
from muara.classify.relevance_seed import RELEVANCE_LABELS, seed_posts
from muara.classify.starter import ensure_starter_model
from muara.classify.text import mask_personal_data
from muara.cli import main
from muara.config import Settings
from muara.ingest.base import PollReport
from muara.ingest.x.collector import XCollector
from muara.store.repository import Store
from muara.store.tables import complaints
from muara.testing import FakeClock
from tests.x_api import Tweet, XServer, x_api, x_ca

__all__ = ["x_api", "x_ca"]  # fixtures

# Posts written for this test, none of them in the seed set: what the bundled model must know.
FRESH = [
    (
        "@PemkotContoh saluran di gang Dahlia mampet, kalau hujan air masuk rumah warga",
        Kind.COMPLAINT,
    ),
    ("lampu merah di simpang lima mati dari pagi, macet parah #SuaraWarga", Kind.COMPLAINT),
    ("sudah 5 hari sampah di RT kami tidak diangkut, bau sekali", Kind.COMPLAINT),
    ("anak saya belum dapat KIP padahal sudah daftar 2 kali", Kind.COMPLAINT),
    ("makasih min tapi jalan di depan pasar masih berlubang", Kind.COMPLAINT),
    ("tolong tertibkan parkir liar di depan minimarket, jalan jadi sempit", Kind.COMPLAINT),
    ("terima kasih @PemkotContoh, air PDAM di rumah kami sudah lancar lagi 🙏", Kind.PRAISE),
    ("salut, petugas kebersihan sigap sekali pagi ini 👏", Kind.PRAISE),
    ("slot gacor malam ini, scatter turun terus, cek bio", Kind.SPAM),
    ("selamat siang @PemkotContoh", Kind.CHATTER),
    ("min, jadwal senam pagi di taman kota hari apa saja?", Kind.CHATTER),
    ("", Kind.CHATTER),
    ("https://t.co/zzz999 @PemkotContoh", Kind.CHATTER),
]


def _posts_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def _flood_is_chatter() -> list[tuple[str, str]]:
    """A region whose feed is full of flood *reports by the weather service* (not complaints)."""
    rows = [
        (f"pantauan banjir pos {n}: tinggi muka air {n} cm, status normal", "chatter")
        for n in range(40)
    ]
    rows += [(f"jalan rusak di gang {n}, tolong diperbaiki segera", "complaint") for n in range(40)]
    rows += [(f"terima kasih petugas, gang {n} sudah bersih", "praise") for n in range(20)]
    return rows


# -- the seed set ----------------------------------------------------------------------------------


def test_the_seed_set_is_fixed_labelled_and_free_of_personal_data() -> None:
    posts = seed_posts()
    assert posts == seed_posts()  # the same on every call (and machine: a seeded generator)
    assert {post.label for post in posts} == set(RELEVANCE_LABELS)
    assert len({post.text for post in posts}) == len(posts)
    assert len({post.group for post in posts}) > 200  # variety the held-out folds can judge
    # No phone numbers, NIK or e-mail addresses: the masker finds nothing to hide.
    assert [post.text for post in posts if mask_personal_data(post.text) != post.text] == []


def test_relevance_text_keeps_thanks_and_splits_hashtags() -> None:
    text = relevance_text("Terima kasih @PemkotContoh #JalanRusak gk diperbaiki")
    assert text == "terima kasih __akun__ # jalan rusak tidak diperbaiki"


# -- the bundled model ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "kind"), FRESH)
def test_the_bundled_model_on_posts_it_never_saw(text: str, kind: Kind) -> None:
    verdict = bundled_filter().judge(text)
    assert verdict.kind is kind, verdict
    assert verdict.complaint_probability is not None
    assert (verdict.complaint_probability >= bundled_filter().threshold) == (kind is Kind.COMPLAINT)


def test_the_bundled_model_is_evaluated_on_held_out_groups() -> None:
    held = bundled_filter().model.metadata["evaluation"]["held_out"]
    assert held["scheme"] == "by group, 5 folds"
    # The figures of a held-out split: a complaint is rarely lost, a discard is rarely wrong.
    assert held["recall"] >= 0.95
    assert held["discard_precision"] >= 0.9
    assert held["precision"] >= 0.75
    recall = [row["recall"] for row in held["by_threshold"].values()]
    assert recall == sorted(recall, reverse=True)  # a stricter threshold keeps fewer


def test_a_higher_threshold_discards_more() -> None:
    model = bundled_filter().model
    texts = [text for text, _ in FRESH] + [post.text for post in seed_posts()[::7]]
    kept = [
        sum(v.relevant for v in RelevanceFilter(model, t).judge_many(texts))
        for t in (0.05, 0.3, 0.9, 0.999)
    ]
    assert kept == sorted(kept, reverse=True) and kept[0] > kept[-1]
    probabilities = model.complaint_probability(texts)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


# -- training, saving, loading ---------------------------------------------------------------------


def test_train_save_load_round_trip(tmp_path: Path) -> None:
    rows = _flood_is_chatter()
    model = train_relevance([t for t, _ in rows], [label for _, label in rows], version="r1")
    path = tmp_path / "r.skops"
    model.save(path)
    again = RelevanceModel.load(path)
    texts = ["pantauan banjir pos 99: status normal", "jalan rusak di gang 99, tolong"]
    assert np.allclose(again.complaint_probability(texts), model.complaint_probability(texts))
    assert [v.kind for v in again.judge(texts, 0.3)] == [Kind.CHATTER, Kind.COMPLAINT]
    meta = again.metadata
    assert meta["version"] == "r1"
    assert meta["label_counts"] == {"chatter": 40, "complaint": 40, "praise": 20}
    assert meta["evaluation"]["held_out"]["scheme"] == "stratified, 5 folds"
    assert meta["calibration"]["x"]


def test_loading_refuses_what_is_not_a_relevance_model(tmp_path: Path) -> None:
    agency = ensure_starter_model(tmp_path)
    with pytest.raises(ModelLoadError, match="not a Muara relevance model"):
        RelevanceModel.load(agency)
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="not a skops model file"):
        RelevanceModel.load(junk)
    with pytest.raises(ModelLoadError, match="no such file"):
        RelevanceModel.load(tmp_path / "missing.skops")


def test_training_needs_complaints_and_something_else() -> None:
    with pytest.raises(TrainingDataError, match="'complaint' and at least one other"):
        train_relevance(["a", "b"], ["praise", "spam"])
    with pytest.raises(TrainingDataError, match="'complaint' and at least one other"):
        train_relevance(["a", "b"], ["complaint", "complaint"])


def test_open_relevance_trains_the_seed_once_and_prefers_the_regions_model(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    models = tmp_path / "models"
    first = open_relevance(settings)
    seed = models / SEED_FILENAME
    assert seed.exists() and first.threshold == 0.3
    stamp = seed.stat().st_mtime_ns
    assert open_relevance(settings).model.version == first.model.version
    assert seed.stat().st_mtime_ns == stamp  # current: not retrained
    rows = _flood_is_chatter()
    train_relevance([t for t, _ in rows], [lb for _, lb in rows], version="mine").save(
        models / TRAINED_FILENAME
    )
    assert open_relevance(settings).model.version == "mine"
    other = tmp_path / "other.skops"
    train_relevance([t for t, _ in rows], [lb for _, lb in rows], version="pinned").save(other)
    pinned = Settings.model_validate(
        {
            "data_dir": tmp_path,
            "classifier": {"relevance_model_path": other, "relevance_threshold": 0.8},
        }
    )
    chosen = open_relevance(pinned)
    assert (chosen.model.version, chosen.threshold) == ("pinned", 0.8)


# -- muara train-relevance -------------------------------------------------------------------------


def test_train_relevance_on_a_regions_posts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    posts = _posts_csv(tmp_path / "posts.csv", _flood_is_chatter())
    out = tmp_path / "relevance.skops"
    assert main(["train-relevance", "--csv", str(posts), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "complaints kept (recall)" in printed and "discards that were noise" in printed
    assert f'relevance_model_path = "{out}"' in printed
    model = RelevanceModel.load(out)
    assert model.metadata["source"] == str(posts)
    [verdict] = model.judge(["pantauan banjir pos 7: tinggi muka air 80 cm"], 0.3)
    assert verdict.kind is Kind.CHATTER


def test_train_relevance_with_the_seed_and_a_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    posts = _posts_csv(tmp_path / "posts.csv", _flood_is_chatter())
    args = ["train-relevance", "--csv", str(posts), "--with-seed", "--dry-run"]
    assert main([*args, "--threshold", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"\(\d{1},\d{3} posts\)", printed)  # the seed's thousand and the region's
    assert "p(complaint) >= 0.5" in printed
    assert not list(tmp_path.rglob("*.skops"))  # a dry run saves nothing


def test_train_relevance_says_what_is_wrong_with_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("tweet,kind\nhalo,chatter\n", encoding="utf-8")
    assert main(["train-relevance", "--csv", str(bad)]) != 0
    assert "column 'text' not found" in capsys.readouterr().err
    only = _posts_csv(tmp_path / "only.csv", [("halo", "chatter"), ("hai", "praise")])
    assert main(["train-relevance", "--csv", str(only)]) != 0
    assert "needs posts labelled 'complaint'" in capsys.readouterr().err
    assert main(["train-relevance", "--threshold", "1.5", "--dry-run"]) != 0


# -- the X collector decides with it ---------------------------------------------------------------


async def _discarded(engine: AsyncEngine) -> dict[str, str | None]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(complaints.c.source_id, complaints.c.discard_reason))
    return {str(source_id): reason for source_id, reason in rows}


async def test_the_x_collector_uses_the_configured_model_and_threshold(
    x_api: XServer, engine: AsyncEngine, store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    x_api.state.user("42", "budi_sby", "Budi Santoso")
    flood = "pantauan banjir pos 3: tinggi muka air 40 cm, status normal"
    pothole = "@PemkotContoh jalan rusak di gang Melati, tolong diperbaiki segera"
    x_api.state.post(Tweet(7001, "42", flood))
    x_api.state.post(Tweet(7002, "42", pothole))
    # The bundled model reads a flood report as a complaint; this region taught its own not to.
    assert bundled_filter().judge(flood).relevant
    rows = _flood_is_chatter()
    region = train_relevance([t for t, _ in rows], [label for _, label in rows])
    collector = XCollector(
        x_api.source(),
        engine=engine,
        clock=clock,
        relevance=lambda: RelevanceFilter(region, 0.3),
    )
    assert await collector.poll(store) == PollReport(ingested=1, discarded=1)
    assert await _discarded(engine) == {
        "7001": "not a complaint: chatter (no complaint words)",
        "7002": None,
    }
    # A threshold just above a post's probability discards it; the collector honours it.
    later = pothole.replace("Melati", "Mawar")
    x_api.state.post(Tweet(7003, "42", later))
    [p] = region.complaint_probability([later]).tolist()
    strict = XCollector(
        x_api.source(),
        engine=engine,
        clock=clock,
        relevance=lambda: RelevanceFilter(region, p + 1e-6),
    )
    assert await strict.poll(store) == PollReport(discarded=1)
    assert str((await _discarded(engine))["7003"]).startswith("not a complaint: ")
