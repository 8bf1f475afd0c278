"""Logging: the scrub filter, the formats, the library caps, and the suite-wide PII scan itself."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from muara.logs import (
    HANDLER_NAME,
    LEAKY_LOGGERS,
    JsonFormatter,
    PersonalDataFilter,
    configure_logging,
)
from tests import pii_scan
from tests.pii_fixtures import reporter_names
from tests.pii_scan import PiiScanner

REPO = Path(__file__).resolve().parents[1]


def _record(message: str, *args: object, name: str = "muara.test") -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, args, None)


def test_the_filter_masks_contacts_and_nik_in_the_final_message() -> None:
    record = _record("from %s, NIK %s, hp %s", "budi@contoh.id", "3201012345670001", "0812-0000-1")
    record.args = ("budi@contoh.id", "3201012345670001", "+62 812 0000 1001")
    PersonalDataFilter().filter(record)
    assert record.getMessage() == "from [email], NIK [nik], hp [telepon]"


def test_the_filter_masks_exception_text_and_json_is_one_line() -> None:
    try:
        raise ValueError("bad row: 0812-0000-1001\nsecond line")
    except ValueError as err:
        record = _record("failed")
        record.exc_info = (type(err), err, err.__traceback__)
    PersonalDataFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert "[telepon]" in entry["exception"] and "0812" not in entry["exception"]
    assert entry["logger"] == "muara.test" and entry["level"] == "info"


def test_debug_does_not_open_the_wire_loggers() -> None:
    configure_logging("DEBUG", "text")
    try:
        assert logging.getLogger("muara.ingest").isEnabledFor(logging.DEBUG)
        for name in LEAKY_LOGGERS:
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
        assert not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)
    finally:
        root = logging.getLogger()
        root.handlers[:] = [h for h in root.handlers if h.get_name() != HANDLER_NAME]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("caller Budi Santoso called", "name"),
        ("mentions of @budi_sby", "handle"),
        ("GET /search?q=budi%40contoh.id", "e-mail"),
        ("phone 0812 0000 1001 rang", "phone"),
        ("phone +62-812-0000-1001 rang", "phone"),
        ("url ?to=%2B6281200001001", "phone"),
        ("NIK 3201.0123.4567.0001", "nik"),
        ("Authorization: Bearer test-bearer-token-0000", "secret"),
    ],
)
def test_the_scanner_finds_personal_data(line: str, kind: str) -> None:
    hits = PiiScanner().scan("test", line)
    assert [hit.kind for hit in hits][:1] == [kind], hits
    # The report shows where, not what.
    assert "Budi Santoso" not in str(hits[0]) and "0000 1001" not in str(hits[0])


@pytest.mark.parametrize(
    "line",
    [
        "2026-11-24 06:50:07,669 DEBUG   muara.daemon: complaint 1234 stored in 0.812345 s",
        "tweet [nik] stored; since_id 1500000000000000001 saved",
        "spool cc: 3 row(s) from calls.csv, port 8470, uid 4294967295",
        "from [email], hp [telepon], NIK [nik]",
        "user siti logged in (coordinator)",  # a coordinator's account name, not a reporter
    ],
)
def test_the_scanner_leaves_ids_times_and_masks_alone(line: str) -> None:
    assert PiiScanner().scan("test", line) == []


def test_fixture_names_cover_the_demo_files() -> None:
    names = reporter_names()
    assert "Sri Wahyuni" in names  # demo/callcenter-sample.csv
    assert "Maria Ulfa" in names  # demo/callcenter-helpdesk.jsonl
    assert "Bambang Irawan" in names  # demo/transcripts/*.txt
    assert "Budi Santoso" in names  # tests


def test_the_suite_scan_sees_every_logger_at_debug_and_leaves_caplog_alone(
    pii_log_scan: PiiScanner, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger("some.library").debug("request for %s", "Budi Santoso")
    logging.getLogger("muara.x").info("hp %s", "0812-0000-1001")
    # The name got through the filter (nothing masks names): the scan caught it.
    assert [(hit.kind, hit.origin) for hit in pii_log_scan.hits] == [
        ("name", "logger 'some.library'"),
        ("name", "logger 'some.library'"),  # text and JSON lines
    ]
    # Other handlers see the record as logged, not as masked for the scan.
    assert caplog.records[-1].getMessage() == "hp 0812-0000-1001"
    pii_log_scan.hits.clear()  # expected: do not fail this test


def test_captured_subprocess_output_is_scanned(pii_log_scan: PiiScanner) -> None:
    lines = ["2026-11-24 INFO muara.daemon: started"]
    pii_scan.track_output("muara subprocess 1", lines)
    lines.append("2026-11-24 DEBUG muara.x: from Siti Rahayu")  # read after tracking began
    pii_scan.scan_tracked(pii_log_scan)
    assert [(hit.kind, hit.origin) for hit in pii_log_scan.hits] == [("name", "muara subprocess 1")]
    pii_log_scan.hits.clear()


def test_a_leak_fails_the_test_at_teardown(tmp_path: Path) -> None:
    """The plugin in a pytest of its own: a test that logs a reporter's name fails."""
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8"
    )
    (tmp_path / "test_leak.py").write_text(
        "import logging\n"
        "def test_leaks():\n"
        "    logging.getLogger('imaginary.lib').debug('caller %s', 'Sri Wahyuni')\n"
        "def test_clean():\n"
        "    logging.getLogger('muara.x').debug('complaint %d stored', 7)\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.pii_scan",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "test_leak.py",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "2 passed, 1 error" in out and "ERROR at teardown of test_leaks" in out
    assert "personal data in log output" in out and "imaginary.lib" in out
    # Redacted in the failure (pytest's own "captured log" section still shows the record).
    assert "name in logger 'imaginary.lib'" in out and "caller <name:Sr…ni>" in out
