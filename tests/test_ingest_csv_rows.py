"""The call-center CSV parser: every odd export a vendor can produce, as a table of cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from muara.ingest.csv_rows import (
    CONFLICTING_ROW,
    EMPTY_FILE,
    INVALID_DATE,
    INVALID_ENCODING,
    INVALID_FIELD,
    MALFORMED_ROW,
    MAX_RECORD_LINES,
    MISSING_COLUMNS,
    MISSING_FIELD,
    NOT_CSV,
    ParsedFile,
    parse_csv,
    parse_received_at,
)
from muara.ingest.settings import CsvColumns, SpoolSource

HEADER = "call_id,started_at,caller_name,caller_number,category,summary,district,subdistrict"
# Personal data of the fixtures: none of it may appear in a reason or a log line.
NAMES = ("Siti Rahayu", "Bambang Wijaya", "Dewi Lestari")
NUMBERS = ("0812-0000-1234", "0812-0000-5678", "0812-0000-9012")
SUMMARIES = ("jalan berlubang di depan sekolah", "sampah menumpuk di pasar", "air PDAM mati")
PERSONAL = (*NAMES, *NUMBERS, *SUMMARIES)
WIB = ZoneInfo("Asia/Jakarta")
DIGEST = "0123456789abcdef" * 4


def row(
    n: int,
    *,
    started_at: str = "2026-11-23 08:15",
    summary: str | None = None,
    call_id: str | None = None,
) -> str:
    """One data line in the default layout (no line ending)."""
    i = n % 3
    text = SUMMARIES[i] if summary is None else summary
    ident = f"CC-{n:04d}" if call_id is None else call_id
    return f"{ident},{started_at},{NAMES[i]},{NUMBERS[i]},jalan,{text},Tegalsari,Kedungdoro"


def csv_bytes(*lines: str | bytes, header: str = HEADER, newline: str = "\r\n") -> bytes:
    """A CSV export: the header, then each line (str as UTF-8, bytes as they are)."""
    parts = [header.encode(), *(x if isinstance(x, bytes) else x.encode() for x in lines)]
    return b"".join(part + newline.encode() for part in parts)


def source(**overrides: object) -> SpoolSource:
    values: dict[str, object] = {"name": "cc", "path": Path("/nonexistent")}
    values.update(overrides)
    return SpoolSource.model_validate(values)


def parse(data: bytes, src: SpoolSource | None = None, name: str = "export.csv") -> ParsedFile:
    return parse_csv(data, file_name=name, file_digest=DIGEST, source=src or source())


def assert_no_personal_data(text: str) -> None:
    for value in PERSONAL:
        assert value not in text


# -- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-23T08:15:00+07:00", datetime(2026, 11, 23, 8, 15, tzinfo=WIB)),
        ("2026-11-23T01:15:00Z", datetime(2026, 11, 23, 1, 15, tzinfo=UTC)),
        ("2026-11-23 08:15", datetime(2026, 11, 23, 8, 15, tzinfo=WIB)),
        ("2026-11-23T08:15:30.5", datetime(2026, 11, 23, 8, 15, 30, 500000, tzinfo=WIB)),
        ("2026-11-23", datetime(2026, 11, 23, tzinfo=WIB)),
        ("23/11/2026 08:15", datetime(2026, 11, 23, 8, 15, tzinfo=WIB)),
        ("23/11/2026 08:15:30", datetime(2026, 11, 23, 8, 15, 30, tzinfo=WIB)),
        ("3/1/2026 8:05", datetime(2026, 1, 3, 8, 5, tzinfo=WIB)),
        ("23-11-2026 08.15", datetime(2026, 11, 23, 8, 15, tzinfo=WIB)),
        ("23/11/2026", datetime(2026, 11, 23, tzinfo=WIB)),
        (
            "23/11/2026 08:15 WITA",
            datetime(2026, 11, 23, 8, 15, tzinfo=timezone(timedelta(hours=8))),
        ),
        (
            " 23/11/2026 08:15 wit ",
            datetime(2026, 11, 23, 8, 15, tzinfo=timezone(timedelta(hours=9))),
        ),
    ],
)
def test_dates_in_iso_and_indonesian_formats(value: str, expected: datetime) -> None:
    parsed = parse_received_at(value, "Asia/Jakarta")
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is not None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "kemarin",
        "31/02/2026 08:15",
        "23/13/2026 08:15",
        "11/23/2026 08:15",
        "23/11/26 08:15",
        "2026-11-23 25:00",
        "0001-01-01T00:00+07:00",
        "23/11/2026 08:15 PST",
    ],
)
def test_what_is_not_a_date(value: str) -> None:
    assert parse_received_at(value, "Asia/Jakarta") is None


def test_naive_times_are_in_the_sources_time_zone() -> None:
    parsed = parse(
        csv_bytes(row(1, started_at="23/11/2026 08:15")), source(timezone="Asia/Jayapura")
    )
    complaint, _ = parsed.rows[0]
    assert complaint.received_at.astimezone(UTC) == datetime(2026, 11, 22, 23, 15, tzinfo=UTC)


# -- good rows ------------------------------------------------------------------------------------


def test_a_good_row_becomes_a_complaint_with_its_raw_row() -> None:
    parsed = parse(csv_bytes(row(1), row(2, started_at="23/11/2026 09:30")))
    assert parsed.file_error is None and parsed.bad == []
    (first, raw1), (second, _) = parsed.rows
    assert first.channel == "callcenter"
    assert first.source_id == "CC-0001"
    assert first.received_at == datetime(2026, 11, 23, 8, 15, tzinfo=WIB)
    assert first.text == SUMMARIES[1]
    assert first.reporter.name == NAMES[1] and first.reporter.contact == NUMBERS[1]
    assert (first.district, first.subdistrict) == ("Tegalsari", "Kedungdoro")
    assert first.extra == {"category": "jalan", "spool_file": "export.csv", "spool_row": 2}
    assert second.received_at == datetime(2026, 11, 23, 9, 30, tzinfo=WIB)
    # The raw row is a one-row CSV of its own: the header, then the row's bytes exactly.
    assert raw1.source_ref == "cc:CC-0001"
    assert raw1.content == f"{HEADER}\r\n{row(1)}\r\n".encode()
    assert raw1.content_type == "text/csv"


def test_bom_blank_lines_quotes_and_empty_optional_fields() -> None:
    data = b"\xef\xbb\xbf" + csv_bytes(
        "",
        'CC-1,2026-11-23 08:15,,,,"jalan rusak, ""parah""\nsekali",,',
        ",,,,,,,",
        newline="\n",
    )
    parsed = parse(data)
    assert parsed.bad == []
    ((complaint, raw),) = parsed.rows
    assert complaint.text == 'jalan rusak, "parah"\nsekali'
    assert complaint.reporter.name is None and complaint.reporter.contact is None
    assert complaint.district is None and "category" not in complaint.extra
    assert raw.content.startswith(HEADER.encode())  # no BOM in the raw row


def test_custom_columns_and_delimiter() -> None:
    src = source(
        delimiter=";",
        columns=CsvColumns(
            source_id="ID Panggilan",
            received_at="Waktu",
            text="Ringkasan",
            reporter_name=None,
            reporter_contact="No HP",
            category=None,
            district=None,
            subdistrict=None,
        ),
    )
    data = csv_bytes(
        "7781;23/11/2026 08:15;0812-0000-1234;lampu mati",
        header="id panggilan;waktu;No HP;Ringkasan",
    )
    ((complaint, _),) = parse(data, src).rows
    assert complaint.source_id == "7781"
    assert complaint.reporter.contact == "0812-0000-1234"
    assert complaint.extra == {"spool_file": "export.csv", "spool_row": 2}


def test_missing_optional_columns_are_reported_not_fatal() -> None:
    parsed = parse(
        csv_bytes("CC-1,2026-11-23 08:15,lampu mati", header="call_id,started_at,summary")
    )
    assert len(parsed.rows) == 1
    assert parsed.missing_optional == (
        "caller_name",
        "caller_number",
        "category",
        "district",
        "subdistrict",
    )


def test_the_same_row_twice_is_kept_for_the_store_to_answer() -> None:
    parsed = parse(csv_bytes(row(1), row(1)))
    assert [c.source_id for c, _ in parsed.rows] == ["CC-0001", "CC-0001"]


# -- bad rows -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "error_class", "reason"),
    [
        (row(1) + ",extra", MALFORMED_ROW, "export.csv: row 2: has 9 fields, the header has 8"),
        (
            "CC-1,2026-11-23 08:15,Siti Rahayu",
            MALFORMED_ROW,
            "row 2: has 3 fields, the header has 8",
        ),
        (row(1, call_id=""), MISSING_FIELD, "row 2: column 'call_id' is empty"),
        (row(1, call_id="  "), MISSING_FIELD, "row 2: column 'call_id' is empty"),
        (row(1, summary=" "), MISSING_FIELD, "row 2: column 'summary' is empty"),
        (row(1, started_at=""), MISSING_FIELD, "row 2: column 'started_at' is empty"),
        (
            row(1, started_at="kemarin sore"),
            INVALID_DATE,
            "row 2: column 'started_at' is not a date",
        ),
        (row(1, started_at="31/02/2026 10:00"), INVALID_DATE, "column 'started_at' is not a date"),
        (
            row(1).encode().replace(b"sampah", b"caf\xe9"),
            INVALID_ENCODING,
            "row 2: column 'summary' is not valid UTF-8",
        ),
        (
            row(1).replace("Bambang", "Bam\x00bang"),
            INVALID_ENCODING,
            "row 2: column 'caller_name' contains a NUL character",
        ),
        (
            row(1, call_id="9" * 256),
            INVALID_FIELD,
            "column 'call_id' is longer than 255 characters",
        ),
        (
            row(1).replace("Tegalsari", "T" * 129),
            INVALID_FIELD,
            "column 'district' is longer than 128",
        ),
    ],
)
def test_bad_rows_are_quarantined_and_the_good_ones_kept(
    line: str | bytes, error_class: str, reason: str
) -> None:
    data = csv_bytes(line, row(2), row(3, started_at="23/11/2026 10:00"))
    parsed = parse(data)
    assert parsed.file_error is None
    (bad,) = parsed.bad
    assert (bad.row, bad.error_class) == (2, error_class)
    assert reason in bad.reason
    assert bad.reason.startswith("export.csv: row 2: ")
    assert_no_personal_data(bad.reason)
    line_bytes = line if isinstance(line, bytes) else line.encode()
    assert bad.raw.content == HEADER.encode() + b"\r\n" + line_bytes + b"\r\n"
    assert bad.raw.source_ref == f"cc:{DIGEST[:16]}:row2"
    assert [c.source_id for c, _ in parsed.rows] == ["CC-0002", "CC-0003"]


def test_windows_1252_row_keeps_its_bytes_and_spares_the_others() -> None:
    data = csv_bytes(row(1), row(2, summary="warung caf\xe9 buang sampah").encode("cp1252"), row(3))
    parsed = parse(data)
    (bad,) = parsed.bad
    assert bad.error_class == INVALID_ENCODING and bad.row == 3
    assert b"caf\xe9" in bad.raw.content
    assert [c.source_id for c, _ in parsed.rows] == ["CC-0001", "CC-0003"]


def test_a_conflicting_second_row_with_the_same_call_id_is_quarantined() -> None:
    parsed = parse(csv_bytes(row(1), row(2, call_id="CC-0001")))
    (bad,) = parsed.bad
    assert bad.error_class == CONFLICTING_ROW
    assert bad.reason == (
        "export.csv: row 3: the value of column 'call_id' is already used by row 2 "
        "with different content"
    )


def test_an_unclosed_quote_costs_one_line_not_the_rest_of_the_file() -> None:
    broken = 'CC-9,2026-11-23 08:15,Siti Rahayu,0812-0000-1234,jalan,"jalan rusak,Tegalsari,'
    parsed = parse(csv_bytes(row(1), broken, row(2), row(3)))
    (bad,) = parsed.bad
    assert (bad.row, bad.error_class) == (3, MALFORMED_ROW)
    assert "quoted field runs on past this line" in bad.reason
    assert bad.raw.content.endswith(broken.encode() + b"\r\n")
    assert [c.source_id for c, _ in parsed.rows] == ["CC-0001", "CC-0002", "CC-0003"]


def test_a_quote_that_never_closes_is_cut_off_after_max_record_lines() -> None:
    lines = ['CC-9,2026-11-23 08:15,,,,"no end'] + ["lanjutan"] * (MAX_RECORD_LINES + 5)
    parsed = parse(csv_bytes(*lines, row(1)))
    assert parsed.bad[0].row == 2
    assert f"row 2: has a quoted field not closed within {MAX_RECORD_LINES}" in parsed.bad[0].reason
    # Every other line is a bad row of its own; the good row at the end is still read.
    assert len(parsed.bad) == len(lines)
    assert [c.source_id for c, _ in parsed.rows] == ["CC-0001"]


def test_multiline_rows_are_numbered_by_the_line_they_start_on() -> None:
    parsed = parse(csv_bytes('CC-1,2026-11-23 08:15,,,,"dua\nbaris",,', row(2, call_id="")))
    assert parsed.bad[0].row == 4


def test_bad_row_refs_are_stable_for_the_same_file() -> None:
    data = csv_bytes(row(1, started_at="x"), row(2))
    first, again = parse(data), parse(data)
    assert [b.raw.source_ref for b in first.bad] == [b.raw.source_ref for b in again.bad]
    other = parse_csv(data, file_name="export.csv", file_digest="f" * 64, source=source())
    assert other.bad[0].raw.source_ref != first.bad[0].raw.source_ref


# -- whole-file errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error_class", "reason"),
    [
        (b"", EMPTY_FILE, "export.csv: the file is empty"),
        (b"\xef\xbb\xbf \r\n", EMPTY_FILE, "export.csv: the file is empty"),
        (b",,,\r\n\r\n,,\r\n", EMPTY_FILE, "export.csv: the file holds only blank lines"),
        (bytes(range(256)) * 8, NOT_CSV, "export.csv: the file is not CSV text (binary content)"),
        (b"PK\x03\x04\x14\x00\x06\x00", NOT_CSV, "not CSV text"),
        ("call_id,summary\n".encode("utf-16"), NOT_CSV, "UTF-16 encoded; export it as UTF-8"),
        (b"\x1b\x02\x03\x04\x05abc\x06\x07\x08\x0e\x0f", NOT_CSV, "not CSV text"),
        (
            csv_bytes(header="id,waktu,caller_name,summary"),
            MISSING_COLUMNS,
            "export.csv: the header lacks the column(s) 'call_id', 'started_at'; "
            "found columns: 'id', 'waktu', 'caller_name', 'summary'",
        ),
        (
            csv_bytes(header=HEADER.replace(",", ";")),
            MISSING_COLUMNS,
            "the header seems to use ';' as its delimiter: "
            "set delimiter = ';' for spool source 'cc'",
        ),
        (
            csv_bytes(row(2), header=row(1)),
            MISSING_COLUMNS,
            "none of the 8 field(s) on the first line is an expected column "
            "(is the header missing, or is the delimiter not ','?)",
        ),
        (
            csv_bytes(header=HEADER + ",summary"),
            MISSING_COLUMNS,
            "export.csv: column 'summary' appears 2 times in the header",
        ),
        (
            b'"call_id,started_at\n' + b"x\n" * (MAX_RECORD_LINES + 1),
            NOT_CSV,
            f"export.csv: the header line has a quoted field not closed within {MAX_RECORD_LINES}",
        ),
    ],
)
def test_whole_file_errors(data: bytes, error_class: str, reason: str) -> None:
    parsed = parse(data)
    assert parsed.file_error_class == error_class
    assert parsed.file_error is not None and reason in parsed.file_error
    assert parsed.rows == [] and parsed.bad == []
    assert_no_personal_data(parsed.file_error)


def test_a_header_only_file_is_fine_and_empty() -> None:
    parsed = parse(csv_bytes())
    assert parsed.file_error is None and parsed.rows == [] and parsed.bad == []


def test_an_unknown_time_zone_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        parse(csv_bytes(row(1)), source(timezone="Asia/Atlantis"))


# -- properties -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_csv_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    parsed = parse(data)
    assert (parsed.file_error is None) or (parsed.rows == [] and parsed.bad == [])


_piece = st.sampled_from(
    [
        '"',
        ",",
        "\n",
        "\r\n",
        "\r",
        " ",
        "CC-1",
        "CC-2",
        "2026-11-23 08:15",
        "23/11/2026 08:15",
        "jalan",
        "x",
        "\x00",
        "é",
    ]
)
_line = st.one_of(
    st.lists(_piece, max_size=12).map("".join).map(str.encode),
    st.binary(max_size=20),
    st.builds(lambda n: row(n).encode(), st.integers(0, 5)),
)


def _blank(line: bytes) -> bool:
    """Only delimiters, quotes and white space: what a skipped blank record is made of."""
    text = line.decode("utf-8", "surrogateescape")
    return not text.replace(",", "").replace('"', "").strip()


@settings(max_examples=300, deadline=None)
@given(st.lists(_line, max_size=15))
def test_every_line_is_kept_once_or_is_blank(lines: list[bytes]) -> None:
    """Nothing lost, nothing doubled: each line lands in exactly one complaint or bad row."""
    data = csv_bytes(*lines, newline="\n")
    parsed = parse(data)
    assume(parsed.file_error_class != NOT_CSV)  # mostly random bytes: not this test's subject
    assert parsed.file_error is None
    body = data.splitlines(keepends=True)[1:]
    covered = [0] * len(body)
    parts = [(c.extra["spool_row"], raw.content) for c, raw in parsed.rows]
    parts += [(bad.row, bad.raw.content) for bad in parsed.bad]
    header = HEADER.encode() + b"\n"
    for number, content in parts:
        assert content.startswith(header)
        own = content[len(header) :].splitlines(keepends=True)
        assert own == body[number - 2 : number - 2 + len(own)]
        for i in range(number - 2, number - 2 + len(own)):
            covered[i] += 1
    assert all(n <= 1 for n in covered)
    for line, n in zip(body, covered, strict=True):
        assert n == 1 or _blank(line)


def test_the_demo_export_parses_cleanly() -> None:
    data = (resources.files("muara.demo") / "callcenter-sample.csv").read_bytes()
    parsed = parse(data, name="callcenter-sample.csv")
    assert parsed.file_error is None and parsed.bad == [] and parsed.missing_optional == ()
    assert len(parsed.rows) == 31
    assert all(
        c.reporter.contact and c.reporter.contact.startswith("0812-0000-") for c, _ in parsed.rows
    )
