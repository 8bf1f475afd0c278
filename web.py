"""The daemon's HTTP server for ops: /healthz, /readyz and /metrics."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from muara.exporters.metrics import Metrics
from muara.store.repository import Store
from muara.supervisor import TaskHealth

log = logging.getLogger(__name__)


@dataclass
class OpsContext:
    """What the ops endpoints look at."""

    store: Store
    metrics: Metrics
    health: dict[str, TaskHealth]
    # Tasks that read a source: /readyz wants each to have polled successfully at least once.
    sources: set[str] = field(default_factory=set)
    # A check is a bool or a function read at each request (e.g. the LAPOR! circuit breaker).
    extra_checks: dict[str, bool | Callable[[], bool]] = field(default_factory=dict)
    # Refreshed before each scrape: collectors of store-derived gauges (the exporter's).
    scrape_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


OPS = web.AppKey("ops", OpsContext)


async def healthz(_request: web.Request) -> web.Response:
    """Alive: the event loop answers."""
    return web.json_response({"status": "ok"})


async def readiness(ops: OpsContext) -> tuple[bool, dict[str, object]]:
    """Whether the daemon is ready, and each check's finding (what /readyz shows)."""
    checks: dict[str, object] = {}
    ready = True
    try:
        await ops.store.ping()
        checks["store"] = "ok"
    except (SQLAlchemyError, OSError) as err:
        ready = False
        checks["store"] = f"unreachable ({type(err).__name__})"
    tasks: dict[str, object] = {}
    for name, health in sorted(ops.health.items()):
        entry: dict[str, object] = {
            "ok": health.ok,
            "restarts": health.restarts,
            "last_success": health.last_success.isoformat() if health.last_success else None,
        }
        if health.last_error:
            entry["last_error"] = health.last_error
        if health.standby:
            entry["standby"] = health.standby
        if not health.ok or (name in ops.sources and health.last_success is None):
            ready = False
            entry["ok"] = False
        tasks[name] = entry
    checks["tasks"] = tasks
    for name, check in ops.extra_checks.items():
        ok = check() if callable(check) else check
        checks[name] = "ok" if ok else "failing"
        ready = ready and ok
    return ready, checks


async def readyz(request: web.Request) -> web.Response:
    """Ready: the store answers, no task is failing, every source has polled successfully."""
    ready, checks = await readiness(request.app[OPS])
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition; store gauges and readiness are computed now, at scrape time."""
    ops = request.app[OPS]
    ready, _checks = await readiness(ops)
    ops.metrics.ready.set(1 if ready else 0)
    try:
        ops.metrics.snapshot.report = await ops.store.status()
    except (SQLAlchemyError, OSError) as err:
        log.warning("metrics: store unreachable (%s); store gauges omitted", type(err).__name__)
        ops.metrics.snapshot.report = None
    for hook in ops.scrape_hooks:
        try:
            await hook()
        except (SQLAlchemyError, OSError) as err:
            log.warning("metrics: a store gauge failed (%s); omitted", type(err).__name__)
    body = generate_latest(ops.metrics.registry)
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response


def create_ops_app(ops: OpsContext) -> web.Application:
    """The ops application; the daemon mounts it on its configured loopback port."""
    app = web.Application()
    app[OPS] = ops
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
