"""112 transcripts: both formats, every way a file is wrong, the folder on the real store."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from muara.ingest.base import PollReport
from muara.ingest.rows import (
    EMPTY_FILE,
    INVALID_DATE,
    INVALID_ENCODING,
    INVALID_FIELD,
    MISSING_FIELD,
    ParsedFile,
)
from muara.ingest.settings import TranscriptSource
from muara.ingest.testing import MemorySink, SimulatedCrashError
from muara.ingest.transcript_parse import NOT_TRANSCRIPT, UNKNOWN_SPEAKER
from muara.ingest.transcripts import (
    TranscriptParser,
    caller_said_something,
    emergency_kind,
    transcript_collector,
)
from muara.store.repository import Store
from muara.testing import FakeClock
from tests.test_ingest_spool import CrashingStore, listing

SAMPLES = resources.files("muara.demo").joinpath("transcripts")
# Personal data in the samples and fixtures: never in a reason or a log line.
PERSONAL = ("Suparmi", "0812-0000-20", "Hartono", "lampu jalan", "Keputran Gg", "Bambang")


def source(root: Path = Path("/nonexistent"), **overrides: Any) -> TranscriptSource:
    values: dict[str, Any] = {"name": "cc112", "path": root, "stable_seconds": 0}
    values.update(overrides)
    return TranscriptSource.model_validate(values)


def parse(data: bytes, name: str = "call.json") -> ParsedFile:
    return TranscriptParser(source()).parse(data, file_name=name, file_digest="0" * 64)


def sample(name: str) -> bytes:
    return SAMPLES.joinpath(name).read_bytes()


def transcript(**overrides: Any) -> bytes:
    doc: dict[str, Any] = {
        "call_id": "112-T-1",
        "started_at": "2026-11-23T19:42:10+07:00",
        "caller_number": "0812-0000-2001",
        "caller_name": "Suparmi",
        "category": "Non-darurat",
        "turns": [
            {"speaker": "operator", "text": "112, ada yang bisa dibantu?"},
            {"speaker": "caller", "text": "lampu jalan mati dua minggu"},
        ],
    }
    doc.update(overrides)
    return json.dumps({k: v for k, v in doc.items() if v is not ...}).encode()


# -- the samples: one of each kind of call --------------------------------------------------------

# file → (emergency kind, discard reason prefix, district)
EXPECTED: dict[str, tuple[str | None, str | None, str | None]] = {
    "112-SBY-20261123-0001.json": (None, None, "Tegalsari"),
    "112-SBY-20261123-0002.txt": (None, None, "Bubutan"),
    "112-SBY-20261123-0003.json": (None, None, "Rungkut"),
    "112-SBY-20261123-0004.json": ("fire", None, "Sawahan"),
    "112-SBY-20261123-0005.txt": ("accident", None, "Wonokromo"),
    "112-SBY-20261123-0006.json": ("medical", None, "Gubeng"),
    "112-SBY-20261123-0007.txt": ("crime", None, "Tambaksari"),
    "112-SBY-20261123-0008.json": (None, "112: prank call (category 'Iseng')", None),
    "112-SBY-20261123-0009.txt": (None, "112: empty call (the caller said nothing)", None),
    "112-SBY-20261123-0010.json": (None, None, "Tandes"),
    "112-SBY-20261123-0011.txt": (None, None, "Mulyorejo"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_becomes_the_complaint_it_should(name: str) -> None:
    parsed = parse(sample(name), name)
    assert parsed.file_error is None
    ((complaint, raw),) = parsed.rows
    emergency, discarded, district = EXPECTED[name]
    assert complaint.channel == "112"
    assert complaint.source_id == name.rsplit(".", 1)[0]
    assert complaint.extra.get("emergency") == emergency
    assert complaint.discard_reason == discarded
    assert complaint.district == district
    assert complaint.extra["transcript_file"] == name
    assert complaint.received_at.tzinfo is not None
    # The whole file (operator turns too) is the raw input.
    assert raw.content == sample(name)
    assert raw.source_ref == f"cc112:{complaint.source_id}"


def test_the_caller_s_words_are_the_text_and_the_operator_s_stay_in_the_raw_input() -> None:
    ((complaint, raw),) = parse(sample("112-SBY-20261123-0002.txt"), "x.txt").rows
    assert complaint.text == (
        "Pagi pak. Saya mau komplain, sampah di TPS pojok pasar Jepara sudah lima hari tidak "
        "diangkut.\nIya pak, sudah sampai ke jalan, baunya menyengat, anak-anak sekolah lewat "
        "situ."
    )
    assert "Operator" not in complaint.text and b"kami teruskan ke DLH" in raw.content
    assert complaint.received_at == datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
    assert complaint.reporter.contact == "0812-0000-2002"
    assert complaint.extra["duration_seconds"] == 72
    assert (complaint.extra["caller_turns"], complaint.extra["operator_turns"]) == (2, 3)
    assert raw.content_type.startswith("text/plain")


def test_dispatched_units_and_the_call_category_are_kept() -> None:
    ((complaint, _),) = parse(sample("112-SBY-20261123-0005.txt"), "x.txt").rows
    assert complaint.extra["dispatched_to"] == ["Ambulans", "Polantas"]
    assert complaint.extra["call_category"] == "Kecelakaan Lalu Lintas"
    assert complaint.extra["address"] == "Bundaran Dolog"


@pytest.mark.parametrize(
    ("category", "kind"),
    [
        ("Kebakaran", "fire"),
        ("KECELAKAAN LALU-LINTAS", "accident"),
        ("laka_lantas", "accident"),
        ("Pencurian", "crime"),
        ("darurat  medis", "medical"),
        ("Non-darurat", None),
        ("Pohon tumbang", None),
        (None, None),
    ],
)
def test_emergency_categories(category: str | None, kind: str | None) -> None:
    assert emergency_kind(category) == kind


@pytest.mark.parametrize(
    ("said", "something"),
    [
        ("", False),
        ("Halo... halo?", False),
        ("[tidak terdengar] (hening) hmm", False),
        ("halo pak, tolong", True),
        ("lampu mati", True),
    ],
)
def test_what_counts_as_an_empty_call(said: str, something: bool) -> None:
    assert caller_said_something(said) is something


def test_a_call_with_no_turns_is_an_empty_call() -> None:
    ((complaint, _),) = parse(transcript(turns=...)).rows
    assert complaint.discard_reason == "112: empty call (the caller said nothing)"
    assert complaint.text == ""


# -- bad files ------------------------------------------------------------------------------------

TEXT_HEADER = "ID Panggilan: 112-T-9\nWaktu: 23/11/2026 07:15 WIB\n\n"


@pytest.mark.parametrize(
    ("data", "name", "error_class", "reason"),
    [
        (b"", "a.json", EMPTY_FILE, "the file is empty"),
        (b"  \n", "a.txt", EMPTY_FILE, "the file is empty"),
        (bytes(range(256)) * 4, "a.json", NOT_TRANSCRIPT, "is not JSON text (binary content)"),
        (sample("112-SBY-20261123-0012.json"), "a.json", NOT_TRANSCRIPT, "is not valid JSON"),
        (b"[1, 2]", "a.json", NOT_TRANSCRIPT, "the file holds no JSON object"),
        (b'{"call_id": "x\xff"}', "a.json", INVALID_ENCODING, "the file is not valid UTF-8"),
        (transcript(call_id=...), "a.json", MISSING_FIELD, "field 'call_id' is missing"),
        (transcript(call_id="  "), "a.json", MISSING_FIELD, "field 'call_id' is missing"),
        (transcript(call_id="x" * 300), "a.json", INVALID_FIELD, "field 'call_id' is over 255"),
        (transcript(started_at=...), "a.json", MISSING_FIELD, "field 'started_at' is missing"),
        (transcript(started_at="tadi"), "a.json", INVALID_DATE, "field 'started_at' is not a"),
        (transcript(caller_number=["x"]), "a.json", INVALID_FIELD, "'caller_number' is not text"),
        (transcript(caller_name="A\x00"), "a.json", INVALID_ENCODING, "contains a NUL"),
        (transcript(turns={"a": 1}), "a.json", INVALID_FIELD, "field 'turns' is not a list"),
        (transcript(turns=["halo"]), "a.json", INVALID_FIELD, "turn 1 is not a speaker and"),
        (
            transcript(turns=[{"speaker": "Suparmi", "text": "lampu jalan"}]),
            "a.json",
            UNKNOWN_SPEAKER,
            "turn 1 has a speaker label that is neither the caller nor the operator",
        ),
        (transcript(location="Tegalsari"), "a.json", INVALID_FIELD, "'location' is not an obj"),
        (
            transcript(duration_seconds="lama"),
            "a.json",
            INVALID_FIELD,
            "'duration_seconds' is not a number",
        ),
        (
            transcript(location={"district": "x" * 200}),
            "a.json",
            INVALID_FIELD,
            "field 'district' is over 128",
        ),
        (b"Penelepon: lampu jalan mati", "a.txt", NOT_TRANSCRIPT, "the file has no header"),
        (
            b"ID Panggilan: 1\nlampu jalan mati\n\n",
            "a.txt",
            NOT_TRANSCRIPT,
            "line 2 of the header block is not 'Name: value'",
        ),
        (
            (TEXT_HEADER + "Suparmi: lampu jalan mati\n").encode(),
            "a.txt",
            UNKNOWN_SPEAKER,
            "line 4: the conversation does not start with a turn of the caller or the operator",
        ),
        (
            b"ID Panggilan: 112-T-9\nWaktu: kemarin sore\n\nPenelepon: lampu jalan mati\n",
            "a.txt",
            INVALID_DATE,
            "field 'started_at' is not a date",
        ),
        (
            b"Kategori: Non-darurat\n\nPenelepon: lampu jalan mati\n",
            "a.txt",
            MISSING_FIELD,
            "field 'call_id' is missing",
        ),
    ],
)
def test_a_bad_transcript_is_a_whole_file_error_with_a_clear_reason(
    data: bytes, name: str, error_class: str, reason: str
) -> None:
    parsed = parse(data, name)
    assert parsed.rows == []
    assert parsed.file_error_class == error_class
    assert parsed.file_error is not None
    assert parsed.file_error.startswith(f"{name}: ")
    assert reason in parsed.file_error
    for value in PERSONAL:
        assert value not in parsed.file_error


def test_text_format_continuation_lines_and_unknown_header_names() -> None:
    data = (
        b"ID Panggilan: 112-T-9\nWaktu: 23/11/2026 07:15\nShift: malam\n\n"
        b"Operator: 112?\nPENELEPON: jalan rusak\ndi depan: balai RW\n\n  sudah sebulan\n"
    )
    ((complaint, _),) = parse(data, "a.txt").rows
    assert complaint.text == "jalan rusak di depan: balai RW sudah sebulan"
    assert "Shift" not in complaint.extra and complaint.discard_reason is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["a.json", "a.txt"]))
def test_any_bytes_give_a_complaint_or_a_file_error(data: bytes, name: str) -> None:
    parsed = parse(data, name)
    assert (parsed.file_error is None) == (len(parsed.rows) == 1)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_text_after_a_header_parses(body: str) -> None:
    parsed = parse((TEXT_HEADER + body).encode("utf-8", "surrogatepass"), "a.txt")
    assert (parsed.file_error is None) == (len(parsed.rows) == 1)


# -- the folder, on the real store ----------------------------------------------------------------


def copy_samples(root: Path) -> list[str]:
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    names = sorted(p.name for p in SAMPLES.iterdir() if p.name.startswith("112-"))
    for name in names:
        shutil.copyfile(str(SAMPLES.joinpath(name)), inbox / name)
    return names


async def test_the_sample_folder_on_the_real_store_survives_a_crash_and_a_redrop(
    tmp_path: Path, clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    names = copy_samples(tmp_path)
    src = source(tmp_path)
    # Four transcripts share a transaction; the second transaction is lost.
    crashing = transcript_collector(src, clock=clock, chunk_rows=4)
    with pytest.raises(SimulatedCrashError):
        await crashing.poll(CrashingStore(store, fail_on_call=2))
    assert len(listing(tmp_path, "done")) == 4  # the files whose commit came before the crash
    restarted = transcript_collector(src, clock=clock, chunk_rows=4)
    report = await restarted.poll(store)
    assert (report.ingested + report.discarded, report.quarantined) == (7, 1)
    assert report.already_known == 0
    assert listing(tmp_path, "inbox") == []
    assert listing(tmp_path, "quarantine") == ["112-SBY-20261123-0012.json"]
    # Dropping them all again stores nothing new.
    for name in names:
        shutil.copyfile(str(SAMPLES.joinpath(name)), tmp_path / "inbox" / name)
    assert await restarted.poll(store) == PollReport(already_known=12)
    status = await store.status()
    # Prank and empty calls are DISCARDED at ingest; emergencies are left to the router's rule.
    assert status.by_state() == {"NEW": 9, "DISCARDED": 2}
    assert status.quarantined == {"112": 1}
    # Our log lines only: aiosqlite's own DEBUG lines echo SQL parameters (see the report).
    logged = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("muara"))
    assert "quarantined whole (NotTranscript)" in logged
    for value in PERSONAL:
        assert value not in logged


async def test_a_transcript_still_being_written_waits(tmp_path: Path, clock: FakeClock) -> None:
    collector = transcript_collector(source(tmp_path, stable_seconds=2), clock=clock)
    inbox = tmp_path / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "a.json").write_bytes(transcript())
    sink = MemorySink()
    assert await collector.poll(sink) == PollReport()
    clock.advance(2)
    assert await collector.poll(sink) == PollReport(ingested=1)
