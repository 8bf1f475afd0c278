"""The review queue by the LAPOR! forwarding deadline, its filters, and the agreement metric."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from muara.daemon import Daemon
from muara.exporters.lapor.payload import WIB
from muara.exporters.metrics import Metrics
from muara.exporters.settings import SlaSettings
from muara.review.app import mount_review
from muara.review.context import forwarding_deadline
from muara.review.passwords import hash_password
from muara.review.settings import ReviewSettings
from muara.store.engine import create_engine
from muara.store.records import utc_now
from muara.store.repository import Store
from muara.store.review_accounts import Accounts, Role
from muara.testing import FakeClock
from muara.web import OpsContext, create_ops_app
from tests.review_helpers import AGENCY_CODES, PASSWORD, suggestion, to_review, waiting
from tests.test_daemon import daemon_settings

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ROW = re.compile(r'<tr data-id="(\d+)"[^>]*?(class="overdue")?>')
DUE = re.compile(r"<td>(\d\d-\d\d-\d{4} \d\d:\d\d WIB)</td>")


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # Friday morning: Monday, Tuesday, Wednesday; due at the end of Wednesday (WIB).
        (datetime(2026, 11, 20, 8, 0, tzinfo=WIB), datetime(2026, 11, 26, tzinfo=WIB)),
        # Late Friday evening in WIB is still Friday, although it is Friday afternoon in UTC.
        (datetime(2026, 11, 20, 16, 30, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=WIB)),
        # Christmas: collective leave on the 24th, the holiday on the 25th, then a weekend.
        (datetime(2026, 12, 23, 9, 0, tzinfo=WIB), datetime(2026, 12, 31, tzinfo=WIB)),
    ],
)
def test_the_forwarding_deadline_counts_lapors_working_days(
    received: datetime, due: datetime
) -> None:
    assert forwarding_deadline(SlaSettings())(received) == due


def test_the_forwarding_deadline_follows_the_sla_settings() -> None:
    received = datetime(2026, 11, 20, 8, 0, tzinfo=WIB)
    days_off = SlaSettings(verify_days=1, extra_days_off=[date(2026, 11, 23)])
    assert forwarding_deadline(days_off)(received) == datetime(2026, 11, 25, tzinfo=WIB)


@asynccontextmanager
async def desk_with_deadline(store: Store, clock: FakeClock) -> AsyncIterator[tuple[str, Metrics]]:
    """The desk as the daemon mounts it in the embedded default: with the forwarding deadline."""
    metrics = Metrics(CollectorRegistry())
    ops = OpsContext(store, metrics, {}, set())
    app = create_ops_app(ops)
    context = mount_review(
        app,
        ops,
        store.engine,
        ReviewSettings(page_size=10),
        metrics,
        clock,
        agency_codes=lambda: AGENCY_CODES,
        deadline=forwarding_deadline(SlaSettings()),
    )
    await context.accounts.add("siti", hash_password(PASSWORD), Role.COORDINATOR, None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/review/", metrics
    finally:
        await runner.cleanup()


@asynccontextmanager
async def logged_in(url: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{url}login") as page:
            token = CSRF.search(await page.text())
        assert token is not None
        async with http.post(
            f"{url}login",
            data={"csrf": token.group(1), "username": "siti", "password": PASSWORD},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
        yield http


async def queue(
    http: aiohttp.ClientSession, url: str
) -> tuple[list[int], list[str], set[int], str]:
    """Ids in the order shown, their deadlines, the overdue ones, and the page's CSRF token."""
    async with http.get(url) as page:
        assert page.status == 200
        html = await page.text()
    rows = ROW.findall(html)
    token = CSRF.search(html)
    assert token is not None
    return (
        [int(i) for i, _ in rows],
        DUE.findall(html),
        {int(i) for i, overdue in rows if overdue},
        token.group(1),
    )


async def test_the_queue_is_sorted_by_forwarding_deadline_then_age_and_shows_it(
    store: Store, clock: FakeClock
) -> None:
    # Stored out of order, so the order shown cannot be the order of the ids.
    received = [
        datetime(2026, 11, 23, 2, 0, tzinfo=UTC),  # Monday: due at the end of Thursday
        datetime(2026, 11, 20, 1, 0, tzinfo=UTC),  # Friday morning: due the 26th
        datetime(2026, 11, 20, 16, 30, tzinfo=UTC),  # Friday evening WIB: also the 26th
        datetime(2026, 11, 16, 3, 0, tzinfo=UTC),  # a week before: overdue on the 24th
    ]
    items = [
        (waiting(1, start=at, prefix=f"q{n}")[0], suggestion("DLH"))
        for n, at in enumerate(received)
    ]
    ids = await to_review(store, items)
    async with desk_with_deadline(store, clock) as (url, _), logged_in(url) as http:
        shown, due, overdue, _ = await queue(http, url)
    assert shown == [ids[3], ids[1], ids[2], ids[0]]
    assert due == [
        "20-11-2026 00:00 WIB",
        "26-11-2026 00:00 WIB",
        "26-11-2026 00:00 WIB",
        "27-11-2026 00:00 WIB",
    ]
    assert overdue == {ids[3]}


async def test_the_queue_filters_by_channel_and_suggested_agency(
    store: Store, clock: FakeClock
) -> None:
    by_x = await to_review(
        store, [(c, suggestion("PDAM")) for c in waiting(2, channel="x", prefix="x")]
    )
    by_mail = await to_review(
        store, [(c, suggestion("DLH")) for c in waiting(2, channel="email", prefix="e")]
    )
    pdam_mail = await to_review(
        store, [(c, suggestion("PDAM")) for c in waiting(1, channel="email", prefix="p")]
    )
    async with desk_with_deadline(store, clock) as (url, _), logged_in(url) as http:
        assert set((await queue(http, f"{url}?channel=x"))[0]) == set(by_x)
        assert set((await queue(http, f"{url}?channel=email"))[0]) == {*by_mail, *pdam_mail}
        assert set((await queue(http, f"{url}?agency=PDAM"))[0]) == {*by_x, *pdam_mail}
        both = (await queue(http, f"{url}?channel=email&agency=PDAM"))[0]
        assert both == pdam_mail


async def test_coordinator_decisions_count_agreement_with_the_suggestion(
    store: Store, clock: FakeClock
) -> None:
    agree, override, unsuggested, thrown = await to_review(
        store,
        [
            (waiting(1, prefix="a")[0], suggestion("DLH")),
            (waiting(1, prefix="b")[0], suggestion("DLH")),
            (waiting(1, prefix="c")[0], None),
            (waiting(1, prefix="d")[0], suggestion("DLH")),
        ],
    )
    async with desk_with_deadline(store, clock) as (url, metrics), logged_in(url) as http:
        *_, token = await queue(http, url)

        async def post(path: str, **form: str) -> None:
            async with http.post(
                f"{url}complaints/{path}", data={"csrf": token, **form}, allow_redirects=False
            ) as response:
                assert response.status == 303, await response.text()

        await post(f"{agree}/accept")
        await post(f"{override}/route", agency="DPUBM")
        await post(f"{unsuggested}/route", agency="PDAM")
        await post(f"{thrown}/discard", reason="iklan")
        sample = metrics.registry.get_sample_value
        assert sample("muara_review_suggestions_total", {"outcome": "agreed"}) == 1
        assert sample("muara_review_suggestions_total", {"outcome": "overridden"}) == 1
        assert (
            sample("muara_router_decisions_total", {"mode": "coordinator", "state": "ROUTED"}) == 3
        )
        assert (
            sample("muara_router_decisions_total", {"mode": "coordinator", "state": "DISCARDED"})
            == 1
        )
        async with http.get(url.replace("/review/", "/metrics")) as scraped:
            body = await scraped.text()
    assert "muara_review_queue_size 0.0" in body


async def test_the_daemon_shows_the_forwarding_deadline(store_url: str, tmp_path: Path) -> None:
    engine = create_engine(store_url)
    try:
        await Accounts(engine, clock=utc_now).add(
            "siti", hash_password(PASSWORD), Role.COORDINATOR, None
        )
        await to_review(Store(engine), [(c, suggestion("DLH")) for c in waiting(1)])
    finally:
        await engine.dispose()
    daemon = Daemon(daemon_settings(store_url, tmp_path), registry=CollectorRegistry())
    task = asyncio.create_task(daemon.run())
    ready = asyncio.create_task(daemon.ready.wait())
    await asyncio.wait([task, ready], timeout=90, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    try:
        url = f"{daemon.ops_url}/review/"
        async with logged_in(url) as http, http.get(url) as page:
            html = await page.text()
        assert "Batas LAPOR!" in html
        assert DUE.findall(html) == ["26-11-2026 00:00 WIB"]
    finally:
        daemon.request_stop()
        async with asyncio.timeout(30):
            await task
