"""Realistic complaints for the duplicate tests: the same thing by several channels, a flood."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from muara.classify.location import Gazetteer
from muara.domain import NewComplaint, Reporter

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)

GAZETTEER = Gazetteer(
    [
        ("Gayungan", "Ketintang"),
        ("Gayungan", "Gayungan"),
        ("Gayungan", "Menanggal"),
        ("Wonokromo", "Darmo"),
        ("Wonokromo", "Jagir"),
        ("Tegalsari", "Keputran"),
        ("Rungkut", "Kalirungkut"),
    ]
)

POTHOLE_EMAIL = (
    "Selamat pagi Bapak/Ibu, saya mau melaporkan jalan berlubang besar di Jl. Ketintang Baru "
    "depan kampus Unesa, sudah 2 minggu tidak diperbaiki, banyak motor jatuh. Mohon segera "
    "ditindaklanjuti. Terima kasih.\n\nBudi Santoso\nHP 0812-3456-7890"
)
POTHOLE_TWEET = (
    "@PemkotSurabaya jalan berlubang besar di Jl. Ketintang Baru depan kampus Unesa, sdh 2 "
    "minggu tdk diperbaiki, byk motor jatuh. Mohon segera ditindaklanjuti #LaporSby"
)
POTHOLE_CALL = (
    "Penelepon melaporkan lubang besar di jalan depan kampus Unesa Ketintang, "
    "sudah dua minggu, beberapa pengendara motor jatuh"
)
STREETLIGHT = "Lampu PJU di Jl. Ketintang Baru mati sudah 3 hari, gelap sekali kalau malam, rawan"
GARBAGE = "Sampah di TPS dekat pasar Ketintang tidak diangkut seminggu, bau sekali"

# How 200 people describe one flood in one kelurahan: the call center's summaries, tweets and
# e-mails, each in their own words.
_FLOOD_OPENINGS = [
    "banjir setinggi lutut di {place}",
    "{place} banjir lagi",
    "air tergenang di jalan {place}",
    "genangan air masuk rumah warga {place}",
    "tolong {place} kebanjiran",
    "banjir parah di daerah {place} sejak subuh",
    "sudah 3 jam {place} tergenang banjir",
]
_FLOOD_DETAILS = [
    "motor mogok semua",
    "air masuk ke rumah",
    "anak-anak tidak bisa sekolah",
    "saluran tidak berfungsi",
    "mohon dikirim pompa",
    "sudah setinggi paha",
    "lansia perlu dievakuasi",
    "kendaraan tidak bisa lewat",
    "",
]
FLOOD_CHANNELS = ["callcenter", "x", "email", "112"]


def flood_reports(
    n: int, place: str = "Ketintang", district: str = "Gayungan", seed: int = 7, prefix: str = "f"
) -> list[NewComplaint]:
    """`n` different people reporting the same flood within a few hours."""
    rng = random.Random(seed)
    reports = []
    for i in range(n):
        channel = FLOOD_CHANNELS[i % len(FLOOD_CHANNELS)]
        opening = rng.choice(_FLOOD_OPENINGS).format(place=place.lower())
        text = f"{opening}, {rng.choice(_FLOOD_DETAILS)}".strip(", ")
        structured = channel in {"callcenter", "112"}
        contact = {
            "callcenter": f"0813-{i:04d}-{rng.randrange(10_000):04d}",
            "112": f"0857-{i:04d}-{rng.randrange(10_000):04d}",
            "x": f"@warga_{prefix}{i}",
            "email": f"warga.{prefix}{i}@example.com",
        }[channel]
        reports.append(
            NewComplaint(
                channel=channel,
                source_id=f"{prefix}-{i}",
                received_at=T0 + timedelta(minutes=i),
                text=text,
                reporter=Reporter(name=f"Warga {i}", contact=contact),
                district=district if structured else None,
                subdistrict=place if structured else None,
            )
        )
    return reports


def report(
    source_id: str,
    text: str,
    *,
    channel: str = "email",
    contact: str | None = None,
    minutes: float = 0,
    district: str | None = None,
    subdistrict: str | None = None,
) -> NewComplaint:
    """One complaint received `minutes` after T0."""
    return NewComplaint(
        channel=channel,
        source_id=source_id,
        received_at=T0 + timedelta(minutes=minutes),
        text=text,
        reporter=Reporter(contact=contact),
        district=district,
        subdistrict=subdistrict,
    )
