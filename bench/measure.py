"""What several benchmarks time the same way."""

from __future__ import annotations

import resource
import time

import aiohttp


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def timed_gets(http: aiohttp.ClientSession, url: str, runs: int) -> list[float]:
    """Milliseconds each of `runs` GETs of `url` took, body read; any status but 200 stops it."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        async with http.get(url) as response:
            await response.read()
            assert response.status == 200, response.status
        times.append((time.perf_counter() - began) * 1000)
    return times
