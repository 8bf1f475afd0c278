"""The LAPOR! filing body: pure, so every field is checked here without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from muara.exporters.lapor.payload import (
    TITLE_MAX,
    FilingInput,
    build_filing_body,
    incident_date,
    make_title,
)
from muara.exporters.settings import LaporSettings

SETTINGS = LaporSettings(
    channel_id=13,
    classification_id=6,
    category_id=436,
    location_id=34,
    user_id=5218120,
)


def _item(**changes: Any) -> FilingInput:
    values: dict[str, Any] = {
        "complaint_id": 123,
        "title": "Jalan berlubang di Jl. Merdeka",
        "content": "Jalan di depan pasar berlubang besar sejak dua minggu.",
        "institution_id": 1002,
        "is_anonymous": False,
        "is_secret": False,
        "date_of_incident": None,
        "reference": "MUARA-123",
    }
    values.update(changes)
    return FilingInput(**values)


def test_body_carries_every_field_of_the_v3_filing_call() -> None:
    body = build_filing_body(_item(), SETTINGS)

    assert body == {
        "title": "Jalan berlubang di Jl. Merdeka",
        "content": "Jalan di depan pasar berlubang besar sejak dua minggu.\n\n"
        "Nomor referensi Muara: MUARA-123",
        "channel": 13,
        "classification_id": 6,
        "category_id": 436,
        "disposition_id": 1002,
        "location_id": 34,
        "date_of_incident": None,
        "tags_raw": "#muara #MUARA-123",
        "is_anonymous": 0,
        "is_secret": 0,
        "is_priority": 0,
        "attachments": "[]",
        "info_attachments": "[]",
        "info_disposition": "-",
        "priority_program_id": None,
        "community_id": None,
        "copy_externals": None,
        "user_id": 5218120,
        "is_inbox": 1,
        "is_disposisi_slider": 1,
        "is_new_user_slider": 0,
        "is_approval": 0,
    }


def test_unset_master_ids_are_sent_as_null() -> None:
    body = build_filing_body(_item(), LaporSettings())

    assert body["category_id"] is None
    assert body["location_id"] is None
    assert body["user_id"] is None
    assert body["channel"] == 1
    assert body["classification_id"] == 2


@pytest.mark.parametrize(
    ("anonymous", "secret", "expected"),
    [(False, False, (0, 0)), (True, False, (1, 0)), (False, True, (0, 1)), (True, True, (1, 1))],
)
def test_reporter_flags_are_honoured_as_0_or_1(
    anonymous: bool, secret: bool, expected: tuple[int, int]
) -> None:
    body = build_filing_body(_item(is_anonymous=anonymous, is_secret=secret), SETTINGS)

    assert (body["is_anonymous"], body["is_secret"]) == expected


@pytest.mark.parametrize(
    ("subject", "content", "expected"),
    [
        ("Lampu jalan mati", "isi", "Lampu jalan mati"),
        ("  Lampu   jalan\n mati ", "isi", "Lampu jalan mati"),
        ("Re: Fwd: Lampu jalan mati", "isi", "Lampu jalan mati"),
        ("RE:re: Banjir", "isi", "Banjir"),
        ("", "Air PDAM tidak mengalir\nsejak kemarin.", "Air PDAM tidak mengalir sejak kemarin."),
        (None, "Sampah menumpuk", "Sampah menumpuk"),
        ("Re:", "Sampah menumpuk", "Sampah menumpuk"),
        ("   ", "Sampah menumpuk", "Sampah menumpuk"),
        ("x" * 100, "isi", "x" * 100),
        ("x" * 101, "isi", "x" * 99 + "…"),
        ("kata " * 30, "isi", ("kata " * 19).strip() + "…"),
        ("Jalan, rusak. " * 10, "isi", "Jalan, rusak. " * 6 + "Jalan, rusak…"),
    ],
)
def test_title_is_short_and_taken_from_subject_or_content(
    subject: str | None, content: str, expected: str
) -> None:
    assert make_title(subject, content) == expected


@given(st.one_of(st.none(), st.text()), st.text(), st.integers(min_value=2, max_value=200))
def test_title_is_one_bounded_line(subject: str | None, content: str, limit: int) -> None:
    title = make_title(subject, content, limit)

    assert len(title) <= limit
    assert title == title.strip()
    assert "\n" not in title
    if content.strip():
        assert title


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (None, None),
        (datetime(2025, 3, 1, 9, 30), "2025-03-01"),  # noqa: DTZ001 (naive means WIB)
        (datetime(2025, 3, 1, 16, 59, tzinfo=UTC), "2025-03-01"),
        (datetime(2025, 3, 1, 17, 0, tzinfo=UTC), "2025-03-02"),  # midnight in Jakarta
        (datetime(2025, 3, 2, 1, 0, tzinfo=timezone(timedelta(hours=9))), "2025-03-01"),
    ],
)
def test_incident_date_is_the_day_in_jakarta(when: datetime | None, expected: str | None) -> None:
    assert incident_date(when) == expected
    assert build_filing_body(_item(date_of_incident=when), SETTINGS)["date_of_incident"] == expected


def test_long_subject_is_cut_to_a_lapor_sized_title() -> None:
    body = build_filing_body(_item(title="Keluhan " * 40), SETTINGS)

    assert len(body["title"]) <= TITLE_MAX
    assert body["title"].endswith("…")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"reference": ""}, "reference"),
        ({"reference": "MUARA 123"}, "reference"),
        ({"reference": "#MUARA-123"}, "reference"),
        ({"reference": "M" * 65}, "reference"),
        ({"content": " \n "}, "content"),
        ({"institution_id": 0}, "institution_id"),
    ],
)
def test_unfileable_input_is_a_bug_not_a_request(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        build_filing_body(_item(**changes), SETTINGS)
