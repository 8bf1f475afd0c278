"""The supervisor: a failing task is logged once, restarted with backoff, and recovers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from muara.supervisor import Supervisor, TaskHealth


async def test_a_failing_task_is_logged_once_restarted_and_logs_its_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    attempts = 0
    recovered = asyncio.Event()
    restarts: list[str] = []

    async def flaky(health: TaskHealth) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            raise ConnectionError("mail.example.org refused warga@example.org")
        health.succeeded()
        recovered.set()
        await stop.wait()

    supervisor = Supervisor(
        stop, backoff_initial=0.01, backoff_max=0.02, on_restart=restarts.append
    )
    with caplog.at_level(logging.DEBUG, logger="muara.supervisor"):
        supervisor.start("collector:mail", flaky)
        async with asyncio.timeout(10):
            await recovered.wait()
        health = supervisor.health["collector:mail"]
        assert health.ok and health.restarts == 3 and restarts == ["collector:mail"] * 3
        assert await supervisor.shutdown(5) == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "ConnectionError" in errors[0].getMessage()
    assert any("recovered" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
    # The exception's message (which quotes an address) is not in the error line.
    assert "warga@example.org" not in errors[0].getMessage()
    assert health.stopped


async def test_a_task_still_failing_is_reported_not_ok() -> None:
    stop = asyncio.Event()

    async def broken(health: TaskHealth) -> None:
        raise RuntimeError("boom")

    supervisor = Supervisor(stop, backoff_initial=0.01, backoff_max=0.01)
    supervisor.start("stage:broken", broken)
    async with asyncio.timeout(10):
        while supervisor.health["stage:broken"].restarts < 2:
            await asyncio.sleep(0.01)
    health = supervisor.health["stage:broken"]
    assert not health.ok and health.last_error == "RuntimeError"
    await supervisor.shutdown(5)


async def test_shutdown_cancels_what_does_not_finish_in_time() -> None:
    stop = asyncio.Event()
    finished: list[str] = []

    async def polite(health: TaskHealth) -> None:
        await stop.wait()
        finished.append("polite")

    async def stubborn(health: TaskHealth) -> None:
        await asyncio.Event().wait()

    supervisor = Supervisor(stop)
    supervisor.start("polite", polite)
    supervisor.start("stubborn", stubborn)
    await asyncio.sleep(0)
    assert await supervisor.shutdown(0.2) == ["stubborn"]
    assert finished == ["polite"]
    assert all(task.done() for task in supervisor.tasks.values())
