"""The simulator's other v3 calls: attachments, lookup by tag, follow-ups, forward, templates.

The lookup (`GET /complaints/search?tags=…`) is not in lapor-v3.md: it stands for whatever search
a region's admin-panel docs name, and, like a real full-text search, it matches loosely (a
substring), so the client must check the tags itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from muara.exporters.lapor.payload import WIB

if TYPE_CHECKING:
    from muara.exporters.lapor.simulator import SimulatorState

UPLOAD_PATH = "/complaints/complaint/file"
LOOKUP_PATH = "/complaints/search"
FOLLOWUPS_ROUTE = "/complaints/{complaint_id}/followups"
FOLLOWUP_ADD_PATH = "/complaints/followup/add"
FORWARD_ROUTE = "/complaints/process/{complaint_id}/reject"
TEMPLATES_PATH = "/masters/templates"


def lapor_time(value: datetime) -> str:
    """LAPOR!'s timestamp format: `d-m-Y H:i:s`, Indonesian (WIB) time."""
    return value.astimezone(WIB).strftime("%d-%m-%Y %H:%M:%S")


def fail(status: int, message: str) -> web.Response:
    """LAPOR!'s error shape."""
    return web.json_response({"success": False, "message": message}, status=status)


def ok(results: dict[str, Any], message: str = "OK") -> web.Response:
    """LAPOR!'s success shape."""
    return web.json_response({"success": True, "message": message, "results": results})


def _complaint_id(request: web.Request, state: SimulatorState) -> int | None:
    raw = request.match_info["complaint_id"]
    if not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw) if state.filing(int(raw)) is not None else None


def add_routes(app: web.Application, state: SimulatorState) -> None:
    """Register the calls on `app`, each named so a fault plan can target it."""

    async def upload(request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            return fail(400, "Expected multipart/form-data.")
        reader = await request.multipart()
        docs = []
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != "attachments[]":
                continue
            content = await part.read()
            document = state.store_document(
                part.filename or "file",
                part.headers.get("Content-Type", "application/octet-stream"),
                len(content),
            )
            docs.append({"id": document.id, "filename": document.filename})
        if not docs:
            return fail(422, "The attachments field is required.")
        return ok({"docs": docs})

    async def lookup(request: web.Request) -> web.Response:
        term = request.query.get("tags", "").strip()
        if not term:
            return fail(422, "The tags field is required.")
        rows = [
            {
                "id": f.complaint_id,
                "title": f.body.get("title"),
                "tags_raw": f.body.get("tags_raw"),
                "disposition_id": state.disposition(f.complaint_id),
                "created_at": lapor_time(f.received_at),
            }
            for f in state.filings
            if term in str(f.body.get("tags_raw", ""))
        ]
        return ok({"data": rows})

    async def followups(request: web.Request) -> web.Response:
        complaint_id = _complaint_id(request, state)
        if complaint_id is None:
            return fail(404, "Laporan tidak ditemukan.")
        rows = [
            {
                "id": entry.id,
                "content": entry.content,
                "institution_id": entry.institution_id,
                "created_at": lapor_time(entry.at),
            }
            for entry in state.followups.get(complaint_id, [])
        ]
        return ok({"data": rows})

    async def followup_add(request: web.Request) -> web.Response:
        form = await request.post()
        raw_id, content = str(form.get("complaint_id", "")), str(form.get("content", ""))
        if not raw_id.isdigit() or state.filing(int(raw_id)) is None:
            return fail(422, "The selected complaint id is invalid.")
        if not content.strip():
            return fail(422, "The content field is required.")
        raw_from = str(form.get("institution_from_id", ""))
        entry = state.add_followup(
            int(raw_id), content, int(raw_from) if raw_from.isdigit() else None
        )
        return ok({"data": {"id": entry.id}}, "Tindak lanjut berhasil ditambahkan.")

    async def forward(request: web.Request) -> web.Response:
        complaint_id = _complaint_id(request, state)
        if complaint_id is None:
            return fail(404, "Laporan tidak ditemukan.")
        try:
            body = await request.json()
        except ValueError:
            return fail(400, "The request body is not JSON.")
        if not isinstance(body, dict):
            return fail(400, "The request body must be a JSON object.")
        target = body.get("reason")
        if isinstance(target, bool) or not isinstance(target, int):
            return fail(422, "The reason must be an institution id.")
        if state.institution(target) is None:
            return fail(422, "The selected reason is invalid.")
        if body.get("not_authority") not in (1, "1", True):
            return fail(422, "Only 'not our authority' forwards are supported.")
        if state.disposition(complaint_id) == target:
            return fail(422, "The complaint is already with this institution.")
        state.forward(complaint_id, target, str(body.get("reason_description", "")))
        return ok({"data": {"id": complaint_id}}, "Laporan berhasil dialihkan.")

    async def templates(_request: web.Request) -> web.Response:
        return ok({"data": json.loads(json.dumps(state.templates))})

    app.router.add_post(UPLOAD_PATH, upload, name="upload")
    app.router.add_get(LOOKUP_PATH, lookup, name="lookup")
    app.router.add_get(FOLLOWUPS_ROUTE, followups, name="followups")
    app.router.add_post(FOLLOWUP_ADD_PATH, followup_add, name="followup_add")
    app.router.add_post(FORWARD_ROUTE, forward, name="forward")
    app.router.add_get(TEMPLATES_PATH, templates, name="templates")
