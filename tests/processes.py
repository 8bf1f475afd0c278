"""Running `muara` commands as real subprocesses and reading what they log."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from tests import pii_scan

REPO = Path(__file__).resolve().parents[1]


class MuaraProcess:
    """A `python -m muara …` subprocess whose stderr is collected line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._new_line = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        pii_scan.track_output(f"muara subprocess {process.pid}", self.lines)

    @classmethod
    async def start(
        cls, *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> MuaraProcess:
        """Start `muara ARGS…` with the given extra environment."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "muara",
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd or REPO,
            # At DEBUG, like the in-process tests: the log scan reads this output at teardown.
            env={**os.environ, "MUARA_LOG_LEVEL": "DEBUG", **(env or {})},
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
            self._new_line.set()

    async def wait_for_line(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first logged line matching `pattern` (a regex), waiting for it if need be."""
        regex = re.compile(pattern)
        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self.lines)
                if self.process.returncode is not None and self._reader.done():
                    raise AssertionError(
                        f"process exited {self.process.returncode} before logging {pattern!r}:\n"
                        + "\n".join(self.lines[-20:])
                    )
                self._new_line.clear()
                try:
                    await asyncio.wait_for(self._new_line.wait(), 0.5)
                except TimeoutError:
                    continue

    async def stop(self, sig: int, timeout: float = 30) -> int:
        """Send `sig` and wait for the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(sig)
        async with asyncio.timeout(timeout):
            code = await self.process.wait()
            await self._reader
        return code

    async def kill(self) -> None:
        """Make sure the process is gone (test clean-up)."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        await self._reader
