"""Every configured source, as a collector. A new channel adds its block here, nothing else."""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from muara.classify.relevance_model import open_relevance
from muara.config import Settings
from muara.demo.seed import DEMO_SPOOL, DEMO_TRANSCRIPTS, seed_demo_spool, seed_demo_transcripts
from muara.ingest.base import Collector
from muara.ingest.email import EmailCollector
from muara.ingest.settings import SpoolSource, TranscriptSource, shared_call_channels
from muara.ingest.spool import SpoolCollector
from muara.ingest.transcripts import transcript_collector
from muara.ingest.x.collector import XCollector
from muara.section import repeated_names
from muara.store.records import Clock, utc_now

if TYPE_CHECKING:
    from muara.exporters.metrics import Metrics


def spool_sources(settings: Settings) -> list[SpoolSource]:
    """Configured spools, plus the demo spool in demo mode."""
    sources = list(settings.spool)
    if settings.demo and all(source.name != DEMO_SPOOL for source in sources):
        sources.append(seed_demo_spool(settings.data_dir))
    return sources


def transcript_sources(settings: Settings) -> list[TranscriptSource]:
    """Configured 112 transcript folders, plus the demo folder in demo mode."""
    sources = list(settings.transcripts)
    if settings.demo and all(source.name != DEMO_TRANSCRIPTS for source in sources):
        sources.append(seed_demo_transcripts(settings.data_dir))
    return sources


def build_collectors(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    clock: Clock = utc_now,
    stop: asyncio.Event | None = None,
    metrics: Metrics | None = None,
) -> list[Collector]:
    """One collector per configured source; names must be unique (they key cursors and metrics).

    Collectors that keep a cursor or thread replies need the store's `engine`; `stop` is the
    daemon's shutdown event, which collectors that wait on their source (IMAP IDLE) watch;
    `metrics` counts what collectors meet beyond the sink's counts (X rate limits).
    """
    spools, transcripts = spool_sources(settings), transcript_sources(settings)
    # Settings checks the configured sources; this also covers the demo's.
    if shared := shared_call_channels([*spools, *transcripts]):
        raise ValueError("; ".join(shared))
    collectors: list[Collector] = [SpoolCollector(source) for source in spools]
    if settings.email:
        if engine is None:
            raise ValueError("e-mail sources need the store: pass engine= to build_collectors")
        collectors.extend(
            EmailCollector(mailbox, engine, clock=clock, stop=stop) for mailbox in settings.email
        )
    collectors.extend(transcript_collector(source) for source in transcripts)
    if settings.x:
        if engine is None:
            raise ValueError("X sources keep their position in the store: pass engine=")
        for source in settings.x:
            counter = metrics.x_rate_limited.labels(source.name) if metrics is not None else None
            collectors.append(
                XCollector(
                    source,
                    engine=engine,
                    clock=clock,
                    on_rate_limit=counter.inc if counter is not None else None,
                    relevance=functools.partial(open_relevance, settings),
                )
            )
    if duplicates := repeated_names([collector.name for collector in collectors]):
        raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
    return collectors
