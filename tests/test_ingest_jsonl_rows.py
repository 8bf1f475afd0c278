"""The call-center JSON Lines parser and the column presets: every odd line as a table row."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from muara.config import load_settings
from muara.ingest.call_logs import CallLogParser
from muara.ingest.jsonl_rows import JSONL_CONTENT_TYPE, NOT_JSON_LINES, parse_jsonl
from muara.ingest.rows import (
    CONFLICTING_ROW,
    EMPTY_FILE,
    INVALID_DATE,
    INVALID_ENCODING,
    INVALID_FIELD,
    MALFORMED_ROW,
    MISSING_COLUMNS,
    MISSING_FIELD,
    ParsedFile,
)
from muara.ingest.settings import CsvColumns, SpoolSource

WIB = ZoneInfo("Asia/Jakarta")
DIGEST = "fedcba9876543210" * 4
NAME, NUMBER, SUMMARY = "Siti Rahayu", "0812-0000-1234", "lampu jalan mati di gang masjid"
PERSONAL = (NAME, NUMBER, SUMMARY)


def record(n: int, **overrides: Any) -> dict[str, Any]:
    """One call in the default layout."""
    values: dict[str, Any] = {
        "call_id": f"CC-{n:04d}",
        "started_at": "2026-11-23T08:15:00+07:00",
        "caller_name": NAME,
        "caller_number": NUMBER,
        "category": "PJU",
        "summary": SUMMARY,
        "district": "Tegalsari",
        "subdistrict": "Keputran",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not ...}


def jsonl(*lines: dict[str, Any] | bytes | str) -> bytes:
    parts = [
        x if isinstance(x, bytes) else (x if isinstance(x, str) else json.dumps(x)).encode()
        for x in lines
    ]
    return b"".join(part + b"\n" for part in parts)


def source(**overrides: Any) -> SpoolSource:
    values: dict[str, Any] = {"name": "cc", "path": Path("/nonexistent")}
    values.update(overrides)
    return SpoolSource.model_validate(values)


def parse(data: bytes, src: SpoolSource | None = None) -> ParsedFile:
    return parse_jsonl(data, file_name="calls.jsonl", file_digest=DIGEST, source=src or source())


def test_a_good_line_becomes_a_complaint_with_its_raw_line() -> None:
    data = jsonl(record(1), record(2, started_at="23/11/2026 09:30", agent="Agen 07"))
    parsed = parse(data)
    assert parsed.file_error is None and parsed.bad == []
    (first, raw), (second, _) = parsed.rows
    assert first.source_id == "CC-0001"
    assert first.received_at == datetime(2026, 11, 23, 8, 15, tzinfo=WIB)
    assert (first.text, first.reporter.name, first.reporter.contact) == (SUMMARY, NAME, NUMBER)
    assert (first.district, first.subdistrict) == ("Tegalsari", "Keputran")
    assert first.extra == {"category": "PJU", "spool_file": "calls.jsonl", "spool_row": 1}
    assert raw.content == json.dumps(record(1)).encode()
    assert (raw.source_ref, raw.content_type) == ("cc:CC-0001", JSONL_CONTENT_TYPE)
    assert second.received_at == datetime(2026, 11, 23, 9, 30, tzinfo=WIB)


def test_numbers_nulls_nested_keys_epochs_and_blank_lines() -> None:
    src = source(columns=CsvColumns(source_id="id", reporter_contact="caller.number"))
    lines: list[dict[str, Any] | str] = [
        {"id": 7781, "started_at": 1795400100, "summary": "air mati", "caller": {"number": None}},
        "",
        {"id": 7782, "started_at": 1795400100000, "summary": "air keruh", "district": None},
        {"id": "7783", "started_at": "2026-11-23", "summary": "x", "caller": {"number": "0812"}},
    ]
    parsed = parse(b"\xef\xbb\xbf" + jsonl(*lines), src)
    assert parsed.bad == []
    first, second, third = (complaint for complaint, _ in parsed.rows)
    assert first.source_id == "7781" and first.reporter.contact is None
    assert first.received_at == second.received_at == datetime.fromtimestamp(1795400100, UTC)
    assert second.district is None
    assert third.reporter.contact == "0812"
    assert [c.extra["spool_row"] for c in (first, second, third)] == [1, 3, 4]


@pytest.mark.parametrize(
    ("line", "error_class", "reason"),
    [
        (b'{"call_id": "CC-9", ', MALFORMED_ROW, "row 2: is not valid JSON (Expecting"),
        (b"[1, 2]", MALFORMED_ROW, "row 2: is an array, not a JSON object"),
        (b'"just text"', MALFORMED_ROW, "row 2: is a string, not a JSON object"),
        (
            json.dumps(record(9, summary="caf\xe9")).encode().replace(b"\\u00e9", b"\xe9"),
            INVALID_ENCODING,
            "row 2: is not valid UTF-8",
        ),
        (
            json.dumps(record(9, caller_name="Si\x00ti")).encode(),
            INVALID_ENCODING,
            "row 2: column 'caller_name' contains a NUL character",
        ),
        (record(9, summary="  "), MISSING_FIELD, "row 2: column 'summary' is empty"),
        (record(9, call_id=...), MISSING_FIELD, "row 2: column 'call_id' is empty"),
        (record(9, started_at=...), MISSING_FIELD, "row 2: column 'started_at' is empty"),
        (record(9, started_at="kemarin"), INVALID_DATE, "row 2: key 'started_at' is not a date"),
        (record(9, started_at=True), INVALID_DATE, "key 'started_at' is a boolean, not a date"),
        (record(9, summary=["a"]), INVALID_FIELD, "row 2: key 'summary' is an array, not text"),
        (record(9, call_id=1.5), INVALID_FIELD, "key 'call_id' is a number with a fraction"),
        (record(9, caller_number={"a": 1}), INVALID_FIELD, "key 'caller_number' is an object"),
        (record(9, district="x" * 129), INVALID_FIELD, "column 'district' is longer than 128"),
        (record(1, summary="lain"), CONFLICTING_ROW, "already used by row 1 with different"),
    ],
)
def test_a_bad_line_is_quarantined_with_file_row_and_reason(
    line: dict[str, Any] | bytes, error_class: str, reason: str
) -> None:
    parsed = parse(jsonl(record(1), line, record(3)))
    assert [c.source_id for c, _ in parsed.rows] == ["CC-0001", "CC-0003"]
    (bad,) = parsed.bad
    assert (bad.row, bad.error_class) == (2, error_class)
    assert bad.reason.startswith("calls.jsonl: row 2: ")
    assert reason in bad.reason
    assert bad.raw.content == jsonl(line).rstrip(b"\n")
    assert bad.raw.source_ref == f"cc:{DIGEST[:16]}:row2"
    for value in PERSONAL:
        assert value not in bad.reason


def test_the_same_line_twice_is_one_complaint_not_a_conflict() -> None:
    parsed = parse(jsonl(record(1), record(1)))
    assert parsed.bad == [] and len(parsed.rows) == 2  # the store keeps the first


@pytest.mark.parametrize(
    ("data", "error_class", "reason"),
    [
        (b"", EMPTY_FILE, "calls.jsonl: the file is empty"),
        (b"\n \n", EMPTY_FILE, "calls.jsonl: the file is empty"),
        (b"\xff\xfe{\x00}\x00", NOT_JSON_LINES, "the file is UTF-16 encoded"),
        (bytes(range(256)) * 8, NOT_JSON_LINES, "the file is not JSON Lines text (binary)"),
        (b"call_id,started_at\nCC-1,2026\n", NOT_JSON_LINES, "no line of the file is a JSON"),
        (
            jsonl({"id": 1, "waktu": "2026-11-23", "summary": "x"}),
            MISSING_COLUMNS,
            "no record has the key(s) 'call_id', 'started_at'; keys found: 'id', 'summary',",
        ),
    ],
)
def test_a_file_that_is_no_call_log_is_quarantined_whole(
    data: bytes, error_class: str, reason: str
) -> None:
    parsed = parse(data)
    assert parsed.file_error_class == error_class
    assert parsed.file_error is not None and reason in parsed.file_error
    assert parsed.rows == [] and parsed.bad == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_parse_without_raising(data: bytes) -> None:
    parsed = parse(data)
    assert parsed.file_error is not None or parsed.rows or parsed.bad


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(list(record(0))), st.text()), max_size=5))
def test_any_objects_become_rows_or_bad_rows(objects: list[dict[str, str]]) -> None:
    lines = [record(0), *objects]
    parsed = parse(jsonl(*lines))
    assert parsed.file_error is None
    assert len(parsed.rows) + len(parsed.bad) == len(lines)


# -- presets --------------------------------------------------------------------------------------


def test_the_indonesian_preset_reads_a_semicolon_export() -> None:
    src = source(preset="indonesian")
    assert src.delimiter == ";"
    header = "No Tiket;Waktu Panggilan;Nama Penelepon;No Telepon;Agen;Kategori;Keterangan;"
    data = (
        f"{header}Kecamatan;Kelurahan\r\n"
        f"T-1;23/11/2026 08:15;{NAME};{NUMBER};Rina;Sampah;{SUMMARY};Bubutan;Alun-alun\r\n"
    ).encode()
    parsed = CallLogParser(src).parse(data, file_name="ekspor.csv", file_digest=DIGEST)
    ((complaint, _),) = parsed.rows
    assert complaint.source_id == "T-1"
    assert complaint.received_at == datetime(2026, 11, 23, 8, 15, tzinfo=WIB)
    assert complaint.extra["agent"] == "Rina" and complaint.extra["category"] == "Sampah"
    assert complaint.subdistrict == "Alun-alun"


def test_the_helpdesk_preset_reads_json_lines_and_explicit_columns_override_it() -> None:
    src = source(preset="helpdesk", columns={"text": "notes"})
    assert (src.columns.source_id, src.columns.text, src.delimiter) == ("ticket_id", "notes", ",")
    line = {
        "ticket_id": "HD-9",
        "created_at": "2026-11-23T01:15:00Z",
        "notes": SUMMARY,
        "contact_phone": NUMBER,
        "assignee": "agent-3",
        "village": "Keputran",
    }
    parsed = CallLogParser(src).parse(jsonl(line), file_name="t.ndjson", file_digest=DIGEST)
    ((complaint, _),) = parsed.rows
    assert (complaint.source_id, complaint.text, complaint.subdistrict) == (
        "HD-9",
        SUMMARY,
        "Keputran",
    )
    assert complaint.extra["agent"] == "agent-3"


def test_an_unknown_preset_is_a_config_error() -> None:
    with pytest.raises(Exception, match="preset"):
        load_settings(spool=[{"name": "a", "path": "/x", "preset": "avaya"}])


def test_the_parser_takes_csv_and_json_lines_files_only() -> None:
    parser = CallLogParser(source())
    assert [parser.accepts(n) for n in ("a.csv", "A.JSONL", "b.ndjson", "c.json", "d.txt")] == [
        True,
        True,
        True,
        False,
        False,
    ]
