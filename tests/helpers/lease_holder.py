"""A replica's source lease on its own, in a process a test can SIGSTOP (hang) and SIGCONT.

Usage: python -m tests.helpers.lease_holder STORE_URL SOURCE STALL_SECONDS
Prints "held" once it holds SOURCE, then asks again every 0.2 s and prints "lost" the first time
the answer is no (its lock session was ended while it hung).
"""

from __future__ import annotations

import asyncio
import sys

from muara.store.engine import create_engine
from muara.store.source_leases import AdvisoryLeases


async def main(url: str, source: str, stall_seconds: float) -> None:
    engine = create_engine(url)
    leases = AdvisoryLeases(engine, stall_seconds=stall_seconds)
    while not await leases.hold(source):
        await asyncio.sleep(0.2)
    print("held", flush=True)
    while await leases.hold(source):
        await asyncio.sleep(0.2)
    print("lost", flush=True)
    await leases.close()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
