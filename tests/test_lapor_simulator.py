"""The LAPOR! simulator speaks the v3 wire format: raw HTTP against it, no client in between."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from muara.exporters.lapor.models import Institution
from muara.exporters.lapor.simulator import (
    FIRST_INSTITUTION_ID,
    SimulatorServer,
    SimulatorState,
    default_institution_ids,
    default_institutions,
    serve_forever,
)

TOKEN = "sim-token"
KEY = "sim-key"
AUTH = {"Authorization": f"Bearer {TOKEN}", "token": KEY}
FILE = "/complaints/complaint-lmw"
INSTITUTIONS = "/masters/institutions/external"
START = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)


class StepClock:
    """A clock that moves a minute each time it is read."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def _state(**changes: Any) -> SimulatorState:
    institutions = default_institutions({"pu": "Dinas PU", "pdam": "PDAM", "dishub": "Dishub"})
    return SimulatorState(institutions, clock=StepClock(), **changes)


def _filing(disposition_id: object = FIRST_INSTITUTION_ID + 1, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Lampu jalan mati",
        "content": "Sudah seminggu gelap.",
        "disposition_id": disposition_id,
        "tags_raw": "#muara #MUARA-1",
        "is_anonymous": 0,
        "is_secret": 1,
    }
    body.update(changes)
    return body


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer(_state(), token=TOKEN, key=KEY) as server:
        yield server


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    kwargs.setdefault("headers", AUTH)
    async with http.request(method, url, **kwargs) as response:
        return response.status, await response.json()


def test_default_institutions_are_numbered_by_code() -> None:
    names = {"pdam": "PDAM Tirta", "dinas-pu": "Dinas PU", "dishub": "Dishub"}

    assert default_institutions(names) == [
        Institution(FIRST_INSTITUTION_ID, "Dinas PU"),
        Institution(FIRST_INSTITUTION_ID + 1, "Dishub"),
        Institution(FIRST_INSTITUTION_ID + 2, "PDAM Tirta"),
    ]
    assert default_institutions(dict(reversed(names.items()))) == default_institutions(names)
    assert default_institution_ids(names) == {
        "dinas-pu": FIRST_INSTITUTION_ID,
        "dishub": FIRST_INSTITUTION_ID + 1,
        "pdam": FIRST_INSTITUTION_ID + 2,
    }


async def test_file_a_complaint(sim: SimulatorServer, http: aiohttp.ClientSession) -> None:
    status, answer = await _call(http, "POST", sim.url + FILE, json=_filing())

    assert status == 200
    assert answer["success"] is True
    [filing] = sim.state.filings
    assert answer["complaint_id"] == filing.complaint_id
    assert answer["results"]["complaint"]["id"] == filing.complaint_id
    assert filing.body == _filing()
    assert filing.headers["token"] == KEY
    assert sim.state.filings_tagged("MUARA-1") == [filing]
    assert sim.state.filings_tagged("MUARA-11") == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"Bearer {TOKEN}"},
        {"token": KEY},
        {"Authorization": TOKEN, "token": KEY},
        {"Authorization": f"Bearer {TOKEN}", "token": "nope"},
        {"Authorization": "Bearer tókén", "token": KEY},
    ],
)
async def test_every_call_needs_both_headers(
    sim: SimulatorServer, http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    for method, path in (("POST", FILE), ("GET", INSTITUTIONS), ("GET", "/complaints/1/complaint")):
        status, answer = await _call(http, method, sim.url + path, json=_filing(), headers=headers)

        assert status == 401
        assert answer == {"success": False, "message": "Unauthenticated."}
    assert sim.state.filings == []


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (_filing(title=""), {"title"}),
        (_filing(title="x" * 151), {"title"}),
        (_filing(content="  "), {"content"}),
        ({"title": "t"}, {"content", "disposition_id"}),
        (_filing(disposition_id=None), {"disposition_id"}),
        (_filing(disposition_id="1002"), {"disposition_id"}),
        (_filing(disposition_id=True), {"disposition_id"}),
        (_filing(disposition_id=42), {"disposition_id"}),
        (_filing(is_secret="ya"), {"is_secret"}),
    ],
)
async def test_invalid_filings_are_refused_with_422(
    sim: SimulatorServer, http: aiohttp.ClientSession, body: dict[str, Any], fields: set[str]
) -> None:
    status, answer = await _call(http, "POST", sim.url + FILE, json=body)

    assert status == 422
    assert answer["success"] is False
    assert set(answer["errors"]) == fields
    assert sim.state.filings == []


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b"\xff"])
async def test_a_body_that_is_not_a_json_object_is_400(
    sim: SimulatorServer, http: aiohttp.ClientSession, data: bytes
) -> None:
    status, answer = await _call(http, "POST", sim.url + FILE, data=data)

    assert status == 400
    assert answer["success"] is False


async def test_institutions_are_paged(sim: SimulatorServer, http: aiohttp.ClientSession) -> None:
    _, everything = await _call(http, "GET", sim.url + INSTITUTIONS + "?page_size=1000")
    status, second = await _call(http, "GET", sim.url + INSTITUTIONS + "?page=2&page_size=2")
    bad, _ = await _call(http, "GET", sim.url + INSTITUTIONS + "?page_size=5000")

    assert [row["id"] for row in everything["results"]["data"]] == [1001, 1002, 1003]
    assert status == 200
    assert second["results"]["data"] == [{"id": 1003, "name": "Dinas PU"}]  # codes sorted
    assert second["results"]["meta"] == {"page": 2, "page_size": 2, "total": 3}
    assert bad == 422


async def test_complaint_detail_follows_status_changes(
    sim: SimulatorServer, http: aiohttp.ClientSession
) -> None:
    _, filed = await _call(http, "POST", sim.url + FILE, json=_filing())
    complaint_id = filed["complaint_id"]
    sim.state.set_status(complaint_id, "done", "Selesai")

    status, answer = await _call(http, "GET", f"{sim.url}/complaints/{complaint_id}/complaint")

    detail = answer["results"]["data"]
    assert status == 200
    assert (detail["id"], detail["status_code"], detail["status_name"]) == (
        complaint_id,
        "done",
        "Selesai",
    )
    # LAPOR!'s d-m-Y H:i:s, in WIB (UTC+7): the step clock read 01:01 and 01:02 UTC.
    assert detail["data_logs"] == [
        {
            "status_code": "unverified",
            "status_name": "Belum Terverifikasi",
            "created_at": "02-06-2025 08:01:00",
        },
        {"status_code": "done", "status_name": "Selesai", "created_at": "02-06-2025 08:02:00"},
    ]


@pytest.mark.parametrize("complaint_id", ["999", "abc", "\uff11\uff12"])
async def test_unknown_complaint_is_404(
    sim: SimulatorServer, http: aiohttp.ClientSession, complaint_id: str
) -> None:
    status, answer = await _call(http, "GET", f"{sim.url}/complaints/{complaint_id}/complaint")

    assert status == 404
    assert answer["success"] is False


def test_status_of_an_unknown_complaint_cannot_be_set() -> None:
    with pytest.raises(KeyError):
        _state().set_status(1, "done", "Selesai")


async def test_concurrent_filings_get_distinct_ids(
    sim: SimulatorServer, http: aiohttp.ClientSession
) -> None:
    answers = await asyncio.gather(
        *(_call(http, "POST", sim.url + FILE, json=_filing()) for _ in range(30))
    )

    ids = [answer["complaint_id"] for _, answer in answers]
    assert len(set(ids)) == 30
    assert sorted(ids) == sorted(f.complaint_id for f in sim.state.filings)


async def test_record_keeps_filings_across_restarts(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    record = tmp_path / "filings.jsonl"
    async with SimulatorServer(_state(record=record), token=TOKEN, key=KEY) as sim:
        for n in range(2):
            await _call(http, "POST", sim.url + FILE, json=_filing(tags_raw=f"#muara #M-{n}"))
    with record.open("a", encoding="utf-8") as out:
        out.write('{"complaint_id": "torn line')  # a crash mid-write

    lines = record.read_text(encoding="utf-8").splitlines()
    first = [json.loads(line) for line in lines[:2]]
    assert [entry["body"]["tags_raw"] for entry in first] == ["#muara #M-0", "#muara #M-1"]
    assert "headers" not in first[0]

    restarted = _state(record=record)
    assert restarted.load_record() == 2
    async with SimulatorServer(restarted, token=TOKEN, key=KEY) as sim:
        _, answer = await _call(http, "POST", sim.url + FILE, json=_filing())
        status, _ = await _call(
            http, "GET", f"{sim.url}/complaints/{first[0]['complaint_id']}/complaint"
        )

    assert answer["complaint_id"] == first[1]["complaint_id"] + 1
    assert status == 200
    assert len(restarted.filings_tagged("M-0")) == 1


async def test_server_lifecycle() -> None:
    server = SimulatorServer(token=TOKEN, key=KEY)
    with pytest.raises(RuntimeError):
        _ = server.url

    async with server:
        assert server.url.startswith("http://127.0.0.1:")
        with pytest.raises(RuntimeError):
            await server.start()

    with pytest.raises(RuntimeError):
        _ = server.url
    await server.stop()  # stopping twice is harmless


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_serve_forever_until_cancelled(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    port = _free_port()
    record = tmp_path / "filings.jsonl"
    institutions = [Institution(77, "Dinas PU")]
    task = asyncio.create_task(
        serve_forever("127.0.0.1", port, TOKEN, KEY, record, institutions=institutions)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                status, answer = await _call(http, "POST", url + FILE, json=_filing(77))
                break
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.02)
        else:
            pytest.fail("the simulator never started listening")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert status == 200
    [line] = record.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["complaint_id"] == answer["complaint_id"]
    with pytest.raises(aiohttp.ClientConnectorError):
        await _call(http, "GET", url + INSTITUTIONS)
