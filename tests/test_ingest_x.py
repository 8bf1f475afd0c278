"""The X collector: real tweepy, real HTTPS to the loopback X API stand-in, the real store."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.config import ConfigError
from muara.ingest.base import PollReport
from muara.ingest.settings import XSource
from muara.ingest.testing import SimulatedCrashError
from muara.ingest.x.api import MAX_WAITS, Feed, XApiError, XAuthError
from muara.ingest.x.collector import OWN_POST, RETWEET, XCollector, cursor_name
from muara.store.cursors import Cursors
from muara.store.followups import Followups
from muara.store.repository import Store
from muara.store.tables import complaints
from muara.testing import FakeClock
from tests.test_ingest_spool import CrashingStore
from tests.x_api import ACCOUNT_ID, TOKEN, Tweet, XServer, XState, x_api, x_ca

__all__ = ["x_api", "x_ca"]  # fixtures

BUDI, ANI = "42", "43"
MENTIONS = cursor_name("x-main", Feed("mentions", ACCOUNT_ID))


class FakeSleep:
    """Sleeps by moving the fake clock: the 429 wait takes no real time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)


def people(state: XState) -> None:
    state.user(BUDI, "budi_sby", "Budi Santoso")
    state.user(ANI, "ani_lestari", "Ani Lestari")


def complaints_tweets(state: XState, first: int, count: int) -> None:
    for n in range(first, first + count):
        state.post(Tweet(n, BUDI, f"@PemkotContoh jalan berlubang nomor {n}, tolong ditambal"))


def replying(n: int, author: str, text: str, *, to: int) -> Tweet:
    """A reply in the thread started by tweet 3001 (Budi's)."""
    return Tweet(
        n,
        author,
        text,
        referenced=(("replied_to", to),),
        in_reply_to_user_id=BUDI,
        conversation_id=3001,
    )


def collector(
    server: XServer,
    engine: AsyncEngine,
    clock: FakeClock,
    sleep: FakeSleep | None = None,
    **overrides: Any,
) -> XCollector:
    return XCollector(
        server.source(**overrides),
        engine=engine,
        clock=clock,
        sleep=sleep or FakeSleep(clock),
        on_rate_limit=lambda: None,
    )


async def stored(engine: AsyncEngine) -> dict[str, tuple[str, str | None]]:
    """source id → (state, discard reason) of every X complaint."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(complaints.c.source_id, complaints.c.state, complaints.c.discard_reason).where(
                complaints.c.channel == "x"
            )
        )
        return {source_id: (state, reason) for source_id, state, reason in rows}


def asked(state: XState, name: str) -> list[str | None]:
    return [query.get(name) for _, query in state.requests]


async def test_mentions_are_paged_stored_and_the_cursor_saved_after_the_batch(
    x_api: XServer, engine: AsyncEngine, store: Store, clock: FakeClock
) -> None:
    people(x_api.state)
    complaints_tweets(x_api.state, 2001, 12)
    x = collector(x_api, engine, clock)
    assert await x.poll(store) == PollReport(ingested=12)
    # Two pages of ten, newest first; the second asked with the first's next_token.
    assert len(x_api.state.requests) == 2
    assert asked(x_api.state, "pagination_token")[0] is None
    assert asked(x_api.state, "pagination_token")[1] is not None
    assert await Cursors(engine, clock=clock).get(MENTIONS) == {
        "since_id": "2012",
        "feed": "account_ids[0]",
    }
    assert await x.poll(store) == PollReport()
    assert asked(x_api.state, "since_id")[-1] == "2012"
    complaints_tweets(x_api.state, 2013, 1)
    assert await x.poll(store) == PollReport(ingested=1)
    rows = await stored(engine)
    assert len(rows) == 13 and {state for state, _ in rows.values()} == {"NEW"}
    async with engine.connect() as conn:
        contact, extra = (
            await conn.execute(
                select(complaints.c.reporter_contact, complaints.c.extra).where(
                    complaints.c.source_id == "2013"
                )
            )
        ).one()
    assert contact == "@budi_sby"
    assert extra["url"] == "https://x.com/budi_sby/status/2013"


async def test_a_post_found_by_search_and_by_mentions_is_one_complaint(
    x_api: XServer, engine: AsyncEngine, store: Store, clock: FakeClock
) -> None:
    people(x_api.state)
    x_api.state.post(Tweet(2101, BUDI, "#LaporGub @PemkotContoh sampah menumpuk di pasar"))
    x_api.state.post(Tweet(2102, ANI, "#LaporGub air PDAM mati sejak pagi", mentions=()))
    x = collector(x_api, engine, clock, queries=["#LaporGub -is:retweet"])
    assert await x.poll(store) == PollReport(ingested=2, already_known=1)
    assert [path for path, _ in x_api.state.requests] == [
        f"/2/users/{ACCOUNT_ID}/mentions",
        "/2/tweets/search/recent",
    ]
    assert x_api.state.requests[1][1]["query"] == "#LaporGub -is:retweet"
    assert sorted(await stored(engine)) == ["2101", "2102"]


async def test_the_first_poll_reads_only_the_backfill_pages(
    x_api: XServer, engine: AsyncEngine, store: Store, clock: FakeClock
) -> None:
    people(x_api.state)
    complaints_tweets(x_api.state, 2201, 25)
    x = collector(x_api, engine, clock, backfill_pages=1)
    assert await x.poll(store) == PollReport(ingested=10)
    assert sorted(await stored(engine)) == [str(n) for n in range(2216, 2226)]
    # Later polls read every page after the saved position: nothing newer is ever skipped.
    complaints_tweets(x_api.state, 2226, 15)
    assert await x.poll(store) == PollReport(ingested=15)


async def test_threads_edits_retweets_and_noise(
    x_api: XServer, engine: AsyncEngine, store: Store, clock: FakeClock
) -> None:
    state = x_api.state
    people(state)
    root = "@PemkotContoh lampu jalan di gang Keputran mati dua minggu, tolong diperbaiki"
    state.post(Tweet(3001, BUDI, root))
    # Replies in Budi's thread: his own (follow-ups) and Ani's (a complaint of her own).
    state.post(replying(3002, BUDI, "sudah tiga tiang yang mati", to=3001))
    state.post(replying(3003, ANI, "di gang sebelah juga mati", to=3001))
    state.post(replying(3004, BUDI, "kemarin ada jambret", to=3002))
    state.post(Tweet(3005, ANI, "Terima kasih @PemkotContoh 🙏"))
    state.post(
        Tweet(
            3006,
            ANI,
            "tapi got di depan rumah masih mampet",
            referenced=(("replied_to", 3005),),
            in_reply_to_user_id=ANI,
            conversation_id=3005,
        )
    )
    state.post(Tweet(3007, ANI, f"RT @budi_sby: {root}", referenced=(("retweeted", 3001),)))
    state.post(Tweet(3008, BUDI, root + " (Jl. Keputran)", edit_history=(3001, 3008)))
    state.post(Tweet(3009, ACCOUNT_ID, "@PemkotContoh jadwal layanan keliling minggu ini"))
    state.post(Tweet(3010, ANI, "slot gacor maxwin hari ini cek bio @PemkotContoh"))
    x = collector(x_api, engine, clock)
    assert await x.poll(store) == PollReport(ingested=3, discarded=4)
    assert await stored(engine) == {
        "3001": ("NEW", None),
        "3003": ("NEW", None),  # someone else's reply is a complaint of its own
        "3005": ("DISCARDED", "not a complaint: praise"),
        "3006": ("NEW", None),  # continues a discarded post: judged on its own
        "3007": ("DISCARDED", RETWEET),
        "3009": ("DISCARDED", OWN_POST),
        "3010": ("DISCARDED", "not a complaint: spam"),
    }
    followups = Followups(engine, clock=clock)
    root_id = await followups.find_thread("x", ["3001"], "@budi_sby")
    assert root_id is not None
    messages = await followups.messages(root_id)
    assert [m["source_id"] for m in messages] == ["3002", "3004", "3008"]
    # Read again from scratch (a crash before the cursor was saved): nothing new, nothing twice.
    await Cursors(engine, clock=clock).set(MENTIONS, {})
    assert await x.poll(store) == PollReport(already_known=10)
    assert len(await followups.messages(root_id)) == 3


async def test_a_429_sleeps_until_the_reset_on_the_injected_clock_then_resumes_the_page(
    x_api: XServer, engine: AsyncEngine, store: Store, clock: FakeClock
) -> None:
    people(x_api.state)
    complaints_tweets(x_api.state, 4001, 15)
    reset = int(clock.now.timestamp()) + 120
    x_api.state.failures = [None, (429, reset)]
    sleep = FakeSleep(clock)
    limited: list[int] = []
    x = XCollector(
        x_api.source(),
        engine=engine,
        clock=clock,
        sleep=sleep,
        on_rate_limit=lambda: limited.append(1),
    )
    assert await x.poll(store) == PollReport(ingested=15)
    assert sleep.waits == [121.0]
    assert limited == [1]
    tokens = asked(x_api.state, "pagination_token")
    assert len(tokens) == 3 and tokens[1] == tokens[2] is not None  # the same page, once more


async def test_a_429_without_end_fails_the_poll_and_keeps_the_cursor(
    x_api: XServer, engine: AsyncEngine, store: Store, clock: FakeClock
) -> None:
    people(x_api.state)
    complaints_tweets(x_api.state, 4101, 3)
    x_api.state.failures = [(429, None)] * MAX_WAITS
    sleep = FakeSleep(clock)
    x = collector(x_api, engine, clock, sleep)
    with pytest.raises(XApiError, match=f"still rate limited after {MAX_WAITS} waits"):
        await x.poll(store)
    assert sleep.waits == [60.0] * MAX_WAITS
    assert await Cursors(engine, clock=clock).get(MENTIONS) is None
    assert await x.poll(store) == PollReport(ingested=3)


@pytest.mark.parametrize("crash", ["store commit", "server error on page 2"])
async def test_a_crash_between_fetch_and_commit_loses_nothing_and_doubles_nothing(
    x_api: XServer, engine: AsyncEngine, store: Store, clock: FakeClock, crash: str
) -> None:
    people(x_api.state)
    complaints_tweets(x_api.state, 5001, 15)
    first = collector(x_api, engine, clock)
    if crash == "store commit":
        with pytest.raises(SimulatedCrashError):
            await first.poll(CrashingStore(store, fail_on_call=2))  # page 2's transaction
    else:
        x_api.state.failures = [None, (503, None)]
        with pytest.raises(XApiError, match="the X API answered HTTP 503"):
            await first.poll(store)
    assert len(await stored(engine)) == 10  # page 1 was committed
    assert await Cursors(engine, clock=clock).get(MENTIONS) is None
    restarted = collector(x_api, engine, clock)
    assert await restarted.poll(store) == PollReport(ingested=5, already_known=10)
    assert sorted(await stored(engine)) == [str(n) for n in range(5001, 5016)]
    assert (await Cursors(engine, clock=clock).get(MENTIONS) or {})["since_id"] == "5015"


async def test_a_bad_tweet_is_quarantined_and_the_rest_of_the_page_kept(
    x_api: XServer, engine: AsyncEngine, store: Store, clock: FakeClock
) -> None:
    people(x_api.state)
    complaints_tweets(x_api.state, 6001, 3)
    x_api.state.post(Tweet(6004, BUDI, "jalan rusak", broken={"created_at": "kemarin sore"}))
    x = collector(x_api, engine, clock)
    assert await x.poll(store) == PollReport(ingested=3, quarantined=1)
    status = await store.status()
    assert status.quarantined == {"x": 1}
    await Cursors(engine, clock=clock).set(MENTIONS, {})
    assert await x.poll(store) == PollReport(already_known=4)


async def test_a_refused_token_is_logged_once_never_shown_and_recovery_is_logged(
    x_api: XServer,
    engine: AsyncEngine,
    store: Store,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    people(x_api.state)
    complaints_tweets(x_api.state, 7001, 2)
    x_api.state.token = "rotated-token"
    x = collector(x_api, engine, clock)
    for _ in range(3):
        with pytest.raises(XAuthError, match="the X API answered HTTP 401"):
            await x.poll(store)
    x_api.state.token = TOKEN
    assert await x.poll(store) == PollReport(ingested=2)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("muara")]
    assert [m for m in ours if "failing" in m or "works again" in m] == [
        "x x-main: account_ids[0] failing: x source 'x-main', account_ids[0]: the X API "
        "answered HTTP 401",
        "x x-main: account_ids[0] works again",
    ]
    everything = " ".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in everything
    assert "jalan berlubang" not in " ".join(ours) and "budi" not in " ".join(ours)


def test_a_source_without_a_token_fails_at_start(engine: AsyncEngine) -> None:
    source = XSource(name="x", account_ids=["1"], bearer_token_env="MUARA_TEST_NO_SUCH_VAR")
    with pytest.raises(ConfigError, match=r"x source 'x': no bearer token: set \$MUARA_TEST_NO"):
        XCollector(source, engine=engine)


async def test_check_config_reads_one_page_of_each_feed(x_api: XServer) -> None:
    from muara.checks import check_x
    from muara.config import load_settings

    def settings(**overrides: Any) -> Any:
        source = x_api.source(queries=["#LaporGub"], **overrides).model_dump()
        return load_settings(x=[source])

    ok = await check_x(settings())
    assert [(r.name, r.ok, r.detail) for r in ok] == [("x[0]", True, "x-main: 2 feed(s) read")]
    x_api.state.token = "rotated"
    (refused,) = await check_x(settings())
    assert (refused.name, refused.ok) == ("x[0].bearer_token", False)
    assert "HTTP 401" in refused.detail and TOKEN not in refused.detail
    x_api.state.token = TOKEN
    x_api.state.failures = [(429, None)]
    (limited,) = await check_x(settings())
    assert limited.ok and "rate limited; the window resets in 60 s" in limited.detail
    (missing,) = await check_x(settings(bearer_token=None, bearer_token_env="MUARA_TEST_NONE"))
    assert (missing.name, missing.ok) == ("x[0].bearer_token", False)
