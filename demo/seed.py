"""The embedded default's sample inputs, dropped into its data folder once."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from muara.config import SpoolSource

DEMO_SPOOL = "demo"
DEMO_FILE = "callcenter-sample.csv"


def seed_demo_spool(data_dir: Path) -> SpoolSource:
    """A spool under `data_dir` with the bundled call-center rows dropped in (first start only)."""
    root = data_dir / "spool"
    inbox = root / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    marker = root / ".seeded"
    if not marker.exists():
        sample = resources.files("muara.demo").joinpath(DEMO_FILE)
        with resources.as_file(sample) as path:
            shutil.copyfile(path, inbox / DEMO_FILE)
        marker.touch()
    return SpoolSource(name=DEMO_SPOOL, path=root, stable_seconds=0.0)
