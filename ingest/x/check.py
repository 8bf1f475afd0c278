"""`muara check-config` for X sources: one real request per feed, with the configured token."""

from __future__ import annotations

import asyncio

from tweepy.asynchronous import AsyncClient

from muara.ingest.settings import XSource
from muara.ingest.x.api import XApi, XApiError, XAuthError, feeds_of
from muara.ingest.x.http import ssl_context, x_session
from muara.store.records import utc_now


class _NoWait(Exception):
    """A 429 during a check: report it instead of sleeping."""


async def _refuse_to_wait(seconds: float) -> None:
    raise _NoWait(f"rate limited; the window resets in {seconds:.0f} s")


async def check_x_source(source: XSource) -> tuple[str, bool, str]:
    """(field at fault or 'x', ok, detail) after reading one page of each feed."""
    if source.bearer_token is None:
        return "bearer_token", False, f"not set (${source.bearer_token_env} or bearer_token_file)"
    context = await asyncio.to_thread(ssl_context, source)
    feeds = feeds_of(source)
    async with x_session(source, context) as session:
        client = AsyncClient(bearer_token=source.bearer_token.get_secret_value(), return_type=dict)
        client.session = session
        api = XApi(client, source, clock=utc_now, sleep=_refuse_to_wait)
        try:
            for feed in feeds:
                await api.page(feed, None, None)
        except XAuthError as err:
            return "bearer_token", False, str(err)
        except XApiError as err:
            field = "account_ids" if "HTTP 404" in str(err) else "x"
            return field, False, str(err)
        except _NoWait as err:
            return "x", True, f"{len(feeds)} feed(s) reachable; {err}"
    return "x", True, f"{source.name}: {len(feeds)} feed(s) read"
