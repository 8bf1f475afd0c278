"""Throughput of the file channels: a 100,000-row call-center export and 10,000 112 transcripts.

    python bench/channels.py                         # both, SQLite then PostgreSQL
    python bench/channels.py --rows 20000 --files 2000 --backend sqlite

For each input it prints the parser alone (pure, one core) and the collector end to end: read the
spool folder, parse, store every complaint in the store in chunks, move the files to done/.
The CSV is one file, as a call center's daily export is; it is also timed as JSON Lines.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import io
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

import asyncpg

from muara.ingest.call_logs import CallLogParser
from muara.ingest.settings import SpoolSource, TranscriptSource
from muara.ingest.spool import SpoolCollector
from muara.ingest.transcripts import TranscriptParser, transcript_collector
from muara.store.engine import create_engine, migrate
from muara.store.repository import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import peak_mb

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
HEADER = "call_id,started_at,caller_name,caller_number,agent,category,summary,district,subdistrict"
COLUMNS = HEADER.split(",")


def call_rows(n: int, seed: int = 5) -> list[list[str]]:
    """N synthetic calls from the demo export's summaries (fictional, 0812-0000-xxxx numbers)."""
    rng = random.Random(seed)
    demo = resources.files("muara.demo").joinpath("callcenter-sample.csv").read_text("utf-8")
    texts = [row["summary"] for row in csv.DictReader(io.StringIO(demo))]
    return [
        [
            f"CC-{i:07d}",
            f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+07:00",
            "Warga",
            f"0812-0000-{i % 10000:04d}",
            f"Agen {i % 12:02d}",
            "umum",
            rng.choice(texts),
            "Gubeng",
            "Mojo",
        ]
        for i in range(n)
    ]


def csv_export(rows: list[list[str]]) -> bytes:
    def quoted(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"') else value

    lines = [HEADER, *(",".join(quoted(v) for v in row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def jsonl_export(rows: list[list[str]]) -> bytes:
    return "".join(json.dumps(dict(zip(COLUMNS, row, strict=True))) + "\n" for row in rows).encode()


def transcripts(n: int) -> list[tuple[str, bytes]]:
    """N transcripts: the bundled samples (JSON and text), each with a call id of its own."""
    folder = resources.files("muara.demo").joinpath("transcripts")
    samples = [
        (entry.name, entry.read_bytes())
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if not entry.name.endswith("0012.json")  # the broken one
    ]
    made = []
    for i in range(n):
        name, data = samples[i % len(samples)]
        stem, suffix = name.rsplit(".", 1)
        call_id = f"112-BENCH-{i:06d}"
        made.append((f"{call_id}.{suffix}", data.replace(stem.encode(), call_id.encode(), 1)))
    return made


async def timed(label: str, n: int, unit: str, work: Callable[[], Awaitable[object]]) -> None:
    start = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - start
    print(
        f"  {label:<34} {n / elapsed:>10,.0f} {unit}/s  ({elapsed:.2f} s, peak {peak_mb():,.0f} MB)"
    )


async def parse_only(rows: list[list[str]], files: list[tuple[str, bytes]]) -> None:
    print("parser alone (pure, one core)")
    source = SpoolSource(name="bench", path=Path("/nonexistent"), max_file_bytes=1 << 30)
    parser = CallLogParser(source)
    for name, data in (("calls.csv", csv_export(rows)), ("calls.jsonl", jsonl_export(rows))):
        digest = hashlib.sha256(data).hexdigest()

        async def parse(name: str = name, data: bytes = data, digest: str = digest) -> None:
            parsed = parser.parse(data, file_name=name, file_digest=digest)
            assert len(parsed.rows) == len(rows), parsed.file_error

        await timed(f"call-center {name.split('.')[1].upper()}", len(rows), "rows", parse)
    transcript_parser = TranscriptParser(TranscriptSource(name="bench", path=Path("/none")))

    async def parse_transcripts() -> None:
        for name, data in files:
            assert transcript_parser.parse(data, file_name=name, file_digest="0").rows

    await timed("112 transcripts", len(files), "files", parse_transcripts)


async def run_backend(
    url: str, rows: list[list[str]], files: list[tuple[str, bytes]], work: Path
) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
        store = Store(engine)
        for suffix, data in (("csv", csv_export(rows)), ("jsonl", jsonl_export(rows))):
            root = work / f"spool-{suffix}"
            (root / "inbox").mkdir(parents=True)
            (root / "inbox" / f"calls.{suffix}").write_bytes(data)
            source = SpoolSource(
                name=f"bench-{suffix}", path=root, stable_seconds=0, max_file_bytes=1 << 30
            )
            # Another channel name per format, so the second run stores rather than skips.
            source = source.model_copy(update={"channel": f"cc-{suffix}"})
            collector = SpoolCollector(source)

            async def ingest(collector: SpoolCollector = collector) -> None:
                report = await collector.poll(store)
                assert report.ingested == len(rows), report

            await timed(f"call-center {suffix.upper()} -> store", len(rows), "rows", ingest)
        root = work / "112"
        (root / "inbox").mkdir(parents=True)
        for name, data in files:
            (root / "inbox" / name).write_bytes(data)
        collector = transcript_collector(TranscriptSource(name="b", path=root, stable_seconds=0))

        async def ingest_transcripts() -> None:
            report = await collector.poll(store)
            assert report.ingested + report.discarded == len(files), report

        await timed("112 transcripts -> store", len(files), "files", ingest_transcripts)
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="call-center rows")
    parser.add_argument("--files", type=int, default=10_000, help="112 transcript files")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    rows, files = call_rows(args.rows), transcripts(args.files)
    print(
        f"{args.rows:,} call-center rows ({len(csv_export(rows)) / 1e6:.1f} MB as CSV), "
        f"{args.files:,} transcripts"
    )
    await parse_only(rows, files)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        work = Path(tempfile.mkdtemp(prefix="muara-bench-"))
        try:
            if backend == "sqlite":
                print("collector end to end, SQLite (WAL)")
                await run_backend(f"sqlite+aiosqlite:///{work / 'bench.db'}", rows, files, work)
            else:
                name = f"muara_bench_{uuid.uuid4().hex[:8]}"
                admin = await asyncpg.connect(PG_ADMIN)
                await admin.execute(f'CREATE DATABASE "{name}"')
                try:
                    print("collector end to end, PostgreSQL")
                    url = PG_ADMIN.rsplit("/", 1)[0].replace(
                        "postgresql://", "postgresql+asyncpg://"
                    )
                    await run_backend(f"{url}/{name}", rows, files, work)
                finally:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    await admin.close()
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
