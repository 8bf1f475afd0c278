"""The review desk over plain HTTP: cookies, headers, guards, metrics, the CLI and the daemon."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from muara.cli import main
from muara.daemon import Daemon
from muara.review.settings import ReviewSettings
from muara.store.engine import create_engine
from muara.store.records import utc_now
from muara.store.repository import Store
from muara.store.review_accounts import Accounts, Role
from muara.testing import FakeClock
from tests.review_helpers import PASSWORD, Desk, serve_desk, suggestion, to_review, waiting
from tests.test_daemon import daemon_settings

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def client() -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1 (aiohttp's jar skips IP hosts by default)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


@pytest.fixture
async def desk(store: Store, clock: FakeClock) -> AsyncIterator[Desk]:
    settings = ReviewSettings(cookie_secure=False, login_attempts_per_minute=3)
    async with serve_desk(store, clock, settings) as served:
        yield served


async def log_in(
    http: aiohttp.ClientSession, desk: Desk, username: str, password: str = PASSWORD
) -> aiohttp.ClientResponse:
    async with http.get(f"{desk.url}login") as page:
        token = CSRF.search(await page.text())
    assert token is not None
    return await http.post(
        f"{desk.url}login",
        data={"csrf": token.group(1), "username": username, "password": password},
        allow_redirects=False,
    )


async def test_cookies_headers_and_the_session_guard(desk: Desk) -> None:
    await desk.user("siti")
    async with client() as http:
        async with http.get(desk.url, allow_redirects=False) as anonymous:
            assert anonymous.status == 303
            assert anonymous.headers["Location"] == "/review/login"
        async with http.post(f"{desk.url}accept", data={"ids": "1"}) as refused:
            assert refused.status == 403
        response = await log_in(http, desk, "siti")
        assert response.status == 303
        cookie = next(
            value
            for key, value in response.headers.items()
            if key == "Set-Cookie" and value.startswith("muara_review=")
        )
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/review/" in cookie
        assert "Secure" not in cookie
        async with http.get(desk.url) as queue:
            assert queue.status == 200
            assert "no-store" in queue.headers["Cache-Control"]
            assert "frame-ancestors 'none'" in queue.headers["Content-Security-Policy"]
            token = CSRF.search(await queue.text())
        assert token is not None
        # A form posted from another site is refused even with a valid token.
        async with http.post(
            f"{desk.url}accept",
            data={"csrf": token.group(1), "ids": "1"},
            headers={"Origin": "http://evil.example"},
        ) as cross:
            assert cross.status == 403
        async with http.post(
            f"{desk.url}logout", data={"csrf": token.group(1)}, allow_redirects=False
        ) as out:
            assert out.status == 303
        async with http.get(desk.url, allow_redirects=False) as after:
            assert after.status == 303


async def test_secure_cookies_behind_a_tls_proxy(store: Store, clock: FakeClock) -> None:
    async with serve_desk(store, clock, ReviewSettings(cookie_secure=True)) as desk:
        await desk.user("siti")
        # Over plain HTTP a client keeps no Secure cookie: hand the login cookie back by hand,
        # as a browser would behind the TLS-terminating proxy.
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{desk.url}login") as page:
                login_cookie = page.headers["Set-Cookie"]
                token = CSRF.search(await page.text())
            assert token is not None and "Secure" in login_cookie
            value = login_cookie.split(";", 1)[0]
            async with http.post(
                f"{desk.url}login",
                data={"csrf": token.group(1), "username": "siti", "password": PASSWORD},
                headers={"Cookie": value},
                allow_redirects=False,
            ) as response:
                assert response.status == 303
                session = [
                    c
                    for c in response.headers.getall("Set-Cookie")
                    if c.startswith("muara_review=")
                ]
                assert "Secure" in session[0]


async def test_login_attempts_are_rate_limited_per_address(desk: Desk, clock: FakeClock) -> None:
    async with client() as http:
        statuses = [(await log_in(http, desk, f"user{i}", "x" * 12)).status for i in range(4)]
        assert statuses == [401, 401, 401, 429]
        clock.advance(61)
        assert (await log_in(http, desk, "nobody", "x" * 12)).status == 401


async def test_the_audit_log_is_for_admins(desk: Desk) -> None:
    await desk.user("siti")
    await desk.user("admin", Role.ADMIN)
    async with client() as http:
        await log_in(http, desk, "siti")
        async with http.get(f"{desk.url}audit") as page:
            assert page.status == 403
    async with client() as http:
        await log_in(http, desk, "admin")
        async with http.get(f"{desk.url}audit") as page:
            assert page.status == 200
            assert "coordinator:siti" in await page.text()


async def test_queue_gauges_at_scrape_time(desk: Desk, store: Store, clock: FakeClock) -> None:
    await to_review(store, [(c, suggestion("DLH")) for c in waiting(3)])
    async with client() as http, http.get(desk.url.replace("/review/", "/metrics")) as scraped:
        body = await scraped.text()
    assert "muara_review_queue_size 3.0" in body
    oldest = (clock() - waiting(1)[0].received_at).total_seconds()
    assert f"muara_review_queue_oldest_age_seconds {oldest}" in body


def test_user_cli_adds_disables_and_resets(
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MUARA_STORE__URL", store_url)

    def run(*args: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return main(["user", *args])

    assert (
        run(
            "add",
            "siti",
            "--agency",
            "DLH",
            "--agency",
            "PDAM",
            "--password-stdin",
            stdin="kata-sandi-panjang\n",
        )
        == 0
    )
    assert "user siti added (coordinator; DLH, PDAM)" in capsys.readouterr().out
    assert run("add", "siti", "--password-stdin", stdin="kata-sandi-panjang\n") == 1
    assert run("add", "budi", "--password-stdin", stdin="pendek\n") == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert run("add", "budi", stdin="") == 2  # no terminal to ask on, and no --password-stdin
    assert run("disable", "siti") == 0
    assert run("reset-password", "siti", "--password-stdin", stdin="kata-sandi-baru-12\n") == 0
    assert run("reset-password", "nobody", "--password-stdin", stdin="kata-sandi-baru-12\n") == 1
    capsys.readouterr()
    assert run("list") == 0
    assert capsys.readouterr().out.strip() == "siti\tcoordinator\tDLH,PDAM\tdisabled"

    async def stored_hash() -> str:
        engine = create_engine(store_url)
        try:
            record = await Accounts(engine, clock=utc_now).login_record("siti")
        finally:
            await engine.dispose()
        assert record is not None
        return record.password_hash

    assert asyncio.run(stored_hash()).startswith("$argon2id$")


async def test_the_daemon_serves_the_desk(store_url: str, tmp_path: Path) -> None:
    daemon = Daemon(daemon_settings(store_url, tmp_path), registry=CollectorRegistry())
    task = asyncio.create_task(daemon.run())
    ready = asyncio.create_task(daemon.ready.wait())
    await asyncio.wait([task, ready], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    try:
        async with client() as http:
            async with http.get(f"{daemon.ops_url}/review/login") as page:
                assert page.status == 200
                assert 'id="login-form"' in await page.text()
            async with http.get(f"{daemon.ops_url}/metrics") as scraped:
                assert "muara_review_queue_size 0.0" in await scraped.text()
    finally:
        daemon.request_stop()
        async with asyncio.timeout(30):
            await task
