"""The embedded default's sample inputs, dropped into its data folder once."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from muara.ingest.settings import SpoolSource, TranscriptSource

DEMO_SPOOL = "demo"
DEMO_FILE = "callcenter-sample.csv"
# Call-center exports of the demo spool: the CSV export and a JSON Lines one (default layout).
DEMO_FILES = (DEMO_FILE, "callcenter-sample.jsonl")
DEMO_TRANSCRIPTS = "demo-112"
TRANSCRIPTS_FOLDER = "transcripts"


def _seed(root: Path, names: list[str], folder: str = "") -> None:
    """Copy the bundled files into `root/inbox/` on the first start only."""
    inbox = root / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    marker = root / ".seeded"
    if marker.exists():
        return
    bundle = resources.files("muara.demo")
    if folder:
        bundle = bundle.joinpath(folder)
    for name in names:
        with resources.as_file(bundle.joinpath(name)) as path:
            shutil.copyfile(path, inbox / name)
    marker.touch()


def seed_demo_spool(data_dir: Path) -> SpoolSource:
    """A spool under `data_dir` with the bundled call-center rows dropped in (first start only)."""
    root = data_dir / "spool"
    _seed(root, list(DEMO_FILES))
    return SpoolSource(name=DEMO_SPOOL, path=root, stable_seconds=0.0)


def demo_transcript_names() -> list[str]:
    """The bundled 112 transcripts: one of each kind of call, and one broken file."""
    folder = resources.files("muara.demo").joinpath(TRANSCRIPTS_FOLDER)
    return sorted(entry.name for entry in folder.iterdir() if entry.name.startswith("112-"))


def seed_demo_transcripts(data_dir: Path) -> TranscriptSource:
    """A 112 transcript folder under `data_dir` with the bundled calls dropped in (first start)."""
    root = data_dir / "112"
    _seed(root, demo_transcript_names(), TRANSCRIPTS_FOLDER)
    return TranscriptSource(name=DEMO_TRANSCRIPTS, path=root, stable_seconds=0.0)
