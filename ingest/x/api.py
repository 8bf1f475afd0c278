"""One page of mentions or of a recent search, through tweepy; 429 is slept through, never hammered.

tweepy's own rate-limit wait reads the real clock and sleeps with `asyncio.sleep`; ours goes through
the injected clock and sleep so tests move a fake clock. tweepy errors are translated here, at the
boundary, into `XApiError` whose message names the status and the feed, never an API message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import aiohttp
from tweepy.asynchronous import AsyncClient
from tweepy.errors import HTTPException, TooManyRequests, TweepyException

from muara.ingest.settings import XSource
from muara.ingest.x.tweets import Page, PageFormatError, read_page

log = logging.getLogger(__name__)
# tweepy logs each request's headers at DEBUG, the bearer token among them: never let them out.
logging.getLogger("tweepy").setLevel(logging.INFO)

# The expansions and fields a complaint needs (X API v2 names).
EXPANSIONS = [
    "author_id",
    "referenced_tweets.id",
    "referenced_tweets.id.author_id",
    "in_reply_to_user_id",
    "geo.place_id",
    "attachments.media_keys",
]
TWEET_FIELDS = [
    "created_at",
    "author_id",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "geo",
    "attachments",
    "lang",
    "edit_history_tweet_ids",
    "note_tweet",
]
USER_FIELDS = ["username", "name"]
PLACE_FIELDS = ["full_name", "name", "country_code", "place_type"]
MEDIA_FIELDS = ["type", "url", "preview_image_url"]
# Without an x-rate-limit-reset header, wait this long; after this many 429s in a row, give up.
DEFAULT_WAIT = 60.0
MAX_WAITS = 5

Sleep = Callable[[float], Awaitable[None]]


class XApiError(RuntimeError):
    """A call to the X API failed; the message names the feed and the status only."""


class XAuthError(XApiError):
    """The bearer token was refused (401/403): an operator must fix the credentials."""


@dataclass(frozen=True, slots=True)
class Feed:
    """One stream of posts: the mentions of an account, or a recent-search query."""

    kind: Literal["mentions", "search"]
    key: str
    # Where the feed is configured (`account_ids[0]`, `queries[1]`): logs name the setting, not
    # a 19-digit account id the log scrubber would take for a NIK.
    label: str = "feed"


def feeds_of(source: XSource) -> list[Feed]:
    """The feeds a source follows, in configuration order."""
    return [
        Feed("mentions", account, f"account_ids[{i}]")
        for i, account in enumerate(source.account_ids)
    ] + [Feed("search", query, f"queries[{i}]") for i, query in enumerate(source.queries)]


def rate_limit_wait(reset_time: int | None, now: datetime, longest: float) -> float:
    """Seconds until the window resets (one more for clock skew), between 1 and `longest`."""
    if reset_time is None:
        return min(DEFAULT_WAIT, longest)
    return max(1.0, min(reset_time - now.timestamp() + 1, longest))


class XApi:
    """Fetches pages for a source's feeds with one tweepy client."""

    def __init__(
        self,
        client: AsyncClient,
        source: XSource,
        *,
        clock: Callable[[], datetime],
        sleep: Sleep,
        on_rate_limit: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.source = source
        self.clock = clock
        self.sleep = sleep
        self.on_rate_limit = on_rate_limit

    async def _call(self, feed: Feed, since_id: str | None, token: str | None) -> Any:
        params: dict[str, Any] = {
            "since_id": since_id,
            "max_results": self.source.page_size,
            "expansions": EXPANSIONS,
            "tweet_fields": TWEET_FIELDS,
            "user_fields": USER_FIELDS,
            "place_fields": PLACE_FIELDS,
            "media_fields": MEDIA_FIELDS,
        }
        if feed.kind == "mentions":
            return await self.client.get_users_mentions(feed.key, pagination_token=token, **params)
        return await self.client.search_recent_tweets(feed.key, next_token=token, **params)

    async def page(self, feed: Feed, since_id: str | None, token: str | None) -> Page:
        """One page of `feed` after `since_id`; sleeps through 429s until the window resets."""
        where = f"x source '{self.source.name}', {feed.label}"
        for _ in range(MAX_WAITS):
            try:
                return read_page(await self._call(feed, since_id, token))
            except TooManyRequests as err:
                longest = self.source.max_rate_limit_wait
                wait = rate_limit_wait(err.reset_time, self.clock(), longest)
                log.warning("%s: rate limited (429); waiting %.0f s for the window", where, wait)
                if self.on_rate_limit is not None:
                    self.on_rate_limit()
                await self.sleep(wait)
            except HTTPException as err:
                status = err.response.status if err.response is not None else "?"
                kind = XAuthError if status in (401, 403) else XApiError
                raise kind(f"{where}: the X API answered HTTP {status}") from err
            except PageFormatError as err:
                raise XApiError(f"{where}: unexpected answer: {err}") from err
            except (aiohttp.ClientError, TimeoutError, TweepyException) as err:
                raise XApiError(f"{where}: cannot reach the X API ({type(err).__name__})") from err
        raise XApiError(f"{where}: still rate limited after {MAX_WAITS} waits")
