"""Helpers for the review desk's tests: complaints waiting in REVIEW, the desk on loopback, a
real Chromium (Debian's, never a downloaded one) driven by Playwright."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from playwright.async_api import Browser, async_playwright
from prometheus_client import CollectorRegistry

from muara.domain import Decision, DecisionMode, NewComplaint, Reporter, State, Suggestion
from muara.exporters.metrics import Metrics
from muara.review.app import mount_review
from muara.review.context import Deadline, ReviewContext
from muara.review.passwords import hash_password
from muara.review.settings import ReviewSettings
from muara.store.records import Change
from muara.store.repository import Store
from muara.store.review_accounts import Role, User
from muara.testing import FakeClock
from muara.web import OpsContext, create_ops_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "rahasia-sekali-123"
AGENCY_CODES = ("DLH", "DPUBM", "PDAM", "BPBD", "DISHUB")
# Screenshots of the desk land here (git-ignored), for people to look at after a run.
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def waiting(
    n: int,
    text: str = "Sampah menumpuk di pinggir jalan sudah seminggu tidak diangkut",
    *,
    channel: str = "callcenter",
    minutes_apart: float = 10,
    start: datetime = datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
    prefix: str = "r",
) -> list[NewComplaint]:
    """`n` complaints, the first received earliest."""
    return [
        NewComplaint(
            channel=channel,
            source_id=f"{prefix}-{i}",
            received_at=start + timedelta(minutes=minutes_apart * i),
            text=f"{text} (laporan {i})",
            reporter=Reporter(name="Budi Santoso", contact="0812-3456-7890"),
            district="Gayungan",
            attachments=(),
        )
        for i in range(n)
    ]


def suggestion(agency: str | None, confidence: float = 0.55) -> Suggestion | None:
    """A suggestion below the auto-route threshold, with a plausible top 3."""
    if agency is None:
        return None
    others = [code for code in AGENCY_CODES if code != agency][:2]
    rest = (1 - confidence) / 2
    return Suggestion(
        agency, confidence, ((agency, confidence), (others[0], rest), (others[1], rest)), "m-1"
    )


async def to_review(
    store: Store, items: Sequence[tuple[NewComplaint, Suggestion | None]]
) -> list[int]:
    """Store complaints and move them through classify and route into REVIEW, as the stages do."""
    stored = await store.store_many([(complaint, None) for complaint, _ in items])
    ids = [result.id for result in stored]
    by_id = {result.id: s for result, (_, s) in zip(stored, items, strict=True)}
    batch = await store.claim(State.NEW, owner="t", limit=len(ids) + 10, lease_seconds=60)
    await store.apply(
        "t",
        [
            Change(r.id, State.NEW, State.CLASSIFIED, "classifier", suggestion=by_id[r.id])
            for r in batch
        ],
    )
    batch = await store.claim(State.CLASSIFIED, owner="t", limit=len(ids) + 10, lease_seconds=60)
    review = Decision(State.REVIEW, None, DecisionMode.AUTO, "auto", "confidence below threshold")
    await store.apply(
        "t",
        [Change(r.id, State.CLASSIFIED, State.REVIEW, "auto", decision=review) for r in batch],
    )
    return ids


@dataclass
class Desk:
    """The review desk served on loopback the way the daemon serves it."""

    url: str
    context: ReviewContext
    metrics: Metrics

    async def user(
        self, username: str, role: Role = Role.COORDINATOR, agencies: set[str] | None = None
    ) -> User:
        """An account with the test password."""
        return await self.context.accounts.add(
            username,
            hash_password(PASSWORD),
            role,
            None if agencies is None else frozenset(agencies),
        )


@asynccontextmanager
async def serve_desk(
    store: Store,
    clock: FakeClock,
    settings: ReviewSettings | None = None,
    deadline: Deadline | None = None,
) -> AsyncIterator[Desk]:
    """The ops app with the desk mounted at /review/ on 127.0.0.1, a free port."""
    metrics = Metrics(CollectorRegistry())
    ops = OpsContext(store, metrics, {}, set())
    app = create_ops_app(ops)
    context = mount_review(
        app,
        ops,
        store.engine,
        settings or ReviewSettings(),
        metrics,
        clock,
        agency_codes=lambda: AGENCY_CODES,
        deadline=deadline,
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Desk(f"http://{host}:{port}/review/", context, metrics)
    finally:
        await runner.cleanup()


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless; `playwright install` is never run."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
