"""Duplicate detection through the real daemon: repeats are linked, and LAPOR! gets one filing.

The complaints come in by the call-center spool and the X stand-in, go through the real
classify and route stages, and are filed to the in-process LAPOR! simulator, whose filings are
counted. The review desk's complaint page (store/review_queue.py) lists what was linked.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from muara.daemon import Daemon
from muara.exporters.lapor.simulator import SimulatorState
from muara.store.engine import create_engine
from muara.store.review_queue import ReviewQueue
from muara.store.tables import complaints, decisions
from tests.duplicate_cases import POTHOLE_EMAIL, POTHOLE_TWEET, STREETLIGHT, flood_reports
from tests.test_daemon import daemon_settings, eventually, run_daemon
from tests.x_api import ACCOUNT_ID, TOKEN, Tweet, XServer, x_api, x_ca

__all__ = ["x_api", "x_ca"]  # fixtures

HEADER = ["call_id", "started_at", "caller_name", "caller_number", "category", "summary"]
HEADER += ["district", "subdistrict"]
# Complaints are received "now": the index keeps only what its time windows can still match.
NOW = datetime.now(UTC).replace(microsecond=0)
FINAL = ("EXPORTED", "DUPLICATE", "REVIEW", "DISCARDED", "QUARANTINED", "EXPORT_FAILED")


def drop_csv(tmp_path: Path, name: str, rows: Sequence[Sequence[str]]) -> None:
    """A call-center export in the spool's inbox."""
    inbox = tmp_path / "spool" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    (inbox / name).write_text(out.getvalue(), encoding="utf-8")


def row(call_id: str, at: datetime, phone: str, text: str) -> list[str]:
    """A call-center row with no place columns (the place is in the summary)."""
    return [call_id, at.isoformat(), "Warga", phone, "umum", text.replace("\n", " "), "", ""]


def x_source(server: XServer) -> dict[str, Any]:
    return {
        "name": "x-main",
        "bearer_token": TOKEN,
        "account_ids": [ACCOUNT_ID],
        "connect_to": f"127.0.0.1:{server.port}",
        "ca_file": server.ca_file,
        "poll_seconds": 0.1,
    }


async def states(daemon: Daemon) -> dict[int, tuple[str, str, int | None]]:
    """Each complaint's channel, state and the complaint it duplicates."""
    engine = create_engine(daemon.settings.store_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(
                    complaints.c.id,
                    complaints.c.channel,
                    complaints.c.state,
                    complaints.c.duplicate_of_id,
                )
            )
            return {int(cid): (channel, state, of) for cid, channel, state, of in rows}
    finally:
        await engine.dispose()


async def settle(daemon: Daemon, count: int) -> dict[int, tuple[str, str, int | None]]:
    """Wait until `count` complaints are stored and each has reached a state it rests in."""
    found: dict[int, tuple[str, str, int | None]] = {}

    async def settled() -> bool:
        nonlocal found
        found = await states(daemon)
        return len(found) == count and all(state in FINAL for _, state, _ in found.values())

    await eventually(settled, timeout=180)
    return found


def simulator(daemon: Daemon) -> SimulatorState:
    assert daemon.simulator is not None
    return daemon.simulator.state


async def test_the_same_complaint_by_call_center_and_x_is_filed_once_and_shown_together(
    store_url: str, tmp_path: Path, x_api: XServer
) -> None:
    x_api.state.user("42", "budi_sby", "Budi Santoso")
    # The citizen tweets first, then calls; another caller reports a street light on the same
    # street: a different complaint, filed on its own.
    x_api.state.post(Tweet(9001, "42", POTHOLE_TWEET, created_at=NOW))
    drop_csv(
        tmp_path,
        "calls.csv",
        [
            row("c-1", NOW + timedelta(hours=1), "0812-3456-7890", POTHOLE_EMAIL),
            row("c-2", NOW + timedelta(hours=2), "0813-1111-2222", STREETLIGHT),
        ],
    )
    settings = daemon_settings(store_url, tmp_path, x=[x_source(x_api)])
    async with run_daemon(settings) as daemon:
        found = await settle(daemon, 3)
        state = simulator(daemon)

        async def filed() -> bool:
            return len(state.filings) == 2

        await eventually(filed)
    tweet = next(cid for cid, (channel, _, _) in found.items() if channel == "x")
    pothole_call, light_call = sorted(c for c, (channel, _, _) in found.items() if channel != "x")
    # Whichever of the tweet and the call was routed first is filed; the other is linked to it.
    # (The X source starts later, so usually the call is first, though the tweet was sent
    # first: only a complaint already routed or in review can be the one others repeat.)
    pair = {tweet: found[tweet], pothole_call: found[pothole_call]}
    [root] = [cid for cid, (_, state, _) in pair.items() if state == "EXPORTED"]
    [repeat] = [cid for cid, (_, state, of) in pair.items() if (state, of) == ("DUPLICATE", root)]
    assert found[light_call] == ("callcenter", "EXPORTED", None)
    assert len(state.filings) == 2
    engine = create_engine(store_url)
    try:
        async with engine.connect() as conn:
            reason = await conn.scalar(
                select(decisions.c.reason).where(
                    decisions.c.complaint_id == repeat,
                    decisions.c.decided_by == "rule:duplicate",
                )
            )
        # The reason names the link and the kind of match, never the complaint's words.
        assert reason == f"duplicate of #{root}: same text"
        # The review desk shows them together: the first lists its duplicate, and back.
        queue = ReviewQueue(engine, clock=lambda: datetime.now(UTC))
        root_page = await queue.complaint(root)
        duplicate_page = await queue.complaint(repeat)
        assert root_page is not None and duplicate_page is not None
        assert [linked.id for linked in root_page[0].duplicates] == [repeat]
        assert duplicate_page[0].duplicate_of is not None
        assert duplicate_page[0].duplicate_of.id == root
    finally:
        await engine.dispose()


async def test_a_flood_reported_200_times_is_filed_once(store_url: str, tmp_path: Path) -> None:
    reports = flood_reports(200)
    drop_csv(
        tmp_path,
        "flood.csv",
        [
            [
                report.source_id,
                (NOW + (report.received_at - reports[0].received_at)).isoformat(),
                f"Warga {i}",
                f"0813-{i:04d}-{i * 7 % 10_000:04d}",
                "bencana",
                report.text,
                "Gayungan",
                "Ketintang",
            ]
            for i, report in enumerate(reports)
        ],
    )
    async with run_daemon(daemon_settings(store_url, tmp_path)) as daemon:
        found = await settle(daemon, 200)
        roots = [cid for cid, (_, state, _) in found.items() if state != "DUPLICATE"]
        # One root: the whole flood is one complaint. 199 reports name it, directly (a link is
        # always to the root, never to another duplicate).
        assert len(roots) == 1, sorted(state for _, state, _ in found.values())
        [root] = roots
        assert {of for _, state, of in found.values() if state == "DUPLICATE"} == {root}
        assert found[root][1] == "EXPORTED"
        state = simulator(daemon)

        async def filed() -> bool:
            return len(state.filings) >= 1

        await eventually(filed)
        assert len(state.filings) == 1
    metrics_engine = create_engine(store_url)
    try:
        async with metrics_engine.connect() as conn:
            duplicates = await conn.scalar(
                select(func.count())
                .select_from(decisions)
                .where(decisions.c.decided_by == "rule:duplicate")
            )
        assert duplicates == 199
    finally:
        await metrics_engine.dispose()


async def test_without_duplicate_detection_every_report_is_filed(
    store_url: str, tmp_path: Path
) -> None:
    drop_csv(
        tmp_path,
        "calls.csv",
        [
            row(f"c-{i}", NOW + timedelta(minutes=i), f"0812-3456-789{i}", POTHOLE_EMAIL)
            for i in range(2)
        ],
    )
    settings = daemon_settings(
        store_url,
        tmp_path,
        router={"auto_route_threshold": 0.0, "duplicates": {"enabled": False}},
    )
    async with run_daemon(settings) as daemon:
        found = await settle(daemon, 2)
        assert sorted(state for _, state, _ in found.values()) == ["EXPORTED", "EXPORTED"]
