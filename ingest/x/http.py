"""The HTTP session tweepy's `AsyncClient` uses: timeouts, and where api.twitter.com really is.

tweepy hard-codes `https://api.twitter.com`. Behind an egress proxy that terminates TLS, or in
tests against a loopback stand-in, `connect_to` names the host:port to connect to instead (as curl's
`--connect-to` does) and `ca_file` the CA to trust; the TLS name checked stays api.twitter.com.
"""

from __future__ import annotations

import socket
import ssl

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from muara.ingest.settings import XSource

API_HOST = "api.twitter.com"


class ConnectToResolver(AbstractResolver):
    """Resolves `host` to a fixed address and port; every other name the usual way."""

    def __init__(self, host: str, address: str, port: int) -> None:
        self.host = host
        self.address = address
        self.port = port
        self.fallback = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The fixed target for `host`; any other name through the default resolver."""
        if host != self.host:
            return await self.fallback.resolve(host, port, family)
        found = await self.fallback.resolve(self.address, self.port, family)
        return [{**result, "hostname": host} for result in found]

    async def close(self) -> None:
        """Close the fallback resolver."""
        await self.fallback.close()


def ssl_context(source: XSource) -> ssl.SSLContext:
    """The system's trust store, plus `ca_file` if one is configured."""
    context = ssl.create_default_context()
    if source.ca_file is not None:
        context.load_verify_locations(cafile=source.ca_file)
    return context


def x_session(source: XSource, context: ssl.SSLContext) -> aiohttp.ClientSession:
    """A session for one poll of `source` (the caller closes it)."""
    resolver: AbstractResolver | None = None
    if source.connect_to is not None:
        address, _, port = source.connect_to.rpartition(":")
        resolver = ConnectToResolver(API_HOST, address.strip("[]"), int(port))
    connector = aiohttp.TCPConnector(ssl=context, resolver=resolver, limit=4)
    timeout = aiohttp.ClientTimeout(total=source.timeout_seconds)
    return aiohttp.ClientSession(connector=connector, timeout=timeout)
