"""Every configured source, as a collector. A new channel adds its block here, nothing else."""

from __future__ import annotations

from muara.config import Settings, SpoolSource
from muara.demo.seed import DEMO_SPOOL, seed_demo_spool
from muara.ingest.base import Collector
from muara.ingest.spool import SpoolCollector


def spool_sources(settings: Settings) -> list[SpoolSource]:
    """Configured spools, plus the demo spool in demo mode."""
    sources = list(settings.spool)
    if settings.demo and all(source.name != DEMO_SPOOL for source in sources):
        sources.append(seed_demo_spool(settings.data_dir))
    return sources


def build_collectors(settings: Settings) -> list[Collector]:
    """One collector per configured source; names must be unique (they key cursors and metrics)."""
    collectors: list[Collector] = [SpoolCollector(source) for source in spool_sources(settings)]
    names = [collector.name for collector in collectors]
    if duplicates := sorted({name for name in names if names.count(name) > 1}):
        raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
    return collectors
