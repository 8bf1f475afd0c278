"""Acceptance: the real `muara run` and `muara lapor-sim` commands, as an operator runs them."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp
import pytest

from muara.classify.starter import STARTER_AGENCIES
from muara.exporters.lapor.simulator import default_institution_ids
from tests.processes import MuaraProcess

HEADER = "call_id,started_at,caller_name,caller_number,category,summary,district,subdistrict\n"
SUMMARIES = [
    "jalan berlubang besar di depan pasar mohon segera diperbaiki",
    "sampah tidak diangkut sudah seminggu bau sekali",
    "air PDAM mati sejak kemarin pagi",
    "lampu penerangan jalan mati di gang tiga",
    "KTP elektronik belum jadi sudah tiga bulan",
]
TOKEN, KEY = "test-token-123", "test-key-456"


def write_config(tmp_path: Path, store_url: str, lapor_url: str) -> Path:
    institutions = default_institution_ids(STARTER_AGENCIES)
    mapping = ", ".join(f"{code} = {ident}" for code, ident in institutions.items())
    config = tmp_path / "muara.toml"
    config.write_text(
        f"""
data_dir = "{tmp_path / "data"}"

[store]
url = "{store_url}"

[http]
port = 0

[workers]
idle_seconds = 0.1
shutdown_timeout = 10

[[spool]]
name = "callcenter-main"
path = "{tmp_path / "spool"}"
poll_seconds = 0.2
stable_seconds = 0

[router]
auto_route_threshold = 0.0

[lapor]
base_url = "{lapor_url}"
institutions = {{ {mapping} }}
""",
        encoding="utf-8",
    )
    return config


@pytest.mark.timeout(300)  # real subprocesses; slow on a loaded 2-core machine
async def test_csv_in_spool_reaches_lapor_and_sigterm_exits_zero(
    store_url: str, tmp_path: Path
) -> None:
    record = tmp_path / "filings.jsonl"
    sim = await MuaraProcess.start(
        "lapor-sim", "--port", "0", "--token", TOKEN, "--key", KEY, "--record", str(record)
    )
    daemon: MuaraProcess | None = None
    try:
        lapor_url = (await sim.wait_for_line(r"simulator on (http://\S+):")).group(1)
        config = write_config(tmp_path, store_url, lapor_url)
        daemon = await MuaraProcess.start(
            "--config",
            str(config),
            "run",
            env={"MUARA_LAPOR__TOKEN": TOKEN, "MUARA_LAPOR__KEY": KEY},
        )
        ops = (await daemon.wait_for_line(r"metrics (http://\S+)/metrics")).group(1)
        inbox = tmp_path / "spool" / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        rows = [
            f"a-{n},2026-11-20T08:{n:02d}:00+07:00,Warga {n},0812-0000-{n:04d},umum,{text},Gubeng,"
            for n, text in enumerate(SUMMARIES)
        ]
        (inbox / "export-1.csv").write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")

        async with asyncio.timeout(150):
            while not record.exists() or len(record.read_text().splitlines()) < len(rows):
                await asyncio.sleep(0.2)
        filings = [json.loads(line) for line in record.read_text().splitlines()]
        assert len(filings) == len(rows)

        # LAPOR! records a filing before it answers; the daemon commits EXPORTED just after.
        exported = 'muara_complaints{channel="callcenter",state="EXPORTED"} 5.0'
        async with aiohttp.ClientSession() as http, asyncio.timeout(30):
            while True:
                async with http.get(f"{ops}/metrics") as response:
                    metrics = await response.text()
                if exported in metrics:
                    break
                await asyncio.sleep(0.2)
        assert 'muara_ingest_complaints_total{channel="callcenter"} 5.0' in metrics
        assert 'muara_complaints{channel="callcenter",state="EXPORTED"} 5.0' in metrics

        assert await daemon.stop(signal.SIGTERM, timeout=30) == 0
        assert any("stopped" in line for line in daemon.lines)
        # Personal data from the CSV never reached the daemon's log.
        log_text = "\n".join(daemon.lines)
        assert "Warga" not in log_text and "0812-0000" not in log_text
    finally:
        if daemon is not None:
            await daemon.kill()
        await sim.kill()
