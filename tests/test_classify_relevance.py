"""The relevance filter for X posts: a table of real-looking posts and what each one is."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from muara.classify.relevance import Kind, judge

CASES = [
    # Complaints, including the ones that sound like something else.
    (
        "@PemkotSby jalan di depan SDN Kandangan berlubang besar, tolong segera ditambal",
        Kind.COMPLAINT,
    ),
    ("Min, sampah di TPS pasar Genteng udah 4 hari gak diangkut #LaporGub", Kind.COMPLAINT),
    ("air PDAM ga ngalir dari semalam di Manukan, warga mau mandi gimana", Kind.COMPLAINT),
    (
        "Mantap, lampu jalan di gang kami mati 2 minggu dan belum ada yang benerin 👍",
        Kind.COMPLAINT,
    ),
    ("Terima kasih pak, tapi got di RW 5 masih mampet dan bau", Kind.COMPLAINT),
    ("pelayanan di kelurahan kurang ramah dan antreannya panjang", Kind.COMPLAINT),
    ("kebersihan taman kota kurang bersih, banyak plastik", Kind.COMPLAINT),
    ("Kenapa KTP-el saya belum jadi padahal sudah 3 bulan?", Kind.COMPLAINT),
    ("tolong berantas judi online di kampung kami, anak muda pada kecanduan", Kind.COMPLAINT),
    ("ada pungli parkir di depan RSUD, 10rb sekali parkir #JalanRusak", Kind.COMPLAINT),
    ("#BanjirLagi di Rungkut, airnya sampai lutut", Kind.COMPLAINT),
    ("PJU padam di jembatan, gelap gulita https://t.co/abc123", Kind.COMPLAINT),
    # Praise.
    ("Terima kasih @PemkotSby, jalan depan rumah sudah mulus sekarang 🙏", Kind.PRAISE),
    ("Mantul, pelayanan dukcapil cepat tanggap! Salut buat petugasnya", Kind.PRAISE),
    ("Pelayanannya tidak mengecewakan, makasih min", Kind.PRAISE),
    ("gak macet lagi sejak lampu lalu lintas diganti, keren", Kind.PRAISE),
    ("👏👏👏 #LaporGub", Kind.PRAISE),
    # Spam.
    ("SLOT GACOR hari ini maxwin!!! cek bio @PemkotSby", Kind.SPAM),
    ("Promo diskon 50% follow dan cek bio ya kak https://bit.ly/xyz", Kind.SPAM),
    ("Bonus new member 100% depo 25rb langsung jp https://wa.me/6281200000000", Kind.SPAM),
    ("giveaway followers gratis, mention 3 teman @PemkotSby", Kind.SPAM),
    # Chatter.
    ("Selamat pagi min @PemkotSby", Kind.CHATTER),
    ("@PemkotSby @BuRisma hadir", Kind.CHATTER),
    ("Kantor dukcapil buka jam berapa ya hari Sabtu?", Kind.CHATTER),
    ("#LaporGub", Kind.CHATTER),
    ("", Kind.CHATTER),
    ("https://t.co/abc123", Kind.CHATTER),
]


@pytest.mark.parametrize(("text", "kind"), CASES)
def test_what_a_post_is(text: str, kind: Kind) -> None:
    assert judge(text).kind is kind


@pytest.mark.parametrize(
    ("kind", "relevant", "reason"),
    [
        (Kind.COMPLAINT, True, None),
        (Kind.PRAISE, False, "not a complaint: praise"),
        (Kind.SPAM, False, "not a complaint: spam"),
        (Kind.CHATTER, False, "not a complaint: chatter (no complaint words)"),
    ],
)
def test_discard_reasons(kind: Kind, relevant: bool, reason: str | None) -> None:
    verdict = next(judge(text) for text, k in CASES if k is kind)
    assert (verdict.relevant, verdict.discard_reason) == (relevant, reason)


@given(st.text())
def test_any_text_gets_a_verdict(text: str) -> None:
    assert judge(text).kind in set(Kind)
