"""Login attempts per client address: a sliding window in memory, on the injected clock."""

from __future__ import annotations

from collections import deque
from datetime import timedelta

from muara.store.records import Clock


class LoginThrottle:
    """At most `limit` attempts per address in any `window`; the rest are refused (HTTP 429).

    In memory on purpose: it blunts password spraying from one address without a write per
    attempt; the lock-out per account (in the store) is what holds across replicas.
    """

    def __init__(self, limit: int, clock: Clock, window: timedelta = timedelta(minutes=1)) -> None:
        self.limit = limit
        self.clock = clock
        self.window = window
        self._seen: dict[str, deque[float]] = {}

    def allow(self, address: str) -> bool:
        """Count an attempt from `address`; False when it is over the limit."""
        now = self.clock().timestamp()
        start = now - self.window.total_seconds()
        for key in [key for key, times in self._seen.items() if not times or times[-1] < start]:
            del self._seen[key]  # forget idle addresses: memory stays bounded
        times = self._seen.setdefault(address, deque())
        while times and times[0] < start:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True
