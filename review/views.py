"""The desk's pages: the queue, a complaint, and the decisions made from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from muara.review.auth import address
from muara.review.context import REVIEW, SESSION, ReviewContext
from muara.review.masking import mask_contact, mask_name
from muara.store.review import (
    ConflictError,
    Decided,
    DeniedError,
    InvalidDecisionError,
    ReviewError,
)
from muara.store.review_accounts import Role, User
from muara.store.review_queue import QueueFilter

# What the queue says after a decision; the URL carries the code, never free text.
NOTICES = {
    "accepted": "Aduan #{id} diteruskan ke {agency} (saran diterima).",
    "routed": "Aduan #{id} diteruskan ke {agency}.",
    "duplicate": "Aduan #{id} ditandai duplikat dari #{of}.",
    "discarded": "Aduan #{id} dibuang.",
    "bulk": "{n} aduan diteruskan sesuai saran; {skipped} dilewati.",
}
STATUS = {InvalidDecisionError: 400, DeniedError: 403, ConflictError: 409}


def _context(request: web.Request) -> tuple[ReviewContext, User]:
    return request.app[REVIEW], request[SESSION].user


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(str(value).strip().lstrip("#"))
    except (TypeError, ValueError):
        return default


def _notice(request: web.Request) -> str | None:
    template = NOTICES.get(request.query.get("ok", ""))
    if template is None:
        return None
    values = {key: request.query.get(key, "?")[:64] for key in ("id", "agency", "of", "n")}
    values["skipped"] = request.query.get("skipped", "0")[:8]
    return template.format(**values)


def _age(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} mnt"
    if seconds < 86400:
        return f"{seconds // 3600} jam"
    return f"{seconds // 86400} hari"


async def queue_page(request: web.Request) -> web.Response:
    """The REVIEW queue, oldest first, filtered by channel and suggested agency."""
    context, user = _context(request)
    channel = request.query.get("channel") or None
    agency = request.query.get("agency") or None
    page = max(1, _int(request.query.get("page"), 1) or 1)
    result = await context.queue.page(
        user, QueueFilter(channel, agency, page, context.settings.page_size)
    )
    now = context.clock()
    rows = []
    for item in result.items:
        due = context.deadline(item.received_at) if context.deadline else None
        rows.append(
            {
                "item": item,
                "age": _age(now, item.received_at),
                "due": due,
                "overdue": due is not None and due < now,
            }
        )
    choices = await context.agency_choices()
    filters = {key: value for key, value in (("channel", channel), ("agency", agency)) if value}
    return aiohttp_jinja2.render_template(
        "queue.html",
        request,
        {
            "user": user,
            "session": request[SESSION],
            "page": result,
            "rows": rows,
            "channels": await context.queue.channels(),
            "agencies": choices,
            "visible_agencies": {
                code: name for code, name in choices.items() if user.may_see(code)
            },
            "channel": channel,
            "agency": agency,
            "has_deadline": context.deadline is not None,
            "notice": _notice(request),
            "error": "Pilih aduan dulu." if request.query.get("error") == "bulk-empty" else None,
            "prev_url": _query(filters, page - 1) if page > 1 else None,
            "next_url": _query(filters, page + 1) if page < result.pages else None,
        },
    )


def _query(filters: dict[str, str], page: int) -> str:
    return "?" + urlencode({**filters, "page": page})


async def _render_complaint(
    request: web.Request,
    complaint_id: int,
    *,
    reveal: bool = False,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    context, user = _context(request)
    found = await context.queue.complaint(complaint_id)
    if found is None:
        raise web.HTTPNotFound(text=f"Aduan #{complaint_id} tidak ada.")
    view, owner = found
    if not user.may_see(owner):
        await context.desk.audit(user, "denied", complaint_id, address=address(request))
        raise web.HTTPForbidden(text=f"Aduan #{complaint_id} bukan untuk instansi Anda.")
    now = context.clock()
    return aiohttp_jinja2.render_template(
        "complaint.html",
        request,
        {
            "user": user,
            "session": request[SESSION],
            "c": view,
            "age": _age(now, view.received_at),
            "due": context.deadline(view.received_at) if context.deadline else None,
            "reveal": reveal,
            "name": view.reporter_name if reveal else mask_name(view.reporter_name),
            "contact": view.reporter_contact if reveal else mask_contact(view.reporter_contact),
            "agencies": await context.agency_choices(),
            "next_id": await context.queue.next_id(user, after=complaint_id),
            "notice": _notice(request),
            "error": error,
        },
        status=status,
    )


async def complaint_page(request: web.Request) -> web.Response:
    """One complaint with everything needed to decide it."""
    return await _render_complaint(request, _complaint_id(request))


def _complaint_id(request: web.Request) -> int:
    complaint_id = _int(request.match_info["id"])
    if complaint_id is None:
        raise web.HTTPNotFound()
    return complaint_id


async def reveal(request: web.Request) -> web.Response:
    """Show the reporter's name and contact; audited."""
    context, user = _context(request)
    complaint_id = _complaint_id(request)
    found = await context.queue.complaint(complaint_id)
    if found is not None and user.may_see(found[1]):
        await context.desk.audit(user, "reveal", complaint_id, address=address(request))
    return await _render_complaint(request, complaint_id, reveal=True)


async def _after(request: web.Request, decided: Decided, **notice: Any) -> web.Response:
    """After a decision: on to the next complaint waiting, with what was done."""
    context, user = _context(request)
    context.count(decided)
    next_id = await context.queue.next_id(user, after=decided.complaint_id)
    if decided.agency is not None:
        notice["agency"] = decided.agency
    query = "?" + urlencode({"id": decided.complaint_id, **notice})
    if next_id is None:
        raise web.HTTPSeeOther(str(request.app.router["queue"].url_for()) + query)
    raise web.HTTPSeeOther(str(request.app.router["complaint"].url_for(id=str(next_id))) + query)


async def _decide_or_show(request: web.Request, decide: Any, **notice: Any) -> web.Response:
    complaint_id = _complaint_id(request)
    try:
        decided: Decided = await decide(complaint_id)
    except ReviewError as err:
        status = STATUS.get(type(err), 400)
        if status == 403:
            raise web.HTTPForbidden(text=str(err)) from err
        return await _render_complaint(request, complaint_id, error=str(err), status=status)
    return await _after(request, decided, **notice)


async def accept(request: web.Request) -> web.Response:
    """One click: route to the suggested agency."""
    context, user = _context(request)

    async def decide(complaint_id: int) -> Decided:
        return await context.desk.accept_one(user, complaint_id, address(request))

    return await _decide_or_show(request, decide, ok="accepted")


async def route(request: web.Request) -> web.Response:
    """Route to another agency, chosen from the known ones."""
    context, user = _context(request)
    form = await request.post()
    agency = str(form.get("agency", "")).strip()
    # "DLH — Dinas Lingkungan Hidup" from the list, or the bare code.
    agency = agency.split(" — ", 1)[0].strip()

    async def decide(complaint_id: int) -> Decided:
        if agency not in await context.agency_choices():
            raise InvalidDecisionError(f"instansi {agency or '(kosong)'} tidak dikenal")
        return await context.desk.route(
            user, complaint_id, agency, str(form.get("note", "")), address(request)
        )

    return await _decide_or_show(request, decide, ok="routed")


async def duplicate(request: web.Request) -> web.Response:
    """Mark as a duplicate of another complaint."""
    context, user = _context(request)
    form = await request.post()
    of_id = _int(form.get("of"))

    async def decide(complaint_id: int) -> Decided:
        if of_id is None:
            raise InvalidDecisionError("isi nomor aduan aslinya")
        return await context.desk.mark_duplicate(user, complaint_id, of_id, address(request))

    return await _decide_or_show(request, decide, ok="duplicate", of=of_id)


async def discard(request: web.Request) -> web.Response:
    """Discard with a reason."""
    context, user = _context(request)
    form = await request.post()
    reason = str(form.get("reason", ""))

    async def decide(complaint_id: int) -> Decided:
        return await context.desk.discard(user, complaint_id, reason, address(request))

    return await _decide_or_show(request, decide, ok="discarded")


async def bulk_accept(request: web.Request) -> web.Response:
    """Accept the suggestion for every selected complaint."""
    context, user = _context(request)
    form = await request.post()
    ids = [i for value in form.getall("ids", []) if (i := _int(value)) is not None]
    queue_url = str(request.app.router["queue"].url_for())
    if not ids:
        raise web.HTTPSeeOther(queue_url + "?error=bulk-empty")
    done, skipped = await context.desk.accept(user, ids[:500], address(request))
    for decided in done:
        context.count(decided)
    back = {k: v for k in ("channel", "agency") if (v := str(form.get(k, "")))}
    query = urlencode({**back, "ok": "bulk", "n": len(done), "skipped": len(skipped)})
    raise web.HTTPSeeOther(f"{queue_url}?{query}")


async def audit_page(request: web.Request) -> web.Response:
    """The latest entries of the audit log (admins only)."""
    context, user = _context(request)
    if user.role is not Role.ADMIN:
        raise web.HTTPForbidden(text="Hanya admin.")
    return aiohttp_jinja2.render_template(
        "audit.html",
        request,
        {
            "user": user,
            "session": request[SESSION],
            "entries": await context.desk.recent_audit(200),
        },
    )
