"""A circuit breaker per target: stop calling a LAPOR! that is down, try again after a cooldown.

Pure state with an injected clock; the stage asks `allow()` before a call and reports each
outcome. Only failures that say "the service is down" count (no answer, 5xx, 429, 401):
a refused request (a 4xx) is the request's fault, not the service's.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from muara.store.records import Clock


class BreakerState(enum.StrEnum):
    """Closed: calls flow. Open: no calls until the cooldown ends. Half-open: one trial call."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


# The value of the state gauge for each state.
STATE_VALUES = {BreakerState.CLOSED: 0, BreakerState.OPEN: 1, BreakerState.HALF_OPEN: 2}


@dataclass
class CircuitBreaker:
    """Opens after `threshold` consecutive failures; lets one trial through after `cooldown`."""

    threshold: int
    cooldown: timedelta
    clock: Clock
    on_change: Callable[[BreakerState], None] | None = None
    failures: int = 0
    opened_at: datetime | None = None
    _trial_out: bool = field(default=False, repr=False)

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker turns half-open once its cooldown is over)."""
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self.opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def reopens_at(self) -> datetime | None:
        """When an open breaker lets a trial call through."""
        return None if self.opened_at is None else self.opened_at + self.cooldown

    def allow(self) -> bool:
        """May a call be made now? In half-open, only the first caller gets a yes."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_out:
            self._trial_out = True
            return True
        return False

    def succeeded(self) -> None:
        """A call got a usable answer: close."""
        was = self.state
        self.failures, self.opened_at, self._trial_out = 0, None, False
        if was is not BreakerState.CLOSED:
            self._changed()

    def failed(self) -> None:
        """A call found the service down: count it, open at the threshold or after a trial."""
        was = self.state
        self.failures += 1
        if was is BreakerState.HALF_OPEN or self.failures >= self.threshold:
            self.opened_at, self._trial_out = self.clock(), False
            if was is not BreakerState.OPEN:
                self._changed()

    def released(self) -> None:
        """A trial call was not made after all (e.g. nothing to send): let another try."""
        self._trial_out = False

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.state)
