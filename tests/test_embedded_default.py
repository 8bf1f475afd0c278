"""`muara run` with no config file: the embedded default works on a fresh folder."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.processes import MuaraProcess

DEMO_ROWS = 37  # the demo CSV's 31 rows and the demo JSON Lines export's 6 good lines
DEMO_CALLS = 11  # the demo 112 transcripts that are not broken (demo/transcripts/)


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(f"{name}{{{label_text}}}" if labels else name) + r" (\S+)"
    match = re.search(pattern, metrics)
    return float(match.group(1)) if match else 0.0


@pytest.mark.timeout(300)  # real subprocesses; slow on a loaded 2-core machine
async def test_embedded_default_files_the_demo_rows_and_status_shows_them(tmp_path: Path) -> None:
    daemon = await MuaraProcess.start("run", cwd=tmp_path, env={"MUARA_HTTP__PORT": "0"})
    try:
        await daemon.wait_for_line(r"no config file: embedded default")
        ops = (await daemon.wait_for_line(r"metrics (http://\S+)/metrics")).group(1)
        await daemon.wait_for_line(r"spool demo: drop call-center CSV files into")
        async with aiohttp.ClientSession() as http, asyncio.timeout(150):
            while True:
                async with http.get(f"{ops}/metrics") as response:
                    metrics = await response.text()
                exported = sample(
                    metrics, "muara_complaints", channel="callcenter", state="EXPORTED"
                )
                review = sample(metrics, "muara_complaints", channel="callcenter", state="REVIEW")
                # The demo has two complaints a second channel repeats (a tree in Kalijudan by
                # call center and 112, water in Manukan Kulon): linked as DUPLICATE, not filed.
                duplicate = sample(
                    metrics, "muara_complaints", channel="callcenter", state="DUPLICATE"
                )
                # The demo 112 calls: 5 complaints, 4 emergencies the router's rule discards.
                settled_112 = sum(
                    sample(metrics, "muara_complaints", channel="112", state=state)
                    for state in ("EXPORTED", "REVIEW", "DISCARDED", "DUPLICATE")
                )
                if exported + review + duplicate == DEMO_ROWS and settled_112 == DEMO_CALLS:
                    break
                await asyncio.sleep(0.3)
        assert sample(metrics, "muara_ingest_complaints_total", channel="callcenter") == DEMO_ROWS
        # At the default 0.8 threshold the starter model routes a good share alone; the rest wait
        # for a coordinator (REVIEW), which is the router doing its job.
        assert exported >= DEMO_ROWS / 3
        exported_112 = sample(metrics, "muara_complaints", channel="112", state="EXPORTED")
        assert sample(metrics, "muara_export_filed_total", target="lapor") == (
            exported + exported_112
        )
        assert sample(metrics, "muara_router_rule_matches_total", rule="emergency-112") == 4
        assert sample(metrics, "muara_ingest_discarded_total", channel="112") == 2  # prank, empty
        assert sample(metrics, "muara_ingest_quarantined_total", channel="112") == 1
        assert (tmp_path / "muara-data" / "muara.db").exists()
        assert (tmp_path / "muara-data" / "spool" / "done" / "callcenter-sample.csv").exists()
        assert await daemon.stop(signal.SIGINT) == 0
    finally:
        await daemon.kill()

    status = await MuaraProcess.start("status", cwd=tmp_path)
    assert await status.stop(0) == 0
    # `status` prints to stdout, which MuaraProcess discards; its exit code and log are enough
    # here, the table itself is covered in tests/test_cli.py.
    assert not any("Traceback" in line for line in status.lines)
