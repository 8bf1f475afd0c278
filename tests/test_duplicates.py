"""Duplicate detection, pure: which pairs of realistic complaints are one, and which are two."""

from __future__ import annotations

from datetime import timedelta

import pytest

from muara.domain import NewComplaint
from muara.router import minhash
from muara.router.duplicates import (
    Candidate,
    DuplicateSettings,
    Fingerprint,
    KeyKind,
    MatchKind,
    best_match,
    fingerprint,
    identity_keys,
    index_keys,
    lookup_keys,
    places_conflict,
    stem,
    streets,
)
from tests.duplicate_cases import (
    GARBAGE,
    GAZETTEER,
    POTHOLE_CALL,
    POTHOLE_EMAIL,
    POTHOLE_TWEET,
    STREETLIGHT,
    flood_reports,
    report,
)

SETTINGS = DuplicateSettings()


def fp(complaint_id: int, complaint: NewComplaint, agency: str | None = None) -> Fingerprint:
    return fingerprint(
        complaint_id,
        complaint.received_at,
        complaint.text,
        contact=complaint.reporter.contact,
        district=complaint.district,
        subdistrict=complaint.subdistrict,
        agency=agency,
        gazetteer=GAZETTEER,
    )


def via(first: Fingerprint, second: Fingerprint) -> frozenset[KeyKind]:
    """How an index look-up of `second`'s keys would find `first`."""
    mine = {key.value: key.kind for key in lookup_keys(second)}
    return frozenset(mine[key.value] for key in index_keys(first) if key.value in mine)


def judge(
    first: NewComplaint, second: NewComplaint, agencies: tuple[str, str] | None = None
) -> MatchKind | None:
    a = fp(1, first, agencies[0] if agencies else None)
    b = fp(2, second, agencies[1] if agencies else None)
    found = via(a, b)
    if not found:
        return None  # the index would not even offer it as a candidate
    match = best_match(b, [Candidate(a, found, 1, a.received_at)], SETTINGS)
    return None if match is None else match.kind


FLOOD = flood_reports(6)

CASES = [
    pytest.param(
        report("e1", POTHOLE_EMAIL, contact="budi@example.com"),
        report("x1", POTHOLE_TWEET, channel="x", contact="@budi_sby", minutes=90),
        MatchKind.SAME_TEXT,
        id="same text by e-mail and X, different contacts",
    ),
    pytest.param(
        report("e1", POTHOLE_EMAIL, contact="budi@example.com"),
        report(
            "c1",
            POTHOLE_CALL,
            channel="callcenter",
            contact="+62 812 3456 7890",
            minutes=300,
            district="Gayungan",
            subdistrict="Ketintang",
        ),
        MatchKind.SAME_REPORTER,
        id="call center caller is the e-mail's signature phone, other words",
    ),
    pytest.param(
        report("c1", POTHOLE_CALL, channel="callcenter", contact="0812-3456-7890"),
        report("c2", GARBAGE, channel="callcenter", contact="0812-3456-7890", minutes=60 * 20),
        None,
        id="same caller, a different problem the next day",
    ),
    pytest.param(
        report("e1", POTHOLE_EMAIL, contact="budi@example.com"),
        report("e2", STREETLIGHT, contact="ani@example.com", minutes=30),
        None,
        id="pothole and street light on the same street",
    ),
    pytest.param(
        report("x1", "jalan berlubang di Jl. Ketintang Madya, bahaya buat motor", channel="x"),
        report(
            "x2",
            "jalan berlubang di Jl. Ketintang Baru, bahaya buat motor",
            channel="x",
            minutes=10,
        ),
        None,
        id="same problem, same wording, two different streets",
    ),
    pytest.param(FLOOD[0], FLOOD[1], MatchKind.SAME_EVENT, id="two flood reports, own words"),
    pytest.param(FLOOD[2], FLOOD[4], MatchKind.SAME_EVENT, id="flood: e-mail and call center"),
    pytest.param(
        flood_reports(1, place="Ketintang")[0],
        flood_reports(1, place="Jagir", district="Wonokromo")[0],
        None,
        id="the same words about floods in two kelurahan",
    ),
    pytest.param(
        report("e1", POTHOLE_EMAIL, contact="budi@example.com"),
        report("x1", POTHOLE_TWEET, channel="x", contact="@budi_sby", minutes=60 * 24 * 10),
        None,
        id="same text ten days later",
    ),
    pytest.param(
        report("x1", "jalan rusak mohon diperbaiki", channel="x", contact="@a"),
        report("x2", "jalan rusak mohon diperbaiki", channel="x", contact="@b", minutes=5),
        None,
        id="short generic text from two people, no place",
    ),
    pytest.param(
        report("c1", GARBAGE, channel="callcenter", district="Gayungan", subdistrict="Ketintang"),
        report(
            "c2",
            "sampah menumpuk di TPS Ketintang, belum diangkut",
            channel="callcenter",
            district="Gayungan",
            subdistrict="Ketintang",
            minutes=60 * 24 * 5,
        ),
        None,
        id="same place and problem, five days apart",
    ),
    pytest.param(
        report("x1", "banjir di depan rumah sudah sepinggang", channel="x", contact="@siti"),
        report(
            "x2",
            "air makin tinggi, banjir belum surut juga",
            channel="x",
            contact="@siti",
            minutes=45,
        ),
        MatchKind.SAME_REPORTER,
        id="same @handle, the flood again in other words",
    ),
]


@pytest.mark.parametrize(("first", "second", "expected"), CASES)
def test_pairs(first: NewComplaint, second: NewComplaint, expected: MatchKind | None) -> None:
    assert judge(first, second) == expected


def test_a_flood_report_suggested_for_another_agency_still_joins_the_flood() -> None:
    # The shared problem concept (banjir) outweighs a classifier that split the flood.
    assert judge(FLOOD[0], FLOOD[1], ("BPBD", "DPUBM")) is MatchKind.SAME_EVENT


def test_shared_words_without_a_concept_need_the_same_agency() -> None:
    first = report(
        "c1",
        "pedagang kaki lima menutup trotoar depan pasar, orang terpaksa lewat tengah",
        channel="callcenter",
        district="Gayungan",
        subdistrict="Ketintang",
    )
    second = report(
        "c2",
        "trotoar dipakai pedagang kaki lima berjualan sampai malam",
        channel="callcenter",
        district="Gayungan",
        subdistrict="Ketintang",
        minutes=30,
    )
    assert judge(first, second, ("SATPOLPP", "SATPOLPP")) is MatchKind.SAME_EVENT
    assert judge(first, second, ("SATPOLPP", "DISHUB")) is None


def test_the_earliest_root_wins_and_a_duplicate_links_to_its_root() -> None:
    query = fp(10, FLOOD[3])
    early, late = fp(1, FLOOD[0]), fp(2, FLOOD[1])
    candidates = [
        Candidate(late, frozenset({KeyKind.PLACE}), 2, late.received_at),
        # #3 was itself linked to #1 earlier: a match through it names #1.
        Candidate(fp(3, FLOOD[2]), frozenset({KeyKind.PLACE}), 1, early.received_at),
    ]
    match = best_match(query, candidates, SETTINGS)
    assert match is not None
    assert (match.of_id, match.matched_id) == (1, 3)
    assert match.reason == "duplicate of #1 (via #3): same place and problem"


def test_a_complaint_is_never_its_own_duplicate() -> None:
    me = fp(1, FLOOD[0])
    assert (
        best_match(me, [Candidate(me, frozenset({KeyKind.PLACE}), 1, me.received_at)], SETTINGS)
        is None
    )


@pytest.mark.parametrize(
    ("contact", "text", "expected"),
    [
        ("0812-3456-7890", "", {"tel:6281234567890"}),
        ("+62 812 3456 7890", "", {"tel:6281234567890"}),
        ("Budi@Example.COM ", "", {"email:budi@example.com"}),
        ("@Budi_SBY", "", {"x:budi_sby"}),
        (
            None,
            "hubungi saya di 0812.3456.7890 atau budi@example.com",
            {"tel:6281234567890", "email:budi@example.com"},
        ),
        ("123", "", set()),
    ],
)
def test_identity_keys(contact: str | None, text: str, expected: set[str]) -> None:
    assert identity_keys(contact, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jalan berlubang di jalan ketintang baru no 5", {"ketintangbaru"}),
        ("lampu jalan mati di jalan . a . yani depan masjid", {"ayani"}),
        ("jalan rusak parah", set()),
        ("macet di jalan raya darmo dan jalan diponegoro", {"rayadarmo", "diponegoro"}),
    ],
)
def test_streets(text: str, expected: set[str]) -> None:
    assert set(streets(text)) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("tergenang", "genang"),
        ("genangan", "genang"),
        ("kebanjiran", "banjir"),
        ("berlubang", "lubang"),
        ("lampu", "lampu"),
        ("dia", "dia"),
    ],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


@pytest.mark.parametrize(
    ("first", "second", "conflict"),
    [
        ({"kel:ketintang"}, {"kel:jagir"}, True),
        ({"kec:gayungan"}, {"kec:wonokromo"}, True),
        ({"jl:darmo"}, {"jl:diponegoro", "kel:darmo"}, True),
        ({"kel:ketintang", "jl:ketintangbaru"}, {"kel:ketintang"}, False),
        ({"kel:ketintang"}, set(), False),
    ],
)
def test_places_conflict(first: set[str], second: set[str], conflict: bool) -> None:
    assert places_conflict(frozenset(first), frozenset(second)) is conflict


def test_signatures_are_stable_and_round_trip() -> None:
    words = {"jalan", "lubang", "ketintang", "motor"}
    sig = minhash.signature(words)
    # Stored signatures are compared with new ones: the same words, the same bytes, always.
    assert minhash.to_bytes(sig) == minhash.to_bytes(minhash.signature(sorted(words)))
    assert minhash.similarity(minhash.from_bytes(minhash.to_bytes(sig)), sig) == 1.0
    assert minhash.band_keys(minhash.signature([])) == []
    assert minhash.signature(["a"]).tobytes().hex()[:16] == "c7ba10ae264412c6"


def test_the_similarity_estimate_tracks_jaccard() -> None:
    common = {f"w{i}" for i in range(60)}
    a = common | {f"a{i}" for i in range(20)}
    b = common | {f"b{i}" for i in range(20)}
    exact = len(a & b) / len(a | b)  # 0.6
    assert abs(minhash.similarity(minhash.signature(a), minhash.signature(b)) - exact) < 0.15


def test_windows_are_settings() -> None:
    first = report("e1", POTHOLE_EMAIL, contact="budi@example.com")
    second = report("x1", POTHOLE_TWEET, channel="x", minutes=60 * 24 * 10)
    a, b = fp(1, first), fp(2, second)
    wide = DuplicateSettings(text_window=timedelta(days=14))
    assert best_match(b, [Candidate(a, via(a, b), 1, a.received_at)], wide) is not None
    assert best_match(b, [Candidate(a, via(a, b), 1, a.received_at)], SETTINGS) is None
