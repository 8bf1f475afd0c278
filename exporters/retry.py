"""When to try a failed filing again: a pure value, no I/O (procrastinate's RetryStrategy)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Retry after `wait_seconds`, or give up (dead letter)."""

    retry: bool
    wait_seconds: float = 0.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter and a budget of attempts."""

    base_seconds: float
    max_attempts: int
    max_seconds: float = 6 * 3600.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def decide(self, attempts: int, retry_after: float | None = None) -> RetryDecision:
        """After `attempts` failed attempts: wait (honouring the server's Retry-After) or stop."""
        if attempts >= self.max_attempts:
            return RetryDecision(retry=False)
        backoff = min(self.max_seconds, self.base_seconds * 2 ** (attempts - 1))
        # Jitter in [backoff/2, backoff] spreads retries so a recovering LAPOR! is not stampeded.
        wait = backoff / 2 + self.rng.random() * backoff / 2
        if retry_after is not None:
            wait = max(wait, retry_after)
        return RetryDecision(retry=True, wait_seconds=wait)
