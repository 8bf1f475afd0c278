"""A LAPOR! v3 stand-in on loopback: the same paths, headers and JSON shapes, for tests and demo.

Where exactly-once is concerned it behaves as the real service would: a filing is stored before
the answer is written, and a client that stops waiting does not undo it.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web
from aiohttp.log import access_logger
from aiohttp.typedefs import Handler

from muara.exporters.lapor.faults import FaultPlan, apply_fault
from muara.exporters.lapor.models import Institution
from muara.exporters.lapor.sim_calls import add_routes, lapor_time

log = logging.getLogger(__name__)

DEFAULT_FILE_PATH = "/complaints/complaint-lmw"
DEFAULT_INSTITUTIONS_PATH = "/masters/institutions/external"
STATUS_ROUTE = "/complaints/{complaint_id}/complaint"
FIRST_INSTITUTION_ID = 1001
FIRST_COMPLAINT_ID = 4_000_001
# The real limits and status codes are not public: these are the simulator's own choices.
TITLE_MAX = 150
INITIAL_STATUS = ("unverified", "Belum Terverifikasi")
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
SHUTDOWN_TIMEOUT = 2.0
_FLAG_VALUES = (0, 1, "0", "1")  # True and False compare equal to 1 and 0


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Filing:
    """One complaint the simulator accepted: the body it was sent and the id it gave back."""

    complaint_id: int
    body: dict[str, Any]
    headers: dict[str, str]  # lower-cased names; empty for filings restored from a record
    received_at: datetime


@dataclass(frozen=True, slots=True)
class StatusLog:
    """One status a complaint has been in, as `data_logs` reports it."""

    status_code: str
    status_name: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Forward:
    """One "not our authority" call: the complaint went from one institution to another."""

    complaint_id: int
    from_institution: int
    to_institution: int
    description: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Followup:
    """One follow-up on a complaint (an agency's answer, or a reporter's reply)."""

    id: int
    complaint_id: int
    institution_id: int | None
    content: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Document:
    """One uploaded attachment."""

    id: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """A request as it arrived (headers lower-cased), so tests can check what was sent."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class SimulatorState:
    """What the simulator knows and was told; tests read it to check what was filed, how often."""

    institutions: list[Institution] = field(default_factory=list)
    filings: list[Filing] = field(default_factory=list)
    record: Path | None = None
    first_id: int = FIRST_COMPLAINT_ID
    clock: Callable[[], datetime] = _utcnow
    requests: deque[SeenRequest] = field(default_factory=lambda: deque(maxlen=1000))
    faults: FaultPlan = field(default_factory=FaultPlan)
    latency: float = 0.0  # seconds every filing takes (benchmarks)
    forwards: list[Forward] = field(default_factory=list)
    documents: dict[int, Document] = field(default_factory=dict)
    followups: dict[int, list[Followup]] = field(default_factory=dict)
    dispositions: dict[int, int] = field(default_factory=dict)
    templates: list[dict[str, Any]] = field(
        default_factory=lambda: [{"id": 1, "code": "T01", "name": "Tindak lanjut"}]
    )
    _ids: Iterator[int] = field(init=False, repr=False)
    _other_ids: Iterator[int] = field(init=False, default_factory=lambda: itertools.count(1))
    _logs: dict[int, list[StatusLog]] = field(init=False, default_factory=dict, repr=False)
    _lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock, repr=False)

    def __post_init__(self) -> None:
        self._ids = itertools.count(self.first_id)

    def next_id(self) -> int:
        """A fresh complaint id; nothing awaits between read and advance: no id is given twice."""
        return next(self._ids)

    def institution(self, institution_id: int) -> Institution | None:
        """The institution with this id, if LAPOR! knows it."""
        return next((inst for inst in self.institutions if inst.id == institution_id), None)

    def filing(self, complaint_id: int) -> Filing | None:
        """The filing LAPOR! gave this id to."""
        return next((f for f in self.filings if f.complaint_id == complaint_id), None)

    def filings_tagged(self, reference: str) -> list[Filing]:
        """The filings whose `tags_raw` carry `#<reference>`: more than one breaks exactly-once."""
        tag = f"#{reference}"
        return [f for f in self.filings if tag in str(f.body.get("tags_raw", "")).split()]

    def statuses(self, complaint_id: int) -> list[StatusLog]:
        """The status history of a complaint, oldest first."""
        return list(self._logs.get(complaint_id, ()))

    def set_status(self, complaint_id: int, code: str, name: str) -> None:
        """Move a complaint to a new status, as an agency's follow-up would."""
        if complaint_id not in self._logs:
            raise KeyError(complaint_id)
        self._logs[complaint_id].append(StatusLog(code, name, self.clock()))

    def add_followup(
        self, complaint_id: int, content: str, institution_id: int | None = None
    ) -> Followup:
        """Record a follow-up, as an agency answering in LAPOR! would."""
        if complaint_id not in self._logs:
            raise KeyError(complaint_id)
        entry = Followup(next(self._other_ids), complaint_id, institution_id, content, self.clock())
        self.followups.setdefault(complaint_id, []).append(entry)
        return entry

    def store_document(self, filename: str, content_type: str, size: int) -> Document:
        """Keep an uploaded attachment's metadata; its id goes into a filing's `attachments`."""
        document = Document(next(self._other_ids), filename, content_type, size)
        self.documents[document.id] = document
        return document

    def forward(self, complaint_id: int, to_institution: int, description: str) -> Forward:
        """Dispose a complaint to another institution ("not our authority")."""
        filing = self.filing(complaint_id)
        if filing is None:
            raise KeyError(complaint_id)
        entry = Forward(
            complaint_id, self.disposition(complaint_id), to_institution, description, self.clock()
        )
        self.forwards.append(entry)
        self.dispositions[complaint_id] = to_institution
        self._logs[complaint_id].append(
            StatusLog("forwarded", "Dialihkan ke instansi lain", entry.at)
        )
        return entry

    def disposition(self, complaint_id: int) -> int:
        """The institution a complaint is with now."""
        if complaint_id in self.dispositions:
            return self.dispositions[complaint_id]
        filing = self.filing(complaint_id)
        if filing is None:
            raise KeyError(complaint_id)
        return int(filing.body.get("disposition_id") or 0)

    async def accept(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Filing:
        """Store a filing (and append it to `record`) before anyone is told its id."""
        async with self._lock:
            filing = Filing(
                self.next_id(), dict(body), {k.lower(): v for k, v in headers.items()}, self.clock()
            )
            if self.record is not None:
                await asyncio.to_thread(_append_line, self.record, _record_line(filing))
            self._remember(filing)
        return filing

    def load_record(self) -> int:
        """Reload an earlier run's filings from `record` so ids continue; how many (blocking)."""
        if self.record is None or not self.record.exists():
            return 0
        restored = 0
        with self.record.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    entry = json.loads(line)
                    filing = Filing(
                        int(entry["complaint_id"]),
                        dict(entry["body"]),
                        {},
                        datetime.fromisoformat(entry["received_at"]),
                    )
                except (ValueError, KeyError, TypeError):
                    log.warning("LAPOR! simulator record: line %d unreadable, skipped", number)
                    continue
                self._remember(filing)
                restored += 1
        top = max((f.complaint_id for f in self.filings), default=self.first_id - 1)
        self._ids = itertools.count(max(self.first_id, top + 1))
        return restored

    def _remember(self, filing: Filing) -> None:
        self.filings.append(filing)
        self._logs[filing.complaint_id] = [StatusLog(*INITIAL_STATUS, filing.received_at)]


def _record_line(filing: Filing) -> str:
    entry = {
        "complaint_id": filing.complaint_id,
        "received_at": filing.received_at.isoformat(),
        "body": filing.body,
    }
    return json.dumps(entry, ensure_ascii=False) + "\n"


def _append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(line)


def default_institution_ids(codes: Iterable[str]) -> dict[str, int]:
    """Our agency code -> the simulator's institution id: sorted by code, so the same every run."""
    return {code: FIRST_INSTITUTION_ID + n for n, code in enumerate(sorted(set(codes)))}


def default_institutions(names: Mapping[str, str]) -> list[Institution]:
    """The simulator's institutions master list for a code -> name mapping (ids as above)."""
    ids = default_institution_ids(names)
    return [Institution(id=ids[code], name=names[code]) for code in sorted(ids)]


@dataclass(frozen=True, slots=True)
class _Auth:
    header: str
    expected: bytes
    key: bytes


STATE = web.AppKey("lapor_simulator_state", SimulatorState)
_AUTH = web.AppKey("lapor_simulator_auth", _Auth)


def create_simulator_app(
    state: SimulatorState,
    *,
    token: str,
    key: str,
    file_path: str = DEFAULT_FILE_PATH,
    institutions_path: str = DEFAULT_INSTITUTIONS_PATH,
    auth_header: str = "Authorization",
    auth_scheme: str = "Bearer",
) -> web.Application:
    """The simulator as an aiohttp application, checking both auth headers on every call."""
    expected = f"{auth_scheme} {token}" if auth_scheme else token
    app = web.Application(middlewares=[_authenticate, _planned_faults])
    app[STATE] = state
    app[_AUTH] = _Auth(auth_header, expected.encode(), key.encode())
    app.router.add_get(institutions_path, _institutions, name="institutions")
    app.router.add_post(file_path, _file_complaint, name="file")
    app.router.add_get(STATUS_ROUTE, _complaint_detail, name="status")
    add_routes(app, state)
    return app


def _fail(status: int, message: str, errors: dict[str, list[str]] | None = None) -> web.Response:
    body: dict[str, Any] = {"success": False, "message": message}
    if errors:
        body["errors"] = errors
    return web.json_response(body, status=status)


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse any call without both headers, as LAPOR! does (401, JSON)."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    request.app[STATE].requests.append(SeenRequest(request.method, request.path, headers))
    auth = request.app[_AUTH]
    given = request.headers.get(auth.header, "").encode()
    key = request.headers.get("token", "").encode()
    if not (hmac.compare_digest(given, auth.expected) and hmac.compare_digest(key, auth.key)):
        return _fail(401, "Unauthenticated.")
    return await handler(request)


@web.middleware
async def _planned_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the test's fault plan (and the benchmark's latency) to the route called."""
    state = request.app[STATE]
    route = request.match_info.route.name or ""
    if route == "file" and state.latency > 0:
        await asyncio.sleep(state.latency)
    fault = state.faults.take(route)
    if fault is None:
        return await handler(request)
    return await apply_fault(fault, state.faults, request, handler)


async def _institutions(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        page = int(request.query.get("page", "1"))
        size = int(request.query.get("page_size", str(DEFAULT_PAGE_SIZE)))
    except ValueError:
        return _fail(422, "page and page_size must be integers.")
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        return _fail(422, f"page must be >= 1 and page_size 1..{MAX_PAGE_SIZE}.")
    rows = state.institutions[(page - 1) * size : page * size]
    results = {
        "data": [{"id": inst.id, "name": inst.name} for inst in rows],
        "meta": {"page": page, "page_size": size, "total": len(state.institutions)},
    }
    return web.json_response({"success": True, "message": "OK", "results": results})


def _validate(body: Mapping[str, Any], state: SimulatorState) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in ("title", "content"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            errors[name] = [f"The {name} field is required."]
        elif name == "title" and len(value) > TITLE_MAX:
            errors[name] = [f"The title may not be greater than {TITLE_MAX} characters."]
    disposition = body.get("disposition_id")
    if disposition is None:
        errors["disposition_id"] = ["The disposition id field is required."]
    elif isinstance(disposition, bool) or not isinstance(disposition, int):
        errors["disposition_id"] = ["The disposition id must be an integer."]
    elif state.institution(disposition) is None:
        errors["disposition_id"] = ["The selected disposition id is invalid."]
    for flag in ("is_anonymous", "is_secret", "is_priority"):
        if flag in body and body[flag] not in _FLAG_VALUES:
            errors[flag] = [f"The {flag} field must be true or false."]
    try:
        documents = json.loads(str(body.get("attachments") or "[]"))
    except ValueError:
        documents = None
    if not isinstance(documents, list) or any(
        not isinstance(doc, int) or doc not in state.documents for doc in documents
    ):
        errors["attachments"] = ["The attachments must be ids of uploaded files."]
    return errors


async def _file_complaint(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        body = await request.json()
    except ValueError:
        return _fail(400, "The request body is not JSON.")
    if not isinstance(body, dict):
        return _fail(400, "The request body must be a JSON object.")
    if errors := _validate(body, state):
        return _fail(422, "The given data was invalid.", errors)
    filing = await state.accept(body, request.headers)
    complaint_id = filing.complaint_id
    return web.json_response(
        {
            "success": True,
            "message": "Laporan berhasil dibuat.",
            "complaint_id": complaint_id,
            "results": {"complaint": {"id": complaint_id}},
        }
    )


async def _complaint_detail(request: web.Request) -> web.Response:
    state = request.app[STATE]
    raw = request.match_info["complaint_id"]
    filing = state.filing(int(raw)) if raw.isascii() and raw.isdigit() else None
    if filing is None:
        return _fail(404, "Laporan tidak ditemukan.")
    logs = state.statuses(filing.complaint_id)
    data = {
        "id": filing.complaint_id,
        "title": filing.body.get("title"),
        "disposition_id": state.disposition(filing.complaint_id),
        "tags_raw": filing.body.get("tags_raw"),
        "created_at": lapor_time(filing.received_at),
        "status_code": logs[-1].status_code,
        "status_name": logs[-1].status_name,
        "data_logs": [
            {
                "status_code": s.status_code,
                "status_name": s.status_name,
                "created_at": lapor_time(s.at),
            }
            for s in logs
        ],
    }
    return web.json_response({"success": True, "message": "OK", "results": {"data": data}})


class SimulatorServer:
    """The simulator on a TCP port, run in-process: `async with SimulatorServer(...) as sim`."""

    def __init__(
        self,
        state: SimulatorState | None = None,
        *,
        token: str,
        key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        file_path: str = DEFAULT_FILE_PATH,
        institutions_path: str = DEFAULT_INSTITUTIONS_PATH,
        auth_header: str = "Authorization",
        auth_scheme: str = "Bearer",
        access_log: bool = False,
    ) -> None:
        self.state = state if state is not None else SimulatorState()
        self._app = create_simulator_app(
            self.state,
            token=token,
            key=key,
            file_path=file_path,
            institutions_path=institutions_path,
            auth_header=auth_header,
            auth_scheme=auth_scheme,
        )
        self._host = host
        self._port = port
        self._access_log = access_log
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    @property
    def url(self) -> str:
        """The base URL to give `LaporSettings.base_url`; only while running."""
        if self._bound_port is None:
            raise RuntimeError("the LAPOR! simulator is not running")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._bound_port}"

    async def start(self) -> None:
        """Listen on the host and port (port 0: any free one)."""
        if self._runner is not None:
            raise RuntimeError("the LAPOR! simulator is already running")
        runner = web.AppRunner(
            self._app,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            access_log=access_logger if self._access_log else None,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening and finish (or, after a short grace, cancel) requests in flight."""
        self.state.faults.closing.set()
        runner, self._runner, self._bound_port = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve_forever(
    host: str,
    port: int,
    token: str,
    key: str,
    record: Path | None,
    *,
    institutions: Sequence[Institution] = (),
    file_path: str = DEFAULT_FILE_PATH,
    institutions_path: str = DEFAULT_INSTITUTIONS_PATH,
    latency: float = 0.0,
) -> None:
    """Run the simulator until cancelled (`muara lapor-sim`); `record` gets a JSON line a filing."""
    state = SimulatorState(list(institutions), record=record, latency=latency)
    restored = await asyncio.to_thread(state.load_record)
    if not state.institutions:
        log.warning("LAPOR! simulator: no institutions; every filing will be refused (422)")
    async with SimulatorServer(
        state,
        token=token,
        key=key,
        host=host,
        port=port,
        file_path=file_path,
        institutions_path=institutions_path,
        access_log=True,
    ) as server:
        log.info(
            "LAPOR! simulator on %s: %d institutions, %d earlier filings",
            server.url,
            len(state.institutions),
            restored,
        )
        await asyncio.Event().wait()
