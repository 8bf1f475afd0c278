"""The daemon in-process with all three new channels: X, call-center JSON Lines and 112 transcripts.

Each channel's counters show in /metrics under its own label, emergencies are discarded by the
router's rule, and a restart on the same store reads nothing twice and files nothing twice.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from contextlib import AbstractAsyncContextManager
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp

from muara.daemon import Daemon
from tests.test_daemon import daemon_settings, eventually, metric_names_and_labels, run_daemon
from tests.x_api import ACCOUNT_ID, TOKEN, Tweet, XServer, x_api, x_ca

__all__ = ["x_api", "x_ca"]  # fixtures

DEMO = resources.files("muara.demo")


def sample(metrics: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus text exposition (0 when absent)."""
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    match = re.search(re.escape(f"{name}{{{label_text}}}") + r" (\S+)", metrics)
    return float(match.group(1)) if match else 0.0


def settled(metrics: str, channel: str) -> float:
    return sum(
        sample(metrics, "muara_complaints", channel=channel, state=state)
        for state in ("EXPORTED", "REVIEW", "DISCARDED")
    )


def prepare(tmp_path: Path, server: XServer) -> dict[str, Any]:
    """Folders with the bundled samples, and tweets on the X stand-in; the daemon's settings."""
    inbox = tmp_path / "spool" / "inbox"
    inbox.mkdir(parents=True)
    shutil.copyfile(str(DEMO.joinpath("callcenter-helpdesk.jsonl")), inbox / "tiket.jsonl")
    calls = tmp_path / "112" / "inbox"
    calls.mkdir(parents=True)
    for entry in DEMO.joinpath("transcripts").iterdir():
        shutil.copyfile(str(entry), calls / entry.name)
    state = server.state
    state.user("42", "budi_sby", "Budi Santoso")
    state.user("43", "ani_lestari", "Ani Lestari")
    state.post(Tweet(8001, "42", "@PemkotContoh jalan berlubang di depan pasar, tolong ditambal"))
    state.post(Tweet(8002, "43", "@PemkotContoh sampah menumpuk di TPS sudah 4 hari"))
    state.post(Tweet(8003, "43", "Terima kasih @PemkotContoh 🙏"))
    state.post(
        Tweet(8004, "43", "RT @budi_sby: jalan berlubang", referenced=(("retweeted", 8001),))
    )
    state.post(Tweet(8005, "42", "air mati", broken={"created_at": None}))
    state.post(Tweet(8006, "42", "@PemkotContoh lampu PJU mati di gang 4, gelap sekali"))
    return {
        "spool": [
            {
                "name": "cc",
                "path": tmp_path / "spool",
                "preset": "helpdesk",
                "poll_seconds": 0.05,
                "stable_seconds": 0,
            }
        ],
        "transcripts": [
            {"name": "t112", "path": tmp_path / "112", "poll_seconds": 0.05, "stable_seconds": 0}
        ],
        "x": [
            {
                "name": "x-main",
                "bearer_token": TOKEN,
                "account_ids": [ACCOUNT_ID],
                "connect_to": f"127.0.0.1:{server.port}",
                "ca_file": server.ca_file,
                "poll_seconds": 0.1,
            }
        ],
    }


def running(
    store_url: str, tmp_path: Path, overrides: dict[str, Any]
) -> AbstractAsyncContextManager[Daemon]:
    return run_daemon(daemon_settings(store_url, tmp_path, **overrides))


async def scrape(daemon: Daemon) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{daemon.ops_url}/metrics") as response:
        return await response.text()


async def test_x_call_center_and_112_counted_per_channel_and_restart_adds_nothing(
    store_url: str, tmp_path: Path, x_api: XServer
) -> None:
    overrides = prepare(tmp_path, x_api)
    async with running(store_url, tmp_path, overrides) as daemon:
        metrics = ""

        async def all_settled() -> bool:
            nonlocal metrics
            metrics = await scrape(daemon)
            return (
                settled(metrics, "callcenter") == 10
                and settled(metrics, "112") == 11
                and settled(metrics, "x") == 5
            )

        await eventually(all_settled)
        assert daemon.simulator is not None
        filed = [f.body["tags_raw"] for f in daemon.simulator.state.filings]

    expected = {
        # channel: (stored, discarded at ingest, quarantined)
        "callcenter": (10, 0, 1),
        "112": (9, 2, 1),  # prank + empty call discarded; the broken JSON quarantined
        "x": (3, 2, 1),  # praise + retweet discarded; the tweet without created_at quarantined
    }
    for channel, (ingested, discarded, quarantined) in expected.items():
        assert sample(metrics, "muara_ingest_complaints_total", channel=channel) == ingested
        assert sample(metrics, "muara_ingest_discarded_total", channel=channel) == discarded
        assert sample(metrics, "muara_ingest_quarantined_total", channel=channel) == quarantined
    assert sample(metrics, "muara_router_rule_matches_total", rule="emergency-112") == 4
    assert sample(metrics, "muara_router_decisions_total", mode="rule", state="DISCARDED") == 4
    assert sample(metrics, "muara_complaints", channel="112", state="DISCARDED") == 6
    assert 'muara_source_last_success_timestamp_seconds{channel="x",source="x-main"}' in metrics
    # The emergencies never reach LAPOR!; the rest are filed once each.
    assert len(filed) == len(set(filed))
    exported = sum(
        sample(metrics, "muara_complaints", channel=c, state="EXPORTED")
        for c in ("callcenter", "112", "x")
    )
    assert len(filed) == exported
    labels = metric_names_and_labels(metrics)
    for personal in ("budi", "Budi", "0812", "Suparmi", "berlubang"):
        assert personal not in labels

    # A restart on the same store: the files are in done/, the X cursor is saved.
    requests_before = len(x_api.state.requests)
    async with running(store_url, tmp_path, overrides) as daemon:

        async def polled_again() -> bool:
            return len(x_api.state.requests) > requests_before

        await eventually(polled_again)
        await asyncio.sleep(0.3)
        again = await scrape(daemon)
        assert daemon.simulator is not None
        assert daemon.simulator.state.filings == []
    assert x_api.state.requests[-1][1]["since_id"] == "8006"
    for channel in ("callcenter", "112", "x"):
        assert sample(again, "muara_ingest_complaints_total", channel=channel) == 0
        assert settled(again, channel) == settled(metrics, channel)
