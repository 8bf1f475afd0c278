"""The review desk as an aiohttp application, mounted by the daemon under /review/."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.exporters.metrics import Metrics
from muara.review import auth, views
from muara.review.context import REVIEW, Deadline, ReviewContext, build_context
from muara.review.settings import ReviewSettings
from muara.store.records import Clock
from muara.web import OpsContext

PREFIX = "/review/"
WIB = ZoneInfo("Asia/Jakarta")


def _local(value: datetime | None) -> str:
    """A time as the office reads it (WIB)."""
    return "-" if value is None else value.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")


def create_review_app(context: ReviewContext) -> web.Application:
    """The desk; every route needs a session except the login page and static files."""
    app = web.Application(middlewares=[auth.security_middleware])
    app[REVIEW] = context
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("muara.review", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        filters={"local": _local},
    )
    static = Path(str(resources.files("muara.review").joinpath("static")))
    app.router.add_static("/static/", static, name="static")
    app.router.add_get("/", views.queue_page, name="queue")
    app.router.add_get("/login", auth.login_form, name="login")
    app.router.add_post("/login", auth.login, name="login_post")
    app.router.add_post("/logout", auth.logout, name="logout")
    app.router.add_post("/accept", views.bulk_accept, name="bulk_accept")
    app.router.add_get("/audit", views.audit_page, name="audit")
    app.router.add_get("/complaints/{id}", views.complaint_page, name="complaint")
    app.router.add_post("/complaints/{id}/accept", views.accept, name="accept")
    app.router.add_post("/complaints/{id}/route", views.route, name="route")
    app.router.add_post("/complaints/{id}/duplicate", views.duplicate, name="duplicate")
    app.router.add_post("/complaints/{id}/discard", views.discard, name="discard")
    app.router.add_post("/complaints/{id}/reveal", views.reveal, name="reveal")
    return app


def mount_review(
    ops_app: web.Application,
    ops: OpsContext,
    engine: AsyncEngine,
    settings: ReviewSettings,
    metrics: Metrics,
    clock: Clock,
    *,
    agency_codes: Callable[[], Iterable[str]] | None = None,
    deadline: Deadline | None = None,
) -> ReviewContext:
    """Serve the desk under /review/ on the ops server and add its queue gauges to /metrics."""
    context = build_context(
        engine, settings, metrics, clock, agency_codes=agency_codes, deadline=deadline
    )
    ops_app.add_subapp(PREFIX, create_review_app(context))

    async def queue_gauges() -> None:
        size, oldest = await context.queue.stats()
        metrics.review_queue.size = size
        age = (clock() - oldest).total_seconds() if oldest is not None else 0.0
        metrics.review_queue.oldest_age_seconds = max(0.0, age)

    ops.scrape_hooks.append(queue_gauges)
    return context
