"""X API v2 answers → posts and complaints; pure, so every odd payload is a unit test.

A page is `{"data": [tweet…], "includes": {"users", "tweets", "places", "media"}, "meta":
{"newest_id", "next_token", "result_count"}}`. A post is one tweet with its expansions resolved.
Reasons for bad tweets name the tweet id and the field, never the text or the author.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from muara.domain import NewComplaint, RawInput, Reporter

MISSING_FIELD = "MissingField"
INVALID_DATE = "InvalidDate"
INVALID_TWEET = "InvalidTweet"
TWEET_CONTENT_TYPE = "application/json"
MAX_ID_CHARS = 64


class PageFormatError(ValueError):
    """An answer that is not an X API v2 tweet list (a proxy's error page, a changed API)."""


@dataclass(frozen=True, slots=True)
class Includes:
    """The expansions of a page, by id."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)
    places: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a timeline or a search."""

    tweets: list[dict[str, Any]]
    includes: Includes
    newest_id: str | None
    next_token: str | None


@dataclass(frozen=True, slots=True)
class Post:
    """A tweet with what the complaint needs from its expansions."""

    id: str
    created_at: datetime
    text: str
    author_id: str
    username: str | None
    author_name: str | None
    conversation_id: str | None
    in_reply_to_user_id: str | None
    references: tuple[tuple[str, str], ...]
    # The first id of the tweet's edit history: a later version continues that post's complaint.
    original_id: str
    raw: RawInput
    extra: dict[str, Any]

    def referenced(self, kind: str) -> str | None:
        """The id of the tweet this one retweets, quotes or replies to."""
        return next((ident for k, ident in self.references if k == kind), None)

    @property
    def is_retweet(self) -> bool:
        """A retweet repeats someone's post: no new complaint."""
        return self.referenced("retweeted") is not None

    @property
    def is_self_reply(self) -> bool:
        """A reply to the author's own post: the thread continues one complaint."""
        return self.referenced("replied_to") is not None and (
            self.in_reply_to_user_id == self.author_id
        )

    @property
    def contact(self) -> str | None:
        """How a coordinator reaches the author: the @handle."""
        return f"@{self.username}" if self.username else None


@dataclass(frozen=True, slots=True)
class BadTweet:
    """A tweet that cannot become a complaint, with its raw JSON and why."""

    raw: RawInput
    error_class: str
    reason: str


def _by_key(items: Any, key: str, what: str) -> dict[str, dict[str, Any]]:
    if items is None:
        return {}
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise PageFormatError(f"includes.{what} is not a list of objects")
    return {str(item[key]): item for item in items if key in item}


def read_page(body: Any) -> Page:
    """The tweets, expansions and paging of one answer; `PageFormatError` if it is none."""
    if not isinstance(body, dict):
        raise PageFormatError("the answer is not a JSON object")
    tweets = body.get("data", [])
    if not isinstance(tweets, list) or not all(isinstance(t, dict) for t in tweets):
        raise PageFormatError("'data' is not a list of tweets")
    includes = body.get("includes") or {}
    meta = body.get("meta") or {}
    if not isinstance(includes, dict) or not isinstance(meta, dict):
        raise PageFormatError("'includes' or 'meta' is not an object")
    newest, token = meta.get("newest_id"), meta.get("next_token")
    if tweets and newest is None:
        raise PageFormatError("tweets without meta.newest_id")
    return Page(
        tweets=tweets,
        includes=Includes(
            users=_by_key(includes.get("users"), "id", "users"),
            tweets=_by_key(includes.get("tweets"), "id", "tweets"),
            places=_by_key(includes.get("places"), "id", "places"),
            media=_by_key(includes.get("media"), "media_key", "media"),
        ),
        newest_id=str(newest) if newest is not None else None,
        next_token=str(token) if token else None,
    )


def _raw(channel: str, tweet: dict[str, Any], includes: Includes, ref: str) -> RawInput:
    """The tweet with the expansions it uses, as the store keeps it."""
    used: dict[str, list[dict[str, Any]]] = {}
    if user := includes.users.get(str(tweet.get("author_id"))):
        used["users"] = [user]
    refs = [str(r.get("id")) for r in tweet.get("referenced_tweets") or [] if isinstance(r, dict)]
    if found := [includes.tweets[i] for i in refs if i in includes.tweets]:
        used["tweets"] = found
    body = {"data": tweet, "includes": used}
    content = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    return RawInput(channel, ref, content, TWEET_CONTENT_TYPE)


def _references(tweet: dict[str, Any], includes: Includes) -> list[dict[str, Any]]:
    found = []
    for ref in tweet.get("referenced_tweets") or []:
        if not isinstance(ref, dict) or "id" not in ref:
            continue
        entry: dict[str, Any] = {"type": str(ref.get("type")), "id": str(ref["id"])}
        if other := includes.tweets.get(str(ref["id"])):
            entry["text"] = other.get("text")
            if author := includes.users.get(str(other.get("author_id"))):
                entry["author"] = f"@{author.get('username')}"
        found.append(entry)
    return found


def _extra(tweet: dict[str, Any], includes: Includes, user: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {"tweet_id": str(tweet["id"]), "author_id": str(tweet["author_id"])}
    if username := user.get("username"):
        extra["url"] = f"https://x.com/{username}/status/{tweet['id']}"
    for key in ("conversation_id", "lang", "edit_history_tweet_ids"):
        if key in tweet:
            extra[key] = tweet[key]
    if references := _references(tweet, includes):
        extra["referenced_tweets"] = references
    geo = tweet.get("geo") or {}
    if isinstance(geo, dict) and (place := includes.places.get(str(geo.get("place_id")))):
        wanted = ("full_name", "name", "country_code", "place_type")
        extra["place"] = {key: place[key] for key in wanted if key in place}
    media_keys = (tweet.get("attachments") or {}).get("media_keys") or []
    media = [includes.media[str(k)] for k in media_keys if str(k) in includes.media]
    if media:
        extra["media"] = [
            {
                "type": item.get("type"),
                "url": item.get("url") or item.get("preview_image_url"),
            }
            for item in media
        ]
    return extra


def read_post(channel: str, tweet: dict[str, Any], includes: Includes) -> Post | BadTweet:
    """A post from one tweet of a page, or why it cannot be one."""
    ident = str(tweet.get("id", "")).strip()
    raw = _raw(channel, tweet, includes, f"tweet:{ident}" if ident else "tweet:?")
    if not ident.isdigit() or len(ident) > MAX_ID_CHARS:
        return BadTweet(raw, INVALID_TWEET, "a tweet without a numeric id")
    for name in ("text", "created_at", "author_id"):
        if not isinstance(tweet.get(name), str) or not tweet[name]:
            return BadTweet(raw, MISSING_FIELD, f"tweet {ident}: field '{name}' is missing")
    try:
        created_at = datetime.fromisoformat(tweet["created_at"])
    except ValueError:
        created_at = None
    if created_at is None or created_at.tzinfo is None:
        return BadTweet(raw, INVALID_DATE, f"tweet {ident}: field 'created_at' is not a date")
    history = tweet.get("edit_history_tweet_ids") or [ident]
    if not isinstance(history, list) or not all(str(i).isdigit() for i in history):
        return BadTweet(
            raw, INVALID_TWEET, f"tweet {ident}: field 'edit_history_tweet_ids' is not ids"
        )
    note = tweet.get("note_tweet")
    text = note["text"] if isinstance(note, dict) and isinstance(note.get("text"), str) else None
    user = includes.users.get(tweet["author_id"], {})
    references = tuple(
        (str(r.get("type")), str(r.get("id")))
        for r in tweet.get("referenced_tweets") or []
        if isinstance(r, dict)
    )
    return Post(
        id=ident,
        created_at=created_at,
        text=text or tweet["text"],
        author_id=tweet["author_id"],
        username=user.get("username"),
        author_name=user.get("name"),
        conversation_id=tweet.get("conversation_id"),
        in_reply_to_user_id=tweet.get("in_reply_to_user_id"),
        references=references,
        original_id=str(min(history, key=int)),
        raw=raw,
        extra=_extra(tweet, includes, user),
    )


def to_complaint(post: Post, channel: str, discard_reason: str | None) -> NewComplaint:
    """The post as a complaint: its text, its author's handle, its expansions in `extra`."""
    return NewComplaint(
        channel=channel,
        source_id=post.id,
        received_at=post.created_at,
        text=post.text,
        reporter=Reporter(name=post.author_name, contact=post.contact),
        extra=post.extra,
        discard_reason=discard_reason,
    )
