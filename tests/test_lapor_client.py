"""The LAPOR! client over real HTTP: against the simulator, and against servers that misbehave."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from muara.config import ConfigError
from muara.exporters.lapor.client import (
    LaporClient,
    complaint_id_from,
    parse_retry_after,
    server_message,
)
from muara.exporters.lapor.errors import (
    LaporAuthError,
    LaporError,
    LaporNotSent,
    LaporOutcomeUnknown,
    LaporRejected,
    LaporUnavailable,
)
from muara.exporters.lapor.models import Institution
from muara.exporters.lapor.payload import FilingInput, build_filing_body
from muara.exporters.lapor.simulator import (
    SimulatorServer,
    SimulatorState,
    default_institutions,
)
from muara.exporters.settings import LaporSettings

TOKEN = "tok-3n7"
KEY = "key-9q2"
# Personal data in the body: it must never appear in an error message.
SECRET_TEXT = "NIK 3174091203850007 Budi Santoso 0812-3456-7890"
AGENCIES = {"dinas-pu": "Dinas Pekerjaan Umum", "pdam": "PDAM Tirta", "dishub": "Dinas Perhubungan"}
NOW = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)
# Short, but with a connect phase long enough for a loaded CI machine to reach loopback in time.
TIMEOUT = 0.4
CONNECT_TIMEOUT = 0.3

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _settings(base_url: str | None, /, **changes: Any) -> LaporSettings:
    values: dict[str, Any] = {
        "base_url": base_url,
        "token": SecretStr(TOKEN),
        "key": SecretStr(KEY),
        "timeout_seconds": 5.0,
    }
    values.update(changes)
    return LaporSettings(**values)


def _body(institution_id: int, reference: str = "MUARA-7") -> dict[str, Any]:
    item = FilingInput(
        complaint_id=7,
        title="Pipa PDAM bocor",
        content=f"Pipa bocor di depan rumah. {SECRET_TEXT}",
        institution_id=institution_id,
        is_anonymous=False,
        is_secret=True,
        date_of_incident=None,
        reference=reference,
    )
    return build_filing_body(item, _settings("http://unused"))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    state = SimulatorState(default_institutions(AGENCIES))
    async with SimulatorServer(state, token=TOKEN, key=KEY) as server:
        yield server


@contextlib.asynccontextmanager
async def misbehaving(handler: Handler) -> AsyncIterator[str]:
    """A one-handler server on 127.0.0.1 answering every path; its base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1, handler_cancellation=True, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _assert_no_personal_data(err: BaseException) -> None:
    for part in ("3174091203850007", "Budi", "0812"):
        assert part not in str(err)
        assert part not in repr(err)


# --- against the simulator ---------------------------------------------------------------------


async def test_filing_round_trip(sim: SimulatorServer, session: aiohttp.ClientSession) -> None:
    client = LaporClient(_settings(sim.url), session)
    pdam = next(inst for inst in sim.state.institutions if inst.name == "PDAM Tirta")

    lapor_id = await client.file_complaint(_body(pdam.id, "MUARA-41"))

    [filing] = sim.state.filings
    assert lapor_id == str(filing.complaint_id)
    assert sim.state.filings_tagged("MUARA-41") == [filing]
    assert filing.body["disposition_id"] == pdam.id
    assert filing.body["is_secret"] == 1
    assert filing.headers["authorization"] == f"Bearer {TOKEN}"
    assert filing.headers["token"] == KEY


async def test_production_style_auth_header_without_scheme(
    session: aiohttp.ClientSession,
) -> None:
    state = SimulatorState(default_institutions(AGENCIES))
    async with SimulatorServer(
        state, token=TOKEN, key=KEY, auth_header="auth", auth_scheme=""
    ) as sim:
        client = LaporClient(_settings(sim.url, auth_header="auth", auth_scheme=""), session)
        await client.file_complaint(_body(state.institutions[0].id))

    assert state.filings[0].headers["auth"] == TOKEN
    assert "authorization" not in state.filings[0].headers


async def test_configured_file_path_is_used(session: aiohttp.ClientSession) -> None:
    state = SimulatorState(default_institutions(AGENCIES))
    async with SimulatorServer(state, token=TOKEN, key=KEY, file_path="/complaints/new") as sim:
        client = LaporClient(_settings(sim.url + "/", file_path="/complaints/new"), session)
        await client.file_complaint(_body(state.institutions[0].id))

    assert [r.path for r in state.requests] == ["/complaints/new"]


@pytest.mark.parametrize(
    "changes", [{"token": SecretStr("wrong")}, {"key": SecretStr("wrong")}, {"auth_scheme": ""}]
)
async def test_refused_credentials_are_an_auth_error(
    sim: SimulatorServer, session: aiohttp.ClientSession, changes: dict[str, Any]
) -> None:
    client = LaporClient(_settings(sim.url, **changes), session)

    with pytest.raises(LaporAuthError) as caught:
        await client.file_complaint(_body(sim.state.institutions[0].id))

    assert caught.value.status == 401
    assert sim.state.filings == []
    with pytest.raises(LaporAuthError):
        await client.list_institutions()


async def test_unknown_institution_is_rejected(
    sim: SimulatorServer, session: aiohttp.ClientSession
) -> None:
    client = LaporClient(_settings(sim.url), session)

    with pytest.raises(LaporRejected) as caught:
        await client.file_complaint(_body(999_999))

    assert caught.value.status == 422
    assert "disposition_id" in caught.value.message
    assert sim.state.filings == []
    _assert_no_personal_data(caught.value)


async def test_institutions_list(sim: SimulatorServer, session: aiohttp.ClientSession) -> None:
    client = LaporClient(_settings(sim.url), session)

    institutions = await client.list_institutions()

    assert institutions == sim.state.institutions
    assert {inst.name for inst in institutions} == set(AGENCIES.values())
    [seen] = sim.state.requests
    assert seen.headers["token"] == KEY
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"


async def test_complaint_status(sim: SimulatorServer, session: aiohttp.ClientSession) -> None:
    client = LaporClient(_settings(sim.url), session)
    lapor_id = await client.file_complaint(_body(sim.state.institutions[1].id))

    first = await client.complaint_status(lapor_id)
    sim.state.set_status(int(lapor_id), "process", "Proses")
    later = await client.complaint_status(lapor_id)

    assert first["id"] == int(lapor_id)
    assert first["status_name"] == "Belum Terverifikasi"
    assert (later["status_code"], later["status_name"]) == ("process", "Proses")
    assert [log["status_name"] for log in later["data_logs"]] == ["Belum Terverifikasi", "Proses"]


@pytest.mark.parametrize("lapor_id", ["424242", "../masters/institutions/external"])
async def test_status_of_an_unknown_complaint_is_rejected(
    sim: SimulatorServer, session: aiohttp.ClientSession, lapor_id: str
) -> None:
    client = LaporClient(_settings(sim.url), session)

    with pytest.raises(LaporRejected) as caught:
        await client.complaint_status(lapor_id)

    assert caught.value.status == 404


async def test_concurrent_filings_each_get_their_own_id(
    sim: SimulatorServer, session: aiohttp.ClientSession
) -> None:
    client = LaporClient(_settings(sim.url, timeout_seconds=5.0), session)
    target = sim.state.institutions[0].id

    ids = await asyncio.gather(
        *(client.file_complaint(_body(target, f"MUARA-{n}")) for n in range(40))
    )

    assert len(set(ids)) == 40
    assert len(sim.state.filings) == 40


# --- error mapping against servers that misbehave ----------------------------------------------


def _answer(status: int, body: str = "", headers: dict[str, str] | None = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(status=status, text=body, headers=headers)

    return handler


async def _sleep_past_timeout(request: web.Request) -> web.StreamResponse:
    await request.read()
    await asyncio.sleep(5)
    return web.Response()


async def _close_after_reading(request: web.Request) -> web.StreamResponse:
    await request.read()
    assert request.transport is not None
    request.transport.close()
    return web.Response()


FILING_OUTCOMES: list[tuple[str, Handler, type[LaporError], dict[str, Any]]] = [
    (
        "503 with Retry-After",
        _answer(503, '{"message":"maintenance"}', {"Retry-After": "7"}),
        LaporUnavailable,
        {"status": 503, "retry_after": 7.0, "message": "maintenance"},
    ),
    (
        "429 with an HTTP-date",
        _answer(429, "", {"Retry-After": "Mon, 02 Jun 2025 03:00:30 GMT"}),
        LaporUnavailable,
        {"status": 429, "retry_after": 30.0},
    ),
    ("429 without a hint", _answer(429), LaporUnavailable, {"status": 429, "retry_after": None}),
    ("408", _answer(408), LaporUnavailable, {"status": 408}),
    ("401", _answer(401), LaporAuthError, {"status": 401}),
    ("403", _answer(403, '{"message":"Forbidden"}'), LaporAuthError, {"message": "Forbidden"}),
    (
        "400 with Laravel errors",
        _answer(400, f'{{"message":"bad","errors":{{"title":["{SECRET_TEXT}"]}}}}'),
        LaporRejected,
        {"status": 400, "message": "bad (title)"},
    ),
    ("404 HTML", _answer(404, "<html>Not Found</html>"), LaporRejected, {"message": ""}),
    ("500 may have stored it", _answer(500), LaporOutcomeUnknown, {"status": 500}),
    ("502 from a proxy", _answer(502), LaporOutcomeUnknown, {"status": 502}),
    ("504 from a proxy", _answer(504), LaporOutcomeUnknown, {"status": 504}),
    (
        "302 redirect (post/redirect/get?)",
        _answer(302, "", {"Location": "/elsewhere"}),
        LaporOutcomeUnknown,
        {"status": 302},
    ),
    ("200 not JSON", _answer(200, "<html>OK</html>"), LaporOutcomeUnknown, {"status": 200}),
    ("200 without an id", _answer(200, '{"success":true}'), LaporOutcomeUnknown, {}),
    ("timeout after the request", _sleep_past_timeout, LaporOutcomeUnknown, {"status": None}),
    ("disconnect after reading", _close_after_reading, LaporOutcomeUnknown, {"status": None}),
]


@pytest.mark.parametrize(
    ("handler", "error", "attributes"),
    [case[1:] for case in FILING_OUTCOMES],
    ids=[case[0] for case in FILING_OUTCOMES],
)
async def test_filing_failure_says_whether_lapor_may_have_it(
    session: aiohttp.ClientSession,
    handler: Handler,
    error: type[LaporError],
    attributes: dict[str, Any],
) -> None:
    async with misbehaving(handler) as url:
        client = LaporClient(
            _settings(url, timeout_seconds=TIMEOUT),
            session,
            connect_timeout=CONNECT_TIMEOUT,
            clock=lambda: NOW,
        )

        with pytest.raises(LaporError) as caught:
            await client.file_complaint(_body(1001))

    assert type(caught.value) is error
    for name, value in attributes.items():
        assert getattr(caught.value, name) == value
    _assert_no_personal_data(caught.value)


async def test_redirect_is_not_followed(session: aiohttp.ClientSession) -> None:
    hits: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        raise web.HTTPFound("/elsewhere")

    async with misbehaving(handler) as url:
        client = LaporClient(_settings(url), session)
        with pytest.raises(LaporRejected) as caught:
            await client.list_institutions()

    assert hits == ["/masters/institutions/external"]
    assert caught.value.status == 302


@pytest.mark.parametrize(
    ("handler", "status"),
    [
        (_answer(500), 500),
        (_answer(502), 502),
        (_answer(200, "<html/>"), 200),
        (_answer(200, '{"results": {}}'), 200),
        (_sleep_past_timeout, None),
        (_close_after_reading, None),
    ],
    ids=["500", "502", "200 not JSON", "200 no data", "timeout", "disconnect"],
)
async def test_a_failed_read_is_only_unavailable(
    session: aiohttp.ClientSession, handler: Handler, status: int | None
) -> None:
    async with misbehaving(handler) as url:
        client = LaporClient(
            _settings(url, timeout_seconds=TIMEOUT), session, connect_timeout=CONNECT_TIMEOUT
        )

        with pytest.raises(LaporUnavailable) as caught:
            await client.complaint_status("17")
        with pytest.raises(LaporUnavailable):
            await client.list_institutions()

    assert caught.value.status == status


async def test_older_response_shape_still_yields_the_id(session: aiohttp.ClientSession) -> None:
    async with misbehaving(_answer(201, '{"results": {"complaint": {"id": 8812}}}')) as url:
        client = LaporClient(_settings(url), session)

        assert await client.file_complaint(_body(1001)) == "8812"


async def test_malformed_institutions_are_skipped(session: aiohttp.ClientSession) -> None:
    rows = '[{"id": 5, "name": "A"}, {"id": "6", "name": " B "}, {"id": true, "name": "C"}, 7]'
    async with misbehaving(_answer(200, f'{{"results": {{"data": {rows}}}}}')) as url:
        client = LaporClient(_settings(url), session)

        assert await client.list_institutions() == [Institution(5, "A"), Institution(6, "B")]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_closed_port_is_not_sent(session: aiohttp.ClientSession) -> None:
    client = LaporClient(_settings(f"http://127.0.0.1:{_closed_port()}"), session)

    with pytest.raises(LaporNotSent):
        await client.file_complaint(_body(1001))


async def test_waiting_for_a_pooled_connection_is_not_sent() -> None:
    """Connector limit reached: the second filing times out before it has a connection."""
    arrived = asyncio.Event()

    async def hold(request: web.Request) -> web.StreamResponse:
        arrived.set()
        return await _sleep_past_timeout(request)

    async with (
        misbehaving(hold) as url,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session,
    ):
        patient = LaporClient(_settings(url, timeout_seconds=5.0), session)
        hasty = LaporClient(_settings(url, timeout_seconds=1.0), session, connect_timeout=0.1)
        first = asyncio.create_task(patient.file_complaint(_body(1001)))
        async with asyncio.timeout(2):
            await arrived.wait()

        with pytest.raises(LaporNotSent, match="ConnectionTimeoutError"):
            await hasty.file_complaint(_body(1001))
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs to a full queue")
async def test_connect_timeout_is_not_sent(session: aiohttp.ClientSession) -> None:
    """A listener that never accepts, with its queue full: the TCP handshake never completes."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", port))
            client = LaporClient(
                _settings(f"http://127.0.0.1:{port}", timeout_seconds=0.5),
                session,
                connect_timeout=0.15,
            )
            with pytest.raises(LaporNotSent, match="ConnectionTimeoutError"):
                await client.file_complaint(_body(1001))
        finally:
            for filler in fillers:
                filler.close()


# --- configuration and pure helpers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"base_url": None}, "lapor.base_url"),
        ({"base_url": "lapor.go.id/api"}, "lapor.base_url"),
        ({"base_url": "ftp://lapor.go.id"}, "lapor.base_url"),
        ({"token": None}, "lapor.token"),
        ({"key": None}, "lapor.key"),
        ({"auth_header": "token"}, "lapor.auth_header"),
        ({"token": SecretStr("a\r\nX-Evil: 1")}, "line break"),
    ],
)
async def test_unusable_settings_name_the_field(
    session: aiohttp.ClientSession, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError, match=field) as caught:
        LaporClient(_settings("http://127.0.0.1:1", **changes), session)

    assert TOKEN not in str(caught.value)


async def test_connect_timeout_must_leave_room_for_the_answer(
    session: aiohttp.ClientSession,
) -> None:
    with pytest.raises(ValueError, match="connect_timeout"):
        LaporClient(
            _settings("http://127.0.0.1:1", timeout_seconds=1.0), session, connect_timeout=1
        )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("120", 120.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        ("Mon, 02 Jun 2025 03:01:00 GMT", 60.0),
        ("Mon, 02 Jun 2025 02:00:00 GMT", 0.0),
        ("Monday, 02-Jun-25 03:00:10 GMT", 10.0),
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@given(st.text())
def test_retry_after_never_raises(value: str) -> None:
    seconds = parse_retry_after(value, NOW)

    assert seconds is None or seconds >= 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"message": "The given data was invalid."}', "The given data was invalid."),
        (
            b'{"message": "bad", "errors": {"title": ["x"], "content": ["y"]}}',
            "bad (content, title)",
        ),
        (b'{"errors": {"title": ["x"]}}', "(title)"),
        (b'{"message": "' + b"m" * 500 + b'"}', "m" * 199 + "\u2026"),
        (b'{"message": "two\\nlines"}', "two lines"),
        (b"<html>error</html>", ""),
        (b"[1]", ""),
        (b"\xff\xfe", ""),
    ],
)
def test_server_message(raw: bytes, expected: str) -> None:
    assert server_message(raw) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"complaint_id": 5}, "5"),
        ({"complaint_id": " 6 "}, "6"),
        ({"data": {"complaint_id": 7}}, "7"),
        ({"results": {"complaint": {"id": 8}}}, "8"),
        ({"data": {"results": {"complaint": {"id": 9}}}}, "9"),
        ({"complaint_id": True}, None),
        ({"complaint_id": ""}, None),
        ({"success": True}, None),
        ([], None),
        (None, None),
    ],
)
def test_complaint_id_from(data: Any, expected: str | None) -> None:
    assert complaint_id_from(data) == expected
