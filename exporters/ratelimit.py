"""A token bucket per target: at most `rate` calls a second on average, bursts up to `burst`.

Pure arithmetic on an injected monotonic clock: `reserve()` takes a token and says how long the
caller must wait before using it, so the stage does the sleeping and tests never need to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """`rate` tokens a second (0: unlimited), holding at most `burst`."""

    rate: float
    burst: int
    clock: Callable[[], float]
    _tokens: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate < 0 or self.burst < 1:
            raise ValueError("rate must be >= 0 and burst >= 1")
        self._tokens = float(self.burst)
        self._at = self.clock()

    def reserve(self) -> float:
        """Take a token; seconds to wait before the call it pays for (0: go now)."""
        if self.rate == 0:
            return 0.0
        now = self.clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
