"""What the review desk's handlers share: the store's views, settings, metrics, the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.exporters.metrics import Metrics
from muara.exporters.settings import SlaSettings
from muara.exporters.tracking import calendar_from
from muara.review.settings import ReviewSettings
from muara.review.throttle import LoginThrottle
from muara.store.records import Clock
from muara.store.review import Decided, ReviewDesk
from muara.store.review_accounts import Accounts, SessionInfo
from muara.store.review_queue import ReviewQueue

# The SLA hook: when a complaint received at a time must be filed to LAPOR! (working days).
Deadline = Callable[[datetime], datetime]


def forwarding_deadline(settings: SlaSettings) -> Deadline:
    """When a waiting complaint must have reached its agency: LAPOR!'s `verify_days` working days.

    LAPOR! gives itself 3 working days to verify a report and forward it to the agency
    (lapor-v3.md); a complaint still in our review queue is eating into those days. The deadline
    grows with the received time, so the queue's oldest-first order is also earliest-due-first.
    """
    calendar = calendar_from(settings)
    days = settings.verify_days

    def deadline(received_at: datetime) -> datetime:
        return calendar.deadline(received_at, days)

    return deadline


@dataclass
class ReviewContext:
    """Everything the desk needs; the daemon builds one (`build_context`)."""

    accounts: Accounts
    queue: ReviewQueue
    desk: ReviewDesk
    settings: ReviewSettings
    metrics: Metrics
    clock: Clock
    # Agency codes the model knows, beyond the agencies table (the choices of "route to").
    agency_codes: Callable[[], Iterable[str]] = field(default=lambda: ())
    # None: the queue shows each complaint's age only. See README, "Review desk".
    deadline: Deadline | None = None
    throttle: LoginThrottle = field(init=False)

    def __post_init__(self) -> None:
        self.throttle = LoginThrottle(self.settings.login_attempts_per_minute, self.clock)

    def count(self, decided: Decided) -> None:
        """Metrics of one coordinator decision: by mode, and agreement with the suggestion."""
        self.metrics.decisions.labels("coordinator", decided.target.value).inc()
        # Agreement is between an agency suggested and an agency chosen: a complaint routed
        # without a suggestion, or one the model itself sent to review ("__REVIEW__"), has
        # nothing to agree with and would only dilute the rate.
        suggested = decided.suggested
        if decided.agency is not None and suggested and not suggested.startswith("__"):
            outcome = "agreed" if decided.agency == decided.suggested else "overridden"
            self.metrics.review_suggestions.labels(outcome).inc()

    async def agency_choices(self) -> dict[str, str]:
        """Agencies a complaint may be routed to: code -> name."""
        choices = {code: code for code in self.agency_codes() if not code.startswith("__")}
        choices.update(await self.queue.agencies())
        return dict(sorted(choices.items()))


def build_context(
    engine: AsyncEngine,
    settings: ReviewSettings,
    metrics: Metrics,
    clock: Clock,
    *,
    agency_codes: Callable[[], Iterable[str]] | None = None,
    deadline: Deadline | None = None,
) -> ReviewContext:
    """The desk on a store."""
    return ReviewContext(
        accounts=Accounts(engine, clock=clock),
        queue=ReviewQueue(engine, clock=clock),
        desk=ReviewDesk(engine, clock=clock),
        settings=settings,
        metrics=metrics,
        clock=clock,
        agency_codes=agency_codes or (lambda: ()),
        deadline=deadline,
    )


REVIEW = web.AppKey("review", ReviewContext)
SESSION = web.RequestKey("review_session", SessionInfo)
