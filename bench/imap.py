"""The e-mail channel against a real Dovecot on loopback: ingest rate and IDLE push delay.

    python bench/imap.py                          # 10,000 messages, 200 IDLE deliveries, SQLite
    python bench/imap.py -n 2000 --deliveries 50 --backend postgresql

Ingest: a mailbox of N messages (plain text, HTML, some with a photo attached) is read by one
collector in polling mode, from the first SELECT to the last acknowledgement; messages/second
over that time. The APPEND that fills the mailbox is not timed.

Push: with the collector waiting in IDLE (as the daemon runs it), a second connection APPENDs
one message at a time; the delay is from the APPEND's answer to the store's commit of the
complaint. Dovecot itself waits about half a second after a change before it tells IDLE
clients (it batches notifications), so that is the floor of what this measures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import peak_mb
from muara.domain import NewComplaint, RawInput
from muara.ingest.base import Stored
from muara.ingest.email import EmailCollector
from muara.store.engine import create_engine, migrate
from muara.store.repository import Store
from tests.dovecot import Account, Dovecot, running_dovecot

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
APPEND_CHUNK = 250
# What citizens write, in a few shapes; the number makes each text differ.
TEXTS = [
    "Jalan di depan SD Negeri {n} berlubang besar, sudah dua motor jatuh minggu ini.",
    "Sampah di TPS pasar tidak diangkut sejak {n} hari, baunya sampai ke rumah warga.",
    "Air PDAM di RT {n} mati sejak kemarin pagi, mohon segera diperbaiki.",
    "Lampu penerangan jalan di Gang Mawar no. {n} mati, rawan kejahatan malam hari.",
    "Saluran drainase mampet, setiap hujan rumah nomor {n} kebanjiran setinggi lutut.",
    "Pohon tumbang menutup separuh jalan di Jl. Merdeka {n}, belum ada petugas datang.",
]
PHOTO = base64.encodebytes(random.Random(1).randbytes(20_000)).decode("ascii")


def message(n: int, text: str, rng: random.Random) -> bytes:
    """One synthetic citizen message; a mix of the shapes real mailboxes hold."""
    head = (
        f"From: Warga {n} <warga{n}@contoh.id>\r\nTo: aduan@pemkot.go.id\r\n"
        f"Subject: Laporan {n}\r\nDate: Mon, 23 Nov 2026 08:15:00 +0700\r\n"
        f"Message-ID: <bench-{n}-{uuid.uuid4().hex[:8]}@contoh.id>\r\nMIME-Version: 1.0\r\n"
    )
    kind = rng.random()
    if kind < 0.80:
        body = f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\r\nSalam,\r\nWarga\r\n"
    elif kind < 0.95:
        body = f"Content-Type: text/html; charset=utf-8\r\n\r\n<div><p>{text}</p></div>\r\n"
    else:
        body = (
            'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--b\r\n"
            'Content-Type: image/jpeg; name="foto.jpg"\r\nContent-Transfer-Encoding: base64\r\n'
            f"\r\n{PHOTO}--b--\r\n"
        )
    return (head + body).encode("utf-8")


def fill(server: Dovecot, account: Account, n: int) -> None:
    """APPEND n messages (MULTIAPPEND, a few hundred per command)."""
    rng = random.Random(7)
    with server.client(account) as client:
        batch: list[bytes] = []
        for i in range(n):
            batch.append(message(i, rng.choice(TEXTS).format(n=i), rng))
            if len(batch) == APPEND_CHUNK or i == n - 1:
                client.multiappend("INBOX", batch)
                batch = []


class TimingSink:
    """The store, noting when each complaint's commit returned."""

    def __init__(self, store: Store) -> None:
        self.inner = store
        self.stored_at: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def store_many(self, items: list[tuple[NewComplaint, RawInput | None]]) -> list[Stored]:
        result = await self.inner.store_many(items)
        now = time.perf_counter()
        for complaint, _ in items:
            self.stored_at.setdefault(complaint.source_id, now)
        self.changed.set()
        return result

    async def store(self, complaint: NewComplaint, raw: RawInput | None) -> Stored:
        return (await self.store_many([(complaint, raw)]))[0]

    async def quarantine(self, raw: RawInput, error_class: str, reason: str) -> Stored:
        return await self.inner.quarantine(raw, error_class, reason)


async def bench_ingest(server: Dovecot, url: str, n: int, batch_size: int) -> None:
    account = server.add_account()
    started = time.perf_counter()
    await asyncio.to_thread(fill, server, account, n)
    print(f"  filled the mailbox with {n:,} messages in {time.perf_counter() - started:.1f}s")
    engine = create_engine(url)
    try:
        store = Store(engine)
        mailbox = server.mailbox(account, name="bench", idle=False, batch_size=batch_size)
        collector = EmailCollector(mailbox, engine)
        started = time.perf_counter()
        report = await collector.poll(store)
        elapsed = time.perf_counter() - started
        await collector.close()
        assert report.ingested == n, report
        print(
            f"  ingest: {n:,} messages in {elapsed:.1f}s = {n / elapsed:,.0f} messages/s "
            f"(batch {batch_size}; peak memory {peak_mb():.0f} MB)"
        )
    finally:
        await engine.dispose()


async def bench_push(server: Dovecot, url: str, deliveries: int) -> None:
    account = server.add_account()
    engine = create_engine(url)
    stop = asyncio.Event()
    collector = EmailCollector(server.mailbox(account, name="push"), engine, stop=stop)
    sink = TimingSink(Store(engine))

    async def run() -> None:
        while not stop.is_set():
            await collector.poll(sink)

    task = asyncio.create_task(run())
    rng = random.Random(11)
    delays: list[float] = []
    client = await asyncio.to_thread(server.client, account)
    try:
        for i in range(deliveries):
            async with asyncio.timeout(60):
                # One push per message: wait until the collector is back in IDLE.
                while not collector.idle_waiting:  # noqa: ASYNC110 - a flag set in a thread
                    await asyncio.sleep(0.001)
            raw = message(100_000 + i, rng.choice(TEXTS).format(n=i), rng)
            source_id = raw.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0].decode()
            await asyncio.to_thread(client.append, "INBOX", raw)
            appended = time.perf_counter()
            async with asyncio.timeout(60):
                while source_id not in sink.stored_at:
                    sink.changed.clear()
                    await sink.changed.wait()
            delays.append(sink.stored_at[source_id] - appended)
    finally:
        await asyncio.to_thread(client.logout)
        stop.set()
        await task
        await collector.close()
        await engine.dispose()
    cuts = statistics.quantiles(delays, n=100, method="inclusive")
    print(
        f"  IDLE push, APPEND -> stored, {deliveries} messages: median "
        f"{statistics.median(delays) * 1000:.0f} ms, p99 {cuts[98] * 1000:.0f} ms, "
        f"max {max(delays) * 1000:.0f} ms"
    )


async def run_backend(url: str, args: argparse.Namespace) -> None:
    engine = create_engine(url)
    await migrate(engine)
    await engine.dispose()
    with running_dovecot() as server:
        await bench_ingest(server, url, args.n, args.batch)
        await bench_push(server, url, args.deliveries)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="messages in the mailbox")
    parser.add_argument("--deliveries", type=int, default=200, help="messages pushed by IDLE")
    parser.add_argument("--batch", type=int, default=100, help="collector batch_size")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(f"{backend}:", flush=True)
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="muara-bench-imap-") as workdir:
                await run_backend(f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}", args)
        else:
            name = f"muara_bench_imap_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(PG_ADMIN)
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
                await run_backend(f"{base}/{name}", args)
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
