"""Three `muara run` replicas on one PostgreSQL: a mailbox, a call-center spool and an X feed are
each read by one replica at a time; SIGKILL the replica that reads them, then the next one, while
complaints keep coming: every input is stored once and every routed complaint filed once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from tests.dovecot import Account, Dovecot, dovecot, imap_account
from tests.email_helpers import in_thread, mail, mid
from tests.replica_helpers import (
    IN_FLIGHT,
    TEXTS,
    Replica,
    drop,
    exported_ids,
    filings,
    references,
    replica_config,
    spool_rows,
    start_replica,
    start_simulator,
    takeover,
    tally,
    wait_for_holders,
)
from tests.x_api import ACCOUNT_ID, TOKEN, Tweet, XServer, x_api, x_ca

__all__ = ["dovecot", "imap_account", "x_api", "x_ca"]  # fixtures

ROUNDS = 36  # one round every ~0.4 s while the replicas are killed
ROWS, MAILS, POSTS = 6, 3, 3  # per round: 216 calls, 108 e-mails, 108 posts in all
KILL_AFTER = (8, 20)  # rounds fed before the first and the second SIGKILL
TAKEOVER_SECONDS = 1.0
SOURCES = {"cc", "aduan", "x-main"}
AUTHORS = [str(700 + n) for n in range(8)]


def x_block(server: XServer) -> str:
    return f"""
[[x]]
name = "x-main"
account_ids = ["{ACCOUNT_ID}"]
connect_to = "127.0.0.1:{server.port}"
ca_file = "{server.ca_file}"
poll_seconds = 0.3
page_size = 100
backfill_pages = 50
"""


def email_block(server: Dovecot, account: Account) -> str:
    return f"""
[[email]]
name = "aduan"
host = "127.0.0.1"
port = {server.port}
tls = "none"
user = "{account.user}"
password_env = "MUARA_TEST_IMAP_PASSWORD"
poll_seconds = 0.5
"""


async def feed(
    spool: Path, server: Dovecot, account: Account, x: XServer, rounds_done: list[int]
) -> None:
    """A steady stream into all three sources, round by round."""
    for r in range(ROUNDS):
        drop(spool, f"export-{r:03d}.csv", spool_rows(r * ROWS, ROWS))
        mails = [
            mail(
                f"m{n}",
                f"Selamat pagi, {TEXTS[n % len(TEXTS)]} nomor {n}.",
                sender=f"Warga {n} <warga{n}@contoh.id>",
            )
            for n in range(r * MAILS, (r + 1) * MAILS)
        ]
        await in_thread(server.append, account, *mails)
        for n in range(r * POSTS, (r + 1) * POSTS):
            x.state.post(
                Tweet(
                    9000 + n,
                    AUTHORS[n % len(AUTHORS)],
                    f"@PemkotContoh {TEXTS[n % len(TEXTS)]} no {n}",
                )
            )
        rounds_done[0] = r + 1
        await asyncio.sleep(0.4)


async def rounds_reached(rounds_done: list[int], target: int, feeder: asyncio.Task[None]) -> None:
    async with asyncio.timeout(120):
        while rounds_done[0] < target:
            if feeder.done():
                feeder.result()  # raises what stopped the feeder
            await asyncio.sleep(0.05)


async def source_reading(replica: Replica) -> dict[str, float]:
    """The replica's `muara_source_reading` gauge per source (1: it reads it, 0: stands by)."""
    async with aiohttp.ClientSession() as http, http.get(f"{replica.ops_url}/metrics") as resp:
        text = await resp.text()
    samples = re.findall(r"^muara_source_reading\{(.*)\} (\S+)$", text, re.MULTILINE)
    return {re.findall(r'source="([^"]+)"', labels)[0]: float(v) for labels, v in samples}


def most_sources(replicas: list[Replica]) -> Replica:
    living = [replica for replica in replicas if replica.alive]
    for replica in living:
        replica.refresh()
    return max(living, key=lambda replica: len(replica.held))


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_three_replicas_survive_two_sigkills_storing_and_filing_each_complaint_once(
    pg_database: str,
    tmp_path: Path,
    dovecot: Dovecot,
    imap_account: Account,
    x_api: XServer,
) -> None:
    for n, author in enumerate(AUTHORS):
        x_api.state.user(author, f"warga_{n}", f"Warga {n}")
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    record = tmp_path / "filings.jsonl"
    sim, lapor_url = await start_simulator(record)
    config = replica_config(
        tmp_path / "muara.toml",
        pg_database,
        lapor_url,
        spool=spool,
        takeover_seconds=TAKEOVER_SECONDS,
        extra=x_block(x_api) + email_block(dovecot, imap_account),
    )
    env = {"MUARA_TEST_IMAP_PASSWORD": imap_account.password, "MUARA_X_BEARER_TOKEN": TOKEN}
    replicas: list[Replica] = []
    feeder: asyncio.Task[None] | None = None
    try:
        # The first replica takes every source; the two started after it stand by.
        replicas.append(await start_replica("a", config, tmp_path, env))
        first = await wait_for_holders(replicas, SOURCES)
        assert set(first.values()) == {replicas[0]}
        for name in ("b", "c"):
            replicas.append(await start_replica(name, config, tmp_path, env))
        for replica in replicas[1:]:
            await replica.process.wait_for_line(r"standing by: another replica reads", 60)
        reading = [await source_reading(replica) for replica in replicas]
        assert reading == [dict.fromkeys(SOURCES, 1.0)] + [dict.fromkeys(SOURCES, 0.0)] * 2

        rounds_done = [0]
        feeder = asyncio.create_task(feed(spool, dovecot, imap_account, x_api, rounds_done))
        measured: list[tuple[str, str, float]] = []
        survivors = replicas
        for target in KILL_AFTER:
            await rounds_reached(rounds_done, target, feeder)
            victim = most_sources(replicas)
            assert victim.held, "some living replica reads the sources"
            survivors = [r for r in replicas if r is not victim and r.alive]
            taken = await takeover(victim, survivors)
            for source, (by, seconds) in sorted(taken.items()):
                measured.append((source, f"{victim.name}->{by}", seconds))
            await wait_for_holders(survivors, SOURCES)
        await feeder

        expected = {
            "callcenter": {f"r-{n}" for n in range(ROUNDS * ROWS)},
            "email": {mid(f"m{n}") for n in range(ROUNDS * MAILS)},
            "x": {str(9000 + n) for n in range(ROUNDS * POSTS)},
        }
        total = sum(len(ids) for ids in expected.values())
        # Until drained; on a timeout the assertions below say what is missing or stuck.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(240):
                while True:
                    stored, states = await tally(pg_database)
                    settled = sum(states.values()) == total and not any(
                        states.get(state) for state in IN_FLIGHT
                    )
                    if settled and len(filings(record)) == states.get("EXPORTED", 0):
                        break
                    for replica in survivors:  # the one replica left does all the work now
                        assert replica.alive, "\n".join(replica.process.lines[-20:])
                    await asyncio.sleep(0.5)

        assert not any(states.get(state) for state in IN_FLIGHT), f"stuck: {states}"
        # Every input stored exactly once, none missing, per channel.
        for channel, ids in expected.items():
            got = stored.get(channel, [])
            doubled = {i for i, count in Counter(got).items() if count > 1}
            assert not doubled, f"{channel}: stored twice: {sorted(doubled)[:5]}"
            assert set(got) == ids, f"{channel}: missing {sorted(ids - set(got))[:5]}"
        # Every routed complaint filed exactly once: one filing per EXPORTED complaint.
        filed = filings(record)
        refs = references(filed)
        assert len(refs) == len(filed) == len(set(refs)), "a complaint was filed twice"
        assert {str(entry["complaint_id"]) for entry in filed} == await exported_ids(pg_database)
        assert states.get("EXPORTED", 0) > total // 2, states  # the stream really reached LAPOR!

        bound = TAKEOVER_SECONDS + 60
        for source, who, seconds in measured:
            print(f"takeover of {source} ({who}): {seconds:.2f} s")
            assert seconds < bound, f"{source} taken over after {seconds:.1f} s"
        assert {source for source, _, _ in measured} == SOURCES
        print(f"final states: {dict(sorted(states.items()))}")

        log_text = "\n".join(line for r in replicas for line in r.process.lines)
        for personal in ("Warga", "warga", "0812-", "@contoh.id"):
            assert personal not in log_text, personal
    finally:
        if feeder is not None:
            feeder.cancel()
        for replica in replicas:
            await replica.process.kill()
        await sim.kill()
