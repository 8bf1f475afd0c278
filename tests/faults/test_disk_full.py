"""The disk under the spool full: a clear error, the files left in place, picked up once freed.

The embedded layout keeps the SQLite store and the spool on one disk (`muara-data/`), so both
go on a small tmpfs of the test's own. The spool's own moves (hard links, renames) need no free
space; what fails is the store's commit (SQLITE_FULL), and with it every stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from muara.store.engine import create_engine, migrate
from tests.faults.checks import assert_exactly_once, settled
from tests.faults.daemon import fault_settings, running_daemon, write_calls
from tests.test_daemon import eventually

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("starter_in_place"),
]

DISK_BYTES = 16 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs mounted for this test (root may mount; otherwise the test is skipped)."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "--lazy", str(mountpoint)], check=False, capture_output=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; the file, to free the space again."""
    filler = disk / "filler"
    block = b"\0" * (64 * 1024)
    with filler.open("wb", buffering=0) as f:
        while True:
            try:
                f.write(block)
            except OSError as err:
                assert err.errno == errno.ENOSPC, err
                break
    small = b"\0" * 512
    with filler.open("ab", buffering=0) as f, contextlib.suppress(OSError):
        while f.write(small):  # the last few bytes too
            pass
    return filler


async def test_a_full_disk_is_reported_and_the_files_wait(
    small_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="muara")
    url = f"sqlite+aiosqlite:///{small_disk / 'muara.db'}"
    engine = create_engine(url)
    await migrate(engine)
    spool = small_disk / "spool"
    inbox = spool / "inbox"
    settings = fault_settings(
        url,
        tmp_path,
        spool=[{"name": "cc", "path": spool, "poll_seconds": 0.05, "stable_seconds": 0}],
    )
    inputs: set[tuple[str, str]] = set()
    try:
        async with running_daemon(settings) as daemon:
            assert daemon.simulator is not None and daemon.supervisor is not None
            lapor = daemon.simulator.state
            inputs |= write_calls(inbox, "first.csv", range(0, 50))

            async def first_in() -> bool:
                return not (inbox / "first.csv").exists() and await settled(engine, len(inputs))

            await eventually(first_in)
            # The next export is written while there is room, and dropped in once the disk is
            # full (a rename needs no space): the daemon meets it with nowhere to write.
            big = write_calls(spool / "staging", "big.csv", range(50, 3050))
            filler = await asyncio.to_thread(fill, small_disk)
            (spool / "staging" / "big.csv").rename(inbox / "big.csv")
            inputs |= big

            def reported() -> bool:
                return any(
                    "SQLITE_FULL" in r.getMessage() and str(inbox) in r.getMessage()
                    for r in caplog.records
                    if r.levelno >= logging.ERROR
                )

            async def full_reported() -> bool:
                return reported()

            await eventually(full_reported)
            await asyncio.sleep(1)  # a few more polls fail meanwhile
            assert (inbox / "big.csv").exists(), "the file stays in inbox/ while the disk is full"
            assert not (spool / "done" / "big.csv").exists()
            health = daemon.supervisor.health["collector:cc"]
            assert health.last_error == "OperationalError: SQLITE_FULL"

            filler.unlink()

            async def all_in() -> bool:
                return not any(inbox.iterdir()) and await settled(engine, len(inputs))

            await eventually(all_in, timeout=120)
            assert (spool / "done" / "big.csv").exists()
            result = await assert_exactly_once(engine, lapor, inputs)
            assert result.filed > 0
    finally:
        await engine.dispose()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("cannot take files in" in m for m in messages) == 1, "said once, not per poll"
    assert any("spool cc: reading again" in m for m in messages)
