"""X API v2 payloads → posts and complaints (pure), the rate-limit wait and the discard rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from muara.ingest.x.api import DEFAULT_WAIT, Feed, rate_limit_wait
from muara.ingest.x.collector import OWN_POST, RETWEET, cursor_name, discard_reason
from muara.ingest.x.tweets import (
    INVALID_DATE,
    INVALID_TWEET,
    MISSING_FIELD,
    BadTweet,
    Includes,
    PageFormatError,
    Post,
    read_page,
    read_post,
    to_complaint,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
USERS = {"42": {"id": "42", "username": "budi_sby", "name": "Budi Santoso"}}


def tweet(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "1001",
        "text": "@PemkotContoh jalan berlubang di depan pasar, tolong ditambal",
        "created_at": "2026-11-23T01:15:00.000Z",
        "author_id": "42",
        "conversation_id": "1001",
        "edit_history_tweet_ids": ["1001"],
        "lang": "in",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not ...}


def post(includes: Includes | None = None, **overrides: Any) -> Post:
    found = read_post("x", tweet(**overrides), includes or Includes(users=USERS))
    assert isinstance(found, Post), found
    return found


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the answer is not a JSON object"),
        ({"data": {"id": "1"}}, "'data' is not a list of tweets"),
        ({"data": ["x"]}, "'data' is not a list of tweets"),
        ({"data": [tweet()], "meta": {}}, "tweets without meta.newest_id"),
        ({"includes": {"users": {"id": "1"}}}, "includes.users is not a list of objects"),
        ({"meta": "x"}, "'includes' or 'meta' is not an object"),
    ],
)
def test_an_answer_that_is_no_tweet_list(body: Any, message: str) -> None:
    with pytest.raises(PageFormatError, match=message):
        read_page(body)


def test_an_empty_answer_has_no_cursor_to_move() -> None:
    page = read_page({"meta": {"result_count": 0}})
    assert (page.tweets, page.newest_id, page.next_token) == ([], None, None)


def test_a_page_with_every_expansion_becomes_a_complaint() -> None:
    body = {
        "data": [
            tweet(
                referenced_tweets=[{"type": "quoted", "id": "900"}],
                geo={"place_id": "p1"},
                attachments={"media_keys": ["3_1"]},
                note_tweet={"text": "jalan berlubang besar (teks panjang)"},
            )
        ],
        "includes": {
            "users": [*USERS.values(), {"id": "7", "username": "warga_lain", "name": "Warga"}],
            "tweets": [{"id": "900", "text": "jalan ini rusak sejak Juli", "author_id": "7"}],
            "places": [{"id": "p1", "full_name": "Tegalsari, Surabaya", "place_type": "city"}],
            "media": [{"media_key": "3_1", "type": "photo", "url": "https://pbs.twimg.com/a.jpg"}],
        },
        "meta": {"newest_id": "1001", "next_token": "b26v89c19zqg8o3f", "result_count": 1},
    }
    page = read_page(body)
    assert (page.newest_id, page.next_token) == ("1001", "b26v89c19zqg8o3f")
    found = read_post("x", page.tweets[0], page.includes)
    assert isinstance(found, Post)
    complaint = to_complaint(found, "x", None)
    assert complaint.source_id == "1001"
    assert complaint.text == "jalan berlubang besar (teks panjang)"  # the long-post text
    assert complaint.received_at == datetime(2026, 11, 23, 1, 15, tzinfo=UTC)
    assert (complaint.reporter.name, complaint.reporter.contact) == ("Budi Santoso", "@budi_sby")
    assert complaint.extra["place"] == {"full_name": "Tegalsari, Surabaya", "place_type": "city"}
    assert complaint.extra["media"] == [{"type": "photo", "url": "https://pbs.twimg.com/a.jpg"}]
    assert complaint.extra["referenced_tweets"] == [
        {
            "type": "quoted",
            "id": "900",
            "text": "jalan ini rusak sejak Juli",
            "author": "@warga_lain",
        }
    ]
    assert complaint.extra["url"] == "https://x.com/budi_sby/status/1001"
    raw = json.loads(found.raw.content)
    assert raw["data"]["id"] == "1001" and raw["includes"]["tweets"][0]["id"] == "900"
    assert found.raw.source_ref == "tweet:1001"


@pytest.mark.parametrize(
    ("overrides", "error_class", "reason"),
    [
        ({"id": ...}, INVALID_TWEET, "a tweet without a numeric id"),
        ({"id": "abc"}, INVALID_TWEET, "a tweet without a numeric id"),
        ({"text": ...}, MISSING_FIELD, "tweet 1001: field 'text' is missing"),
        ({"text": 5}, MISSING_FIELD, "tweet 1001: field 'text' is missing"),
        ({"created_at": ...}, MISSING_FIELD, "tweet 1001: field 'created_at' is missing"),
        ({"author_id": ...}, MISSING_FIELD, "tweet 1001: field 'author_id' is missing"),
        ({"created_at": "kemarin"}, INVALID_DATE, "tweet 1001: field 'created_at' is not a"),
        ({"created_at": "2026-11-23T01:15:00"}, INVALID_DATE, "'created_at' is not a date"),
        ({"edit_history_tweet_ids": "1001"}, INVALID_TWEET, "'edit_history_tweet_ids' is not"),
    ],
)
def test_a_bad_tweet_is_named_by_id_and_field(
    overrides: dict[str, Any], error_class: str, reason: str
) -> None:
    found = read_post("x", tweet(**overrides), Includes(users=USERS))
    assert isinstance(found, BadTweet)
    assert found.error_class == error_class and reason in found.reason
    assert "Budi" not in found.reason and "berlubang" not in found.reason
    assert found.raw.channel == "x"


def test_threads_edits_and_retweets_are_recognised() -> None:
    reply = post(
        id="1002",
        referenced_tweets=[{"type": "replied_to", "id": "1001"}],
        in_reply_to_user_id="42",
        conversation_id="1001",
    )
    assert reply.is_self_reply and reply.referenced("replied_to") == "1001"
    to_other = post(
        id="1003", referenced_tweets=[{"type": "replied_to", "id": "9"}], in_reply_to_user_id="7"
    )
    assert not to_other.is_self_reply
    edit = post(id="1005", edit_history_tweet_ids=["1001", "1005"])
    assert edit.original_id == "1001"
    retweet = post(id="1006", referenced_tweets=[{"type": "retweeted", "id": "1001"}])
    assert retweet.is_retweet
    assert post(includes=Includes()).contact is None  # author not expanded


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({}, None),
        ({"referenced_tweets": [{"type": "retweeted", "id": "9"}]}, RETWEET),
        ({"author_id": "1500000000000000001"}, OWN_POST),
        (
            {"text": "Terima kasih @PemkotContoh, jalannya sudah mulus 🙏"},
            "not a complaint: praise",
        ),
        ({"text": "slot gacor maxwin cek bio @PemkotContoh"}, "not a complaint: spam"),
        ({"text": "selamat pagi @PemkotContoh"}, "not a complaint: chatter (no complaint words)"),
    ],
)
def test_what_is_discarded(overrides: dict[str, Any], reason: str | None) -> None:
    assert discard_reason(post(**overrides), frozenset({"1500000000000000001"})) == reason


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        (None, DEFAULT_WAIT),
        (int(NOW.timestamp()) + 120, 121.0),
        (int(NOW.timestamp()) - 30, 1.0),  # a reset in the past (clock skew): a short pause
        (int(NOW.timestamp()) + 10_000, 960.0),  # capped
    ],
)
def test_the_rate_limit_wait_runs_until_the_reset(reset: int | None, expected: float) -> None:
    assert rate_limit_wait(reset, NOW, 960.0) == expected


def test_cursor_names_are_short_and_distinct() -> None:
    mentions = cursor_name("x-main", Feed("mentions", "1500000000000000001"))
    search = cursor_name("x-main", Feed("search", "#LaporGub " * 40))
    assert mentions == "x:x-main:mentions:1500000000000000001"
    assert search.startswith("x:x-main:search:") and len(search) < 128
    assert search != cursor_name("x-main", Feed("search", "#LaporGub"))
