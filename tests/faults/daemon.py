"""Running the daemon for a fault test, and feeding it call-center exports through the spool."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from muara.classify.starter import starter_examples
from muara.config import Settings
from muara.daemon import Daemon
from tests.test_daemon import HEADER, daemon_settings, run_daemon

Key = tuple[str, str]
CHANNEL = "callcenter"
_TEXTS = [text.replace(",", " ").replace("\n", " ") for text, _ in starter_examples()]


class ShiftedClock:
    """The real time plus an offset that the test moves: time goes on as usual between jumps
    (so leases and stable files behave as in production), and jumps forward or back at will."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def jump(self, seconds: float) -> datetime:
        """Move the clock by `seconds` (negative: backwards); the new time."""
        self.offset += timedelta(seconds=seconds)
        return self()


def fault_settings(store_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """`daemon_settings` with short leases and restart backoff: a fault test waits on real time
    for both (a batch cut off by the fault is redone once its lease expires)."""
    values: dict[str, Any] = {
        "workers": {
            "idle_seconds": 0.05,
            "shutdown_timeout": 5,
            "lease_seconds": 5,
            "restart_backoff_max": 2,
        },
        # An unknown outcome is looked up only once the call itself must have ended (its
        # timeout): sooner, a call still in flight is not found and the complaint is filed
        # again (see test_clock_jump_replicas.py).
        "lapor": {"timeout_seconds": 5, "reconcile_after_seconds": 6, "rate_per_second": 0},
    }
    values.update(overrides)
    return daemon_settings(store_url, tmp_path, **values)


def write_calls(inbox: Path, name: str, ids: range, *, prefix: str = "call") -> set[Key]:
    """An export of one row per id, dropped in whole (written aside, then renamed in): its keys.

    The texts are the starter model's examples, so every row is classified and routed.
    """
    inbox.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for i in ids:
        text = _TEXTS[i % len(_TEXTS)]
        lines.append(
            f"{prefix}-{i},2026-11-20T08:{i % 60:02d}:00+07:00,Warga,0812-0000-{i % 10000:04d},"
            f"umum,{text} ({prefix} {i}),Gubeng,\n"
        )
    hidden = inbox / f".{name}.part"
    hidden.write_text("".join(lines), encoding="utf-8")
    os.rename(hidden, inbox / name)
    return {(CHANNEL, f"{prefix}-{i}") for i in ids}


# The fault tests run the daemon exactly as the other daemon tests do, on their own clock.
running_daemon = run_daemon


async def readyz(daemon: Daemon) -> dict[str, Any]:
    """The daemon's /readyz answer (its status code agrees with its body)."""
    timeout = aiohttp.ClientTimeout(total=30)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"{daemon.ops_url}/readyz") as response,
    ):
        body: dict[str, Any] = await response.json()
        assert (response.status == 200) == (body["status"] == "ready"), body
        return body
