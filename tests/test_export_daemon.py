"""The exporter inside the daemon: its tasks, its readiness check, its gauges, the file sink."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from muara.classify.starter import STARTER_AGENCIES
from muara.exporters.lapor.simulator import default_institution_ids
from tests.test_daemon import HEADER, ROWS, daemon_settings, eventually, run_daemon


def drop(tmp_path: Path) -> None:
    inbox = tmp_path / "spool" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "calls.csv").write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")


async def test_daemon_runs_status_sync_and_shows_exporter_health(
    store_url: str, tmp_path: Path
) -> None:
    async with run_daemon(daemon_settings(store_url, tmp_path)) as daemon:
        assert daemon.simulator is not None
        state = daemon.simulator.state
        drop(tmp_path)

        async def filed(state: Any = state) -> bool:
            return len(state.filings) >= len(ROWS)

        await eventually(filed)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{daemon.ops_url}/readyz") as response:
                ready = await response.json()
            async with http.get(f"{daemon.ops_url}/metrics") as response:
                metrics = await response.text()
        assert ready["checks"]["lapor_circuit"] == "ok"
        assert "lapor:status-sync" in ready["checks"]["tasks"]
        assert 'muara_export_circuit_state{target="lapor"} 0.0' in metrics
        assert "muara_sla_open_complaints{agency=" in metrics
        assert 'muara_export_outbox_rows{state="accepted",target="lapor"} 3.0' in metrics


async def test_file_sink_instead_of_the_api(store_url: str, tmp_path: Path) -> None:
    # No API to sync institutions from: the mapping comes from the config, as a region sets it.
    mapping = default_institution_ids(STARTER_AGENCIES)
    settings = daemon_settings(
        store_url,
        tmp_path,
        lapor={"sink": "file", "file_dir": tmp_path / "out", "institutions": mapping},
    )
    async with run_daemon(settings) as daemon:
        assert daemon.simulator is None, "no API, no simulator"
        drop(tmp_path)

        async def written() -> bool:
            files = await asyncio.to_thread(lambda: list((tmp_path / "out").glob("lapor-*.csv")))
            lines = sum(len(f.read_text(encoding="utf-8").splitlines()) - 1 for f in files)
            return lines >= len(ROWS)

        await eventually(written)
