"""The X collector: mentions of the region's accounts and recent-search queries, via tweepy.

Each feed keeps its `since_id` in the store's cursors, saved only after every page of the poll is
stored (DESIGN.md invariant 1): a crash re-reads, and the store answers "already known". A reply to
the author's own complaint, and an edit of it, become follow-ups of that complaint; retweets, the
followed accounts' own posts and what the relevance filter calls praise, spam or chatter are kept
as DISCARDED with the reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import ssl
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine
from tweepy.asynchronous import AsyncClient

from muara.classify.relevance_model import RelevanceFilter, bundled_filter
from muara.config import ConfigError
from muara.domain import NewComplaint, RawInput
from muara.ingest.base import IngestSink, PollReport
from muara.ingest.settings import XSource
from muara.ingest.x.api import Feed, Sleep, XApi, XApiError, feeds_of
from muara.ingest.x.http import ssl_context, x_session
from muara.ingest.x.threads import Threads
from muara.ingest.x.tweets import BadTweet, Page, Post, read_post, to_complaint
from muara.store.cursors import Cursors
from muara.store.records import Clock, utc_now

log = logging.getLogger(__name__)

RETWEET = "retweet: not a new complaint"
OWN_POST = "posted by a followed account"


def discard_reason(
    post: Post, own_accounts: frozenset[str], relevance: RelevanceFilter | None = None
) -> str | None:
    """Why a post is no complaint (retweet, our own post, not relevant), or None.

    Relevance is the trained filter's verdict (the bundled seed model when none is given).
    """
    return structural_reason(post, own_accounts) or (
        (relevance or bundled_filter()).judge(post.text).discard_reason
    )


def structural_reason(post: Post, own_accounts: frozenset[str]) -> str | None:
    """A discard reason that needs no reading of the text: a retweet, our own post."""
    if post.is_retweet:
        return RETWEET
    if post.author_id in own_accounts:
        return OWN_POST
    return None


def cursor_name(source: str, feed: Feed) -> str:
    """The cursor key of a feed (a query is hashed: it can be long)."""
    key = feed.key if feed.kind == "mentions" else hashlib.sha256(feed.key.encode()).hexdigest()
    return f"x:{source}:{feed.kind}:{key[:32]}"


class XCollector:
    """Reads a source's feeds; implements `muara.ingest.base.Collector`."""

    def __init__(
        self,
        source: XSource,
        *,
        engine: AsyncEngine,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        on_rate_limit: Callable[[], None] | None = None,
        relevance: Callable[[], RelevanceFilter] | None = None,
    ) -> None:
        """`relevance` opens the relevance filter (blocking; run once, in a thread, at the first
        poll); without it the bundled seed model at its default threshold is used."""
        if source.bearer_token is None:
            # A config error: `muara run` prints it as one line and exits, no traceback.
            raise ConfigError(
                f"x source '{source.name}': no bearer token: set ${source.bearer_token_env} "
                "or bearer_token_file"
            )
        self._source = source
        self._clock = clock
        self._sleep = sleep
        self._on_rate_limit = on_rate_limit
        self._cursors = Cursors(engine, clock=clock)
        self._threads = Threads(engine, clock=clock)
        self._feeds = feeds_of(source)
        self._own = frozenset(source.account_ids)
        self._ssl: ssl.SSLContext | None = None
        self._failing: set[Feed] = set()
        self._open_relevance = relevance or bundled_filter
        self._relevance: RelevanceFilter | None = None

    @property
    def name(self) -> str:
        """The source's configured name."""
        return self._source.name

    @property
    def channel(self) -> str:
        """The channel its complaints are recorded under."""
        return self._source.channel

    @property
    def poll_seconds(self) -> float:
        """How often the feeds are read."""
        return self._source.poll_seconds

    async def poll(self, sink: IngestSink) -> PollReport:
        """Read every feed; a failing feed does not stop the others, but fails the poll."""
        if self._ssl is None:
            self._ssl = await asyncio.to_thread(ssl_context, self._source)
        if self._relevance is None:
            self._relevance = await asyncio.to_thread(self._open_relevance)
        token = self._source.bearer_token
        assert token is not None
        total = PollReport()
        failed: XApiError | None = None
        async with x_session(self._source, self._ssl) as session:
            client = AsyncClient(bearer_token=token.get_secret_value(), return_type=dict)
            client.session = session
            api = XApi(
                client,
                self._source,
                clock=self._clock,
                sleep=self._sleep,
                on_rate_limit=self._on_rate_limit,
            )
            for feed in self._feeds:
                try:
                    total.add(await self._poll_feed(api, feed, sink))
                except XApiError as err:
                    self._report_failure(feed, err)
                    failed = failed or err
                else:
                    self._report_recovery(feed)
        if failed is not None:
            raise failed
        return total

    def _report_failure(self, feed: Feed, err: XApiError) -> None:
        if feed not in self._failing:
            self._failing.add(feed)
            log.warning("x %s: %s failing: %s", self.name, feed.label, err)

    def _report_recovery(self, feed: Feed) -> None:
        if feed in self._failing:
            self._failing.discard(feed)
            log.info("x %s: %s works again", self.name, feed.label)

    async def _poll_feed(self, api: XApi, feed: Feed, sink: IngestSink) -> PollReport:
        """Every page after the saved `since_id`; the new `since_id` once all are stored."""
        name = cursor_name(self.name, feed)
        saved = await self._cursors.get(name)
        since_id = str(saved["since_id"]) if saved and saved.get("since_id") else None
        # A feed's first poll reads only recent pages: its history is not a queue of complaints.
        pages_left = None if since_id else self._source.backfill_pages
        newest: str | None = None
        token: str | None = None
        report = PollReport()
        while True:
            page = await api.page(feed, since_id, token)
            newest = newest or page.newest_id
            report.add(await self._ingest(page, sink))
            token = page.next_token
            if pages_left is not None:
                pages_left -= 1
            if token is None or pages_left == 0:
                break
        if newest is not None and (since_id is None or int(newest) > int(since_id)):
            await self._cursors.set(name, {"since_id": newest, "feed": feed.label})
        if report.ingested or report.quarantined or report.discarded:
            log.info(
                "x %s: %s: %d stored, %d discarded, %d already known, %d quarantined",
                self.name,
                feed.label,
                report.ingested,
                report.discarded,
                report.already_known,
                report.quarantined,
            )
        return report

    async def _ingest(self, page: Page, sink: IngestSink) -> PollReport:
        """Store a page oldest first, so a thread's first post is stored before its replies."""
        report = PollReport()
        pending: list[tuple[NewComplaint, RawInput | None]] = []

        async def flush() -> None:
            if pending:
                for (complaint, _), stored in zip(
                    pending, await sink.store_many(pending), strict=True
                ):
                    if not stored.created:
                        report.already_known += 1
                    elif complaint.discard_reason:
                        report.discarded += 1
                    else:
                        report.ingested += 1
                pending.clear()

        channel = self.channel
        read = [read_post(channel, tweet, page.includes) for tweet in page.tweets]
        # The relevance model judges the page's posts in one pass, off the event loop.
        posts = [p for p in read if isinstance(p, Post) and not structural_reason(p, self._own)]
        assert self._relevance is not None
        verdicts = await asyncio.to_thread(self._relevance.judge_many, [p.text for p in posts])
        irrelevant = {p.id: v.discard_reason for p, v in zip(posts, verdicts, strict=True)}
        for post in sorted(read, key=_order):
            if isinstance(post, BadTweet):
                stored = await sink.quarantine(post.raw, post.error_class, post.reason)
                report.quarantined += stored.created
                report.already_known += not stored.created
                continue
            if await self._threads.is_known(channel, post.id):
                report.already_known += 1
                continue
            reason = structural_reason(post, self._own) or irrelevant.get(post.id)
            complaint = to_complaint(post, channel, reason)
            if (post.original_id != post.id or post.is_self_reply) and not post.is_retweet:
                await flush()  # the post it continues may be in this very page
                if await self._follow_up(post, complaint):
                    continue
            pending.append((complaint, post.raw))
        await flush()
        return report

    async def _follow_up(self, post: Post, complaint: NewComplaint) -> bool:
        """Attach an edit or a self-reply to the complaint it continues; False if there is none."""
        candidates = [post.original_id] if post.original_id != post.id else []
        if post.is_self_reply:
            parent = post.referenced("replied_to")
            candidates += [i for i in (parent, post.conversation_id) if i is not None]
        found = await self._threads.continued(self.channel, candidates, post.contact)
        if found is None:
            return False
        message = dataclasses.replace(complaint, source_id=post.id, discard_reason=None)
        await self._threads.attach(found, message, post.raw)
        return True


def _order(item: Post | BadTweet) -> tuple[int, int]:
    if isinstance(item, BadTweet):
        return (0, 0)
    return (1, int(item.id))
