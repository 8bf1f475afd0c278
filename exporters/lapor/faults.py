"""The simulator's fault plan: tests say which call fails how, and how often (issue 8).

A fault is taken by the next request to its route. Faults marked `after` let the call do its work
first (a complaint is created) and only then spoil the answer: the cases where LAPOR! has the
complaint but the caller cannot know.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler


class FaultKind(enum.StrEnum):
    """What goes wrong."""

    STATUS = "status"  # answer with `status` (500, 502, 503, …)
    RATE_LIMITED = "rate_limited"  # 429 with Retry-After
    SLOW = "slow"  # answer correctly after `delay` seconds
    HANG = "hang"  # no answer for `delay` seconds (the client times out)
    RESET = "reset"  # close the connection without an answer
    INVALID_JSON = "invalid_json"  # 200 with a body that is not JSON
    UNAUTHORIZED = "unauthorized"  # 401, as for an expired token


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned failure of one route (`file`, `upload`, `lookup`, `status`, `forward`, …)."""

    kind: FaultKind
    route: str = "file"
    after: bool = False  # spoil the answer only after the call did its work
    status: int = 500
    retry_after: float = 1.0
    delay: float = 0.0
    times: int = 1


@dataclass
class FaultPlan:
    """Faults waiting for their route, taken first in, first out."""

    pending: deque[Fault] = field(default_factory=deque)
    taken: list[Fault] = field(default_factory=list)
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, kind: FaultKind, route: str = "file", **options: object) -> Fault:
        """Plan a fault; `times` repeats it."""
        fault = Fault(kind, route, **options)  # type: ignore[arg-type]
        self.pending.append(fault)
        return fault

    def take(self, route: str) -> Fault | None:
        """The next fault for `route`, if any."""
        for fault in self.pending:
            if fault.route == route:
                self.pending.remove(fault)
                if fault.times > 1:
                    self.pending.appendleft(
                        Fault(**{**_fields(fault), "times": fault.times - 1})  # type: ignore[arg-type]
                    )
                self.taken.append(fault)
                return fault
        return None


def _fields(fault: Fault) -> dict[str, object]:
    return {name: getattr(fault, name) for name in Fault.__slots__}


def _status(fault: Fault) -> web.Response:
    if fault.kind is FaultKind.RATE_LIMITED:
        return web.json_response(
            {"success": False, "message": "Too Many Attempts."},
            status=429,
            headers={"Retry-After": f"{fault.retry_after:g}"},
        )
    if fault.kind is FaultKind.UNAUTHORIZED:
        return web.json_response({"success": False, "message": "Token expired."}, status=401)
    return web.json_response({"success": False, "message": "Server Error"}, status=fault.status)


async def apply_fault(
    fault: Fault, plan: FaultPlan, request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Serve `request` with `fault` applied."""
    if fault.after:
        answer = await handler(request)
        if answer.status >= 300:
            return answer  # the call failed on its own: nothing to spoil
    if fault.kind is FaultKind.SLOW:
        await asyncio.sleep(fault.delay)
        return answer if fault.after else await handler(request)
    if fault.kind is FaultKind.HANG:
        # Until the client has given up; a stopping simulator cuts it short.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(plan.closing.wait(), fault.delay)
        return web.json_response({"success": False, "message": "late"}, status=504)
    if fault.kind is FaultKind.RESET:
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)
    if fault.kind is FaultKind.INVALID_JSON:
        return web.Response(
            status=200, text='{"success": true, "complaint_id": ', content_type="application/json"
        )
    return _status(fault)
