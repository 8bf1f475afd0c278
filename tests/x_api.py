"""A stand-in for the X API v2 on loopback, over TLS as api.twitter.com (trustme's test CA).

It speaks the wire format tweepy reads: `GET /2/users/:id/mentions` and `/2/tweets/search/recent`
with `since_id`, `max_results`, `pagination_token`/`next_token`, the `expansions` and `*.fields`
parameters, answers `{"data", "includes", "meta"}`, tweets with `edit_history_tweet_ids`, and 401
or 429 (with `x-rate-limit-*` headers) in X's problem format.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from muara.ingest.settings import XSource

TOKEN = "test-bearer-token-0000"
ACCOUNT_ID = "1500000000000000001"  # the region's account, @PemkotContoh
DEFAULT_FIELDS = ("id", "text", "edit_history_tweet_ids")
EPOCH = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@dataclass
class Tweet:
    """A post as the stand-in keeps it; `mentions` lists the user ids it mentions."""

    id: int
    author_id: str
    text: str
    mentions: tuple[str, ...] = (ACCOUNT_ID,)
    created_at: datetime | None = None
    conversation_id: int | None = None
    in_reply_to_user_id: str | None = None
    referenced: tuple[tuple[str, int], ...] = ()
    place_id: str | None = None
    media_keys: tuple[str, ...] = ()
    edit_history: tuple[int, ...] = ()
    broken: dict[str, Any] | None = None  # fields that replace the rendered ones, for bad input

    def render(self, fields: set[str]) -> dict[str, Any]:
        when = self.created_at or EPOCH + timedelta(seconds=self.id % 100_000)
        full: dict[str, Any] = {
            "id": str(self.id),
            "text": self.text,
            "edit_history_tweet_ids": [str(i) for i in (self.edit_history or (self.id,))],
            "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "author_id": self.author_id,
            "conversation_id": str(self.conversation_id or self.id),
            "lang": "in",
        }
        if self.in_reply_to_user_id:
            full["in_reply_to_user_id"] = self.in_reply_to_user_id
        if self.referenced:
            full["referenced_tweets"] = [{"type": k, "id": str(i)} for k, i in self.referenced]
        if self.place_id:
            full["geo"] = {"place_id": self.place_id}
        if self.media_keys:
            full["attachments"] = {"media_keys": list(self.media_keys)}
        shown = {k: v for k, v in full.items() if k in DEFAULT_FIELDS or k in fields}
        shown.update(self.broken or {})
        return {k: v for k, v in shown.items() if v is not None}


@dataclass
class XState:
    """What the stand-in serves, and what it was asked."""

    tweets: list[Tweet] = field(default_factory=list)
    users: dict[str, dict[str, str]] = field(default_factory=dict)
    places: dict[str, dict[str, str]] = field(default_factory=dict)
    media: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    # Planned answers for the next requests, in order: None serves the request, (status, reset
    # epoch seconds or None) fails it.
    failures: list[tuple[int, int | None] | None] = field(default_factory=list)
    token: str = TOKEN

    def user(self, user_id: str, username: str, name: str) -> str:
        self.users[user_id] = {"id": user_id, "username": username, "name": name}
        return user_id

    def post(self, tweet: Tweet) -> Tweet:
        self.tweets.append(tweet)
        return tweet

    def by_id(self) -> dict[int, Tweet]:
        return {t.id: t for t in self.tweets}


def _problem(status: int, title: str) -> web.Response:
    body = {"title": title, "detail": title, "type": "about:blank", "status": status}
    return web.json_response(body, status=status)


def _matches(tweet: Tweet, query: str) -> bool:
    for term in query.split():
        if term == "-is:retweet":
            if any(kind == "retweeted" for kind, _ in tweet.referenced):
                return False
        elif term.casefold() not in tweet.text.casefold():
            return False
    return True


def _includes(state: XState, page: list[Tweet], params: dict[str, str]) -> dict[str, Any]:
    expansions = set(filter(None, params.get("expansions", "").split(",")))
    fields = set(filter(None, params.get("tweet.fields", "").split(",")))
    tweets = state.by_id()
    referenced = [
        tweets[i] for t in page for _, i in t.referenced if "referenced_tweets.id" in expansions
    ]
    includes: dict[str, Any] = {}
    user_ids: list[str] = []
    if "author_id" in expansions:
        user_ids += [t.author_id for t in page]
    if "referenced_tweets.id.author_id" in expansions:
        user_ids += [t.author_id for t in referenced if t.id in tweets]
    if users := [state.users[u] for u in dict.fromkeys(user_ids) if u in state.users]:
        includes["users"] = users
    if referenced:
        includes["tweets"] = [t.render(fields) for t in referenced]
    if "geo.place_id" in expansions and (
        places := [state.places[t.place_id] for t in page if t.place_id in state.places]
    ):
        includes["places"] = places
    if "attachments.media_keys" in expansions and (
        media := [state.media[k] for t in page for k in t.media_keys if k in state.media]
    ):
        includes["media"] = media
    return includes


def _page(state: XState, found: list[Tweet], params: dict[str, str], token_name: str) -> Any:
    since = int(params.get("since_id", "0"))
    found = sorted((t for t in found if t.id > since), key=lambda t: -t.id)
    size = int(params.get("max_results", "10"))
    if not 5 <= size <= 100:
        return _problem(400, "Invalid Request")
    token = params.get(token_name)
    start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
    page = found[start : start + size]
    fields = set(filter(None, params.get("tweet.fields", "").split(",")))
    meta: dict[str, Any] = {"result_count": len(page)}
    if page:
        meta["newest_id"], meta["oldest_id"] = str(page[0].id), str(page[-1].id)
    if start + size < len(found):
        meta["next_token"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    body: dict[str, Any] = {"meta": meta}
    if page:
        body["data"] = [t.render(fields) for t in page]
        if includes := _includes(state, page, params):
            body["includes"] = includes
    return web.json_response(body)


def build_app(state: XState) -> web.Application:
    async def guard(request: web.Request) -> web.Response | None:
        state.requests.append((request.path, dict(request.query)))
        if request.headers.get("Authorization") != f"Bearer {state.token}":
            return _problem(401, "Unauthorized")
        planned = state.failures.pop(0) if state.failures else None
        if planned is not None:
            status, reset = planned
            if status == 429:
                response = _problem(429, "Too Many Requests")
                response.headers["x-rate-limit-limit"] = "180"
                response.headers["x-rate-limit-remaining"] = "0"
                if reset is not None:
                    response.headers["x-rate-limit-reset"] = str(reset)
                return response
            return _problem(status, "Service Unavailable")
        return None

    async def mentions(request: web.Request) -> web.Response:
        if (refused := await guard(request)) is not None:
            return refused
        user = request.match_info["id"]
        found = [t for t in state.tweets if user in t.mentions]
        response: web.Response = _page(state, found, dict(request.query), "pagination_token")
        return response

    async def search(request: web.Request) -> web.Response:
        if (refused := await guard(request)) is not None:
            return refused
        query = request.query.get("query", "")
        found = [t for t in state.tweets if _matches(t, query)]
        response: web.Response = _page(state, found, dict(request.query), "next_token")
        return response

    app = web.Application()
    app.router.add_get("/2/users/{id}/mentions", mentions)
    app.router.add_get("/2/tweets/search/recent", search)
    return app


@dataclass
class XServer:
    """The running stand-in: its state, and settings that point a source at it."""

    state: XState
    port: int
    ca_file: Path

    def source(self, **overrides: Any) -> XSource:
        values: dict[str, Any] = {
            "name": "x-main",
            "bearer_token": TOKEN,
            "account_ids": [ACCOUNT_ID],
            "connect_to": f"127.0.0.1:{self.port}",
            "ca_file": self.ca_file,
            "page_size": 10,
            "backfill_pages": 5,
        }
        values.update(overrides)
        return XSource.model_validate(values)


@pytest.fixture(scope="session")
def x_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path]]:
    """A test CA and a server certificate for api.twitter.com, made once per session."""
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("x-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    yield ca, path


@pytest.fixture
async def x_api(x_ca: tuple[trustme.CA, Path]) -> AsyncIterator[XServer]:
    """The X API stand-in on 127.0.0.1, any free port, HTTPS as api.twitter.com."""
    ca, ca_file = x_ca
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("api.twitter.com").configure_cert(context)
    state = XState()
    state.user(ACCOUNT_ID, "PemkotContoh", "Pemerintah Kota Contoh")
    runner = web.AppRunner(build_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield XServer(state, port, ca_file)
    finally:
        await runner.cleanup()
