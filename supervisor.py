"""Named, supervised asyncio tasks: a task that fails is logged once, restarted with backoff,
and reported in /readyz until it works again (Home Assistant's coordinator, procrastinate's worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from muara.errors import error_summary
from muara.store.records import Clock, utc_now

log = logging.getLogger(__name__)

TaskBody = Callable[["TaskHealth"], Awaitable[None]]


@dataclass
class TaskHealth:
    """What /readyz and `muara status` know of one task."""

    name: str
    clock: Clock = field(default=utc_now, repr=False)
    failing_since: datetime | None = None
    last_error: str | None = None
    last_success: datetime | None = None
    restarts: int = 0
    stopped: bool = False
    # Healthy but idle on purpose (e.g. another replica reads this source), shown in /readyz.
    standby: str | None = None

    @property
    def ok(self) -> bool:
        """True while the task runs and its last attempt worked."""
        return self.failing_since is None and not self.stopped

    def succeeded(self) -> None:
        """Called by the task after each successful unit of work (a poll, a batch)."""
        if self.failing_since is not None:
            log.info("task %s recovered after failing since %s", self.name, self.failing_since)
        self.failing_since = None
        self.last_error = None
        self.standby = None
        self.last_success = self.clock()

    def standing_by(self, why: str) -> None:
        """Called instead of `succeeded` when the task is deliberately idle."""
        if self.standby is None:
            log.info("task %s standing by: %s", self.name, why)
        self.succeeded()
        self.standby = why

    def failed(self, err: BaseException) -> None:
        """Record a failure; only the first of a run of failures is logged at ERROR."""
        # The class and our own message only: library messages may quote input (personal data).
        summary = error_summary(err)  # with ENOSPC / SQLITE_FULL: a full disk says so
        if self.failing_since is None:
            self.failing_since = self.clock()
            log.error("task %s failed (%s); restarting with backoff", self.name, summary)
            log.debug("task %s failure detail", self.name, exc_info=err)
        else:
            log.debug("task %s failed again (%s)", self.name, summary)
        self.last_error = summary


class Supervisor:
    """Runs each task body until `stop` is set, restarting it with exponential backoff."""

    def __init__(
        self,
        stop: asyncio.Event,
        *,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        on_restart: Callable[[str], None] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.stop = stop
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.on_restart = on_restart
        self.clock = clock
        self.health: dict[str, TaskHealth] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, body: TaskBody) -> None:
        """Start a supervised task named `name`."""
        if name in self.tasks:
            raise ValueError(f"task {name!r} already started")
        health = TaskHealth(name, clock=self.clock)
        self.health[name] = health
        self.tasks[name] = asyncio.create_task(self._supervise(body, health), name=name)

    async def _supervise(self, body: TaskBody, health: TaskHealth) -> None:
        delay = self.backoff_initial
        while not self.stop.is_set():
            try:
                await body(health)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - a supervisor must outlive any task failure
                health.failed(err)
                health.restarts += 1
                if self.on_restart is not None:
                    self.on_restart(health.name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), timeout=delay)
                delay = min(self.backoff_max, delay * 2)
            else:
                delay = self.backoff_initial
                if not self.stop.is_set():
                    # A body returns only when told to stop; returning early is a bug to surface.
                    health.failed(RuntimeError("task returned before shutdown"))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), timeout=delay)
        health.stopped = True

    async def shutdown(self, grace_seconds: float) -> list[str]:
        """Wait up to `grace_seconds` for tasks to finish their work; cancel the rest; name them."""
        self.stop.set()
        if not self.tasks:
            return []
        _, pending = await asyncio.wait(self.tasks.values(), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        results = await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        for name, result in zip(self.tasks, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("task %s ended with %s", name, type(result).__name__)
        return sorted(task.get_name() for task in pending)
