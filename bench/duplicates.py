"""Duplicate detection's speed: complaints checked per second against 1,000,000 stored ones.

    python bench/duplicates.py                  # SQLite, 1,000,000 indexed complaints
    python bench/duplicates.py --pg             # a scratch database on PostgreSQL 127.0.0.1
    python bench/duplicates.py -n 100000 --queries 2000
    python bench/duplicates.py --days 7         # all 1,000,000 within the matching window

The rate per second of this process's CPU time is printed too: what one free core would do
(SQLite runs in this process; PostgreSQL's own work is not counted), as a shared machine's
wall clock also measures its neighbours.

Builds a store of N synthetic routed complaints (received over the last `--days` days: 1,000
kelurahan, 20,000 streets, 20 kinds of problem in many wordings, 700,000 distinct reporters) with
their keys in the duplicate index, prunes the index as the route stage does (it keeps only what
the time windows can still match), then checks complaints received now the way the route stage
does, in batches of 200: 10% repeat a complaint of the last 12 hours by another channel, 5% report
the same problem at the same kelurahan as one of the last day, the rest are new. Prints the build
time, the index's size, and complaints/s for the check alone and for check + recording the batch.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import func, select

from muara.domain import State
from muara.router.duplicates import fingerprint
from muara.store.duplicate_index import DuplicateIndex, remember
from muara.store.duplicate_tables import duplicate_fingerprints, duplicate_keys
from muara.store.engine import create_engine, migrate
from muara.store.records import ComplaintRecord
from muara.store.tables import complaints

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
BATCH = 200
PROBLEMS = [
    "jalan berlubang besar, banyak motor jatuh",
    "lampu PJU mati sudah {d} hari, gelap kalau malam",
    "sampah tidak diangkut {d} hari, bau sekali",
    "air PDAM mati sejak {d} hari",
    "saluran mampet, air meluber ke jalan",
    "pohon tumbang menutup jalan",
    "banjir setinggi lutut, air masuk rumah",
    "parkir liar bikin macet tiap sore",
    "pedagang kaki lima menutup trotoar",
    "suara bising dari bengkel sampai malam",
    "kabel listrik menjuntai rendah, bahaya",
    "pungli di pasar oleh oknum",
    "antrean KTP di kecamatan lama sekali",
    "anjing liar menggigit anak",
    "bau asap pembakaran sampah tiap pagi",
    "trotoar rusak, paving lepas",
    "papan reklame miring mau roboh",
    "air keruh dan berbau dari PDAM",
    "genangan air di depan sekolah",
    "lampu lalu lintas perempatan mati",
]
OPENINGS = ["", "Mohon bantuan, ", "Lapor pak, ", "Selamat pagi, ", "Tolong ditindaklanjuti, "]
CLOSINGS = ["", " Terima kasih.", " Mohon segera.", " Sudah lapor sebelumnya belum ada tindakan."]
CHANNELS = ["callcenter", "email", "x", "112"]


class World:
    """The region's places and people, and complaints about them."""

    def __init__(self, seed: int = 11, days: float = 30) -> None:
        self.rng = random.Random(seed)
        self.days = days
        self.kelurahan = [f"Kelurahan{i:04d}" for i in range(1000)]
        self.streets = [f"Jl. Nama{i:05d} Raya" for i in range(20_000)]
        self.reporters = 700_000

    def text(self, problem: str, street: str) -> str:
        rng = self.rng
        detail = problem.format(d=rng.randint(2, 9))
        return f"{rng.choice(OPENINGS)}{detail} di {street} dekat no {rng.randint(1, 200)}." + (
            rng.choice(CLOSINGS)
        )

    def complaint(self, i: int) -> dict[str, object]:
        rng = self.rng
        street = rng.choice(self.streets)
        channel = rng.choice(CHANNELS)
        structured = channel in {"callcenter", "112"}
        person = rng.randrange(self.reporters)
        return {
            "channel": channel,
            "source_id": f"s-{i}",
            "received_at": NOW - timedelta(seconds=rng.uniform(0, self.days * 86400)),
            "text": self.text(rng.choice(PROBLEMS), street),
            "reporter_contact": (f"0812{person:08d}" if channel != "x" else f"@warga{person}"),
            "district": None,
            "subdistrict": rng.choice(self.kelurahan) if structured else None,
        }


def record(row: dict[str, object], complaint_id: int) -> ComplaintRecord:
    return ComplaintRecord(
        id=complaint_id,
        channel=str(row["channel"]),
        source_id=str(row["source_id"]),
        state=State.CLASSIFIED,
        received_at=row["received_at"],  # type: ignore[arg-type]
        text=str(row["text"]),
        subject=None,
        district=None,
        subdistrict=row["subdistrict"],  # type: ignore[arg-type]
        is_anonymous=False,
        is_secret=False,
        agency=None,
        extra={},
    )


def _complaint_row(row: dict[str, object], state: State) -> dict[str, object]:
    return {
        **row,
        "ingested_at": NOW,
        "state": state.value,
        "state_changed_at": NOW,
        "is_anonymous": False,
        "is_secret": False,
        "attachments": [],
        "extra": {},
    }


async def build(url: str, n: int, world: World) -> list[dict[str, object]]:
    """N routed complaints with their index entries; returns a sample of them to repeat."""
    engine = create_engine(url)
    await migrate(engine)
    chunk = 5000
    sample: list[dict[str, object]] = []
    began = time.perf_counter()
    for start in range(0, n, chunk):
        rows = [world.complaint(i) for i in range(start, min(n, start + chunk))]
        async with engine.begin() as conn:
            inserted = await conn.execute(
                complaints.insert().returning(complaints.c.id),
                [_complaint_row(row, State.ROUTED) for row in rows],
            )
            ids = list(inserted.scalars())
            prints = [
                fingerprint(
                    cid,
                    row["received_at"],  # type: ignore[arg-type]
                    str(row["text"]),
                    contact=row["reporter_contact"],  # type: ignore[arg-type]
                    subdistrict=row["subdistrict"],  # type: ignore[arg-type]
                )
                for cid, row in zip(ids, rows, strict=True)
            ]
            await remember(conn, prints)
        recent = [row for row in rows if row["received_at"] > NOW - timedelta(hours=12)]  # type: ignore[operator]
        sample.extend(world.rng.sample(recent, min(20, len(recent))))
        if (start // chunk) % 20 == 19:
            done = start + chunk
            rate = done / (time.perf_counter() - began)
            print(f"  {done:,} stored and indexed ({rate:,.0f}/s)", flush=True)
    async with engine.connect() as conn:
        keys = await conn.scalar(select(func.count()).select_from(duplicate_keys))
    print(
        f"built {n:,} indexed complaints in {time.perf_counter() - began:.0f} s; "
        f"{keys:,} index keys ({(keys or 0) / n:.1f} per complaint)",
        flush=True,
    )
    index = DuplicateIndex(engine)
    await index.prune(NOW)
    async with engine.connect() as conn:
        keys = await conn.scalar(select(func.count()).select_from(duplicate_keys))
        kept = await conn.scalar(select(func.count()).select_from(duplicate_fingerprints))
    print(
        f"pruned to the windows ({index.settings.widest.days} days + 1): {kept:,} complaints, "
        f"{keys:,} index keys",
        flush=True,
    )
    await engine.dispose()
    return sample


def queries(world: World, sample: list[dict[str, object]], count: int) -> list[dict[str, object]]:
    """New complaints: 10% repeats by another channel, 5% same place and problem, 85% new."""
    rng = world.rng
    made = []
    for i in range(count):
        roll = rng.random()
        row = world.complaint(10_000_000 + i)
        row["source_id"] = f"q-{i}"
        now = NOW + timedelta(seconds=i)
        row["received_at"] = now
        if roll < 0.10:  # the same complaint again, by another channel, within hours
            base = rng.choice(sample)
            row = {
                **base,
                "source_id": f"q-{i}",
                "channel": "email",
                "received_at": now,
                "text": str(base["text"]).replace("Mohon", "Tolong"),
                "reporter_contact": f"warga{i}@example.com",
                "subdistrict": None,
            }
        elif roll < 0.15 and sample:  # the same problem at the same kelurahan, in other words
            base = rng.choice([row for row in sample if row["subdistrict"]])
            row["subdistrict"] = base["subdistrict"]
            problem = next(p for p in PROBLEMS if p.split("{d}")[0] in str(base["text"]))
            row["text"] = world.text(problem, f"kelurahan {base['subdistrict']}")
            row["channel"] = "callcenter"
        made.append(row)
    return made


async def check(
    url: str, new: list[dict[str, object]], write: bool
) -> tuple[float, float, list[float], Counter[str]]:
    engine = create_engine(url)
    index = DuplicateIndex(engine)
    async with engine.begin() as conn:
        inserted = await conn.execute(
            complaints.insert().returning(complaints.c.id),
            [
                _complaint_row(
                    {**row, "source_id": f"{row['source_id']}-{write}"}, State.CLASSIFIED
                )
                for row in new
            ],
        )
        ids = list(inserted.scalars())
    records = [record(row, cid) for row, cid in zip(new, ids, strict=True)]
    kinds: Counter[str] = Counter()
    latencies = []
    began, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        t0 = time.perf_counter()
        result = await index.check(batch)
        if write:
            async with engine.begin() as conn:
                await result.record(conn, {r.id for r in batch})
        latencies.append((time.perf_counter() - t0) * 1000)
        kinds.update(match.kind.name for match in result.matches.values())
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    await engine.dispose()
    return len(records) / elapsed, len(records) / cpu, latencies, kinds


async def run(url: str, n: int, count: int, days: float) -> None:
    world = World(days=days)
    sample = await build(url, n, world)
    for write in (False, True):
        new = queries(world, sample, count)
        rate, cpu_rate, latencies, kinds = await check(url, new, write)
        what = "check + record" if write else "check only"
        print(
            f"{what:<15} {rate:8,.0f} complaints/s ({cpu_rate:,.0f}/s of this process's CPU "
            f"time); batch of {BATCH}: median "
            f"{statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms; "
            f"found {dict(kinds)}",
            flush=True,
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="complaints in the index")
    parser.add_argument("--queries", type=int, default=5000, help="new complaints to check")
    parser.add_argument("--pg", action="store_true", help="a scratch PostgreSQL database")
    parser.add_argument("--days", type=float, default=30, help="the stored complaints' span")
    args = parser.parse_args()
    if not args.pg:
        with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
            print(f"store: SQLite; {args.n:,} complaints", flush=True)
            await run(f"sqlite+aiosqlite:///{folder}/bench.db", args.n, args.queries, args.days)
            size = (await asyncio.to_thread(Path(folder, "bench.db").stat)).st_size
            print(f"SQLite file: {size / 2**20:,.0f} MiB")
        return
    name = f"muara_bench_dup_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        print(f"store: PostgreSQL; {args.n:,} complaints", flush=True)
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        await run(url, args.n, args.queries, args.days)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
