"""The log format README's "Running in production" promises: text for people by default, and on
request JSON with exactly one object per line, tracebacks and multi-line messages included."""

from __future__ import annotations

import json
import logging
import re
import signal
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from muara.config import load_settings
from muara.logs import configure_logging
from tests.processes import MuaraProcess

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: "
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes the root logger: put back what pytest had."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(err: str) -> list[dict[str, str]]:
    """Each line of `err` as a JSON object (fails on any line that is not one)."""
    entries = []
    for line in err.splitlines():
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries


def test_text_is_the_default_format() -> None:
    assert load_settings(None).log_format == "text"


@pytest.mark.usefixtures("restore_logging")
def test_text_logs_are_one_readable_line_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text")
    logging.getLogger("muara.exporters.filing").warning("complaint %d held for an operator", 42)
    logging.getLogger("muara.daemon").info("muara started")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert all(TEXT_LINE.match(line) for line in lines), lines
    assert lines[0].endswith("WARNING muara.exporters.filing: complaint 42 held for an operator")


@pytest.mark.usefixtures("restore_logging")
def test_json_logs_are_one_object_per_line_even_for_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    log = logging.getLogger("muara.exporters.filing")
    log.info("complaint %d: filed", 7)
    log.warning("a message over\nthree\nlines")
    try:
        raise ValueError("bad row\nsecond line")
    except ValueError:
        log.exception("complaint %d: export failed", 8)
    logging.getLogger("muara").debug("below the level: not written")
    entries = json_lines(capsys.readouterr().err)
    assert [entry["level"] for entry in entries] == ["info", "warning", "error"]
    assert {entry["logger"] for entry in entries} == {"muara.exporters.filing"}
    assert entries[0]["message"] == "complaint 7: filed"
    assert entries[1]["message"] == "a message over\nthree\nlines"
    assert entries[2]["message"] == "complaint 8: export failed"
    assert "Traceback" in entries[2]["exception"] and "ValueError" in entries[2]["exception"]
    for entry in entries:
        stamp = datetime.fromisoformat(entry["ts"])
        assert stamp.utcoffset() == timedelta(0)


async def test_the_daemon_writes_only_json_lines_when_asked(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    config = tmp_path / "muara.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path / "muara.db"}"\n'
        "[http]\nport = 0\n"
        f'[[spool]]\nname = "cc"\npath = "{spool}"\npoll_seconds = 0.1\nstable_seconds = 0\n',
        encoding="utf-8",
    )
    process = await MuaraProcess.start(
        "--config", str(config), "run", env={"MUARA_LOG_FORMAT": "json"}
    )
    try:
        await process.wait_for_line(r'"message": "muara started')
        # A row whose time is not a time: quarantined, with a warning naming file and row.
        (spool / "inbox" / "calls.csv").write_text(
            "call_id,started_at,caller_name,caller_number,category,summary,district,subdistrict\n"
            "c-1,not a time,Budi,0812-0000-1001,jalan,jalan berlubang di depan pasar,Tegalsari,\n",
            encoding="utf-8",
        )
        await process.wait_for_line(r'"level": "warning".*quarantined.*calls\.csv')
    finally:
        code = await process.stop(signal.SIGTERM, timeout=60)
    assert code == 0
    entries = json_lines("\n".join(process.lines))
    assert {entry["level"] for entry in entries} >= {"debug", "info", "warning"}
    assert entries[-1]["message"] == "stopped"
