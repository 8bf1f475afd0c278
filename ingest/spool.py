"""The spool-folder collector: CSV exports dropped into `<spool>/inbox/` by a call-center system.

A file moves to `done/` only after every row of it is stored or quarantined (DESIGN.md invariant 1):
a crash before the move re-reads the file, and the store answers "already known" for what it has.
All file-system work runs in a thread, so a slow network share never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from muara.config import SpoolSource
from muara.domain import NewComplaint, RawInput
from muara.ingest.base import IngestSink, PollReport, Stored
from muara.ingest.csv_rows import check_timezone, parse_csv

logger = logging.getLogger(__name__)

INBOX, DONE, QUARANTINE = "inbox", "done", "quarantine"
MARKER_SUFFIX = ".done"
# How much of a file a whole-file quarantine record keeps; the file itself goes to quarantine/.
RAW_HEAD_BYTES = 64 * 1024
CHUNK_ROWS = 500
FILE_TOO_LARGE = "FileTooLarge"


@dataclass(frozen=True, slots=True)
class _Seen:
    """A file's size and mtime at a poll, and since when they have not changed."""

    size: int
    mtime_ns: int
    since: datetime


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A file in inbox/ as the scan found it."""

    path: Path
    size: int
    mtime_ns: int
    has_marker: bool


@dataclass(frozen=True, slots=True)
class _Content:
    """What was read of a file: all of it, or only its head when it is over the limit."""

    data: bytes
    size: int
    mtime_ns: int
    complete: bool
    # Identity of the content; for a file read only in part, of its head and its size.
    digest: str


def _content(data: bytes, size: int, mtime_ns: int, *, complete: bool) -> _Content:
    identity = data if complete else data + b"\0%d" % size
    digest = hashlib.sha256(identity).hexdigest()
    return _Content(data, size, mtime_ns, complete, digest)


def _is_candidate(name: str) -> bool:
    """A CSV export, not a hidden file or an editor's lock file (`*.part`/`*.tmp` are not .csv)."""
    return not name.startswith((".", "~")) and name.lower().endswith(".csv")


def _scan(root: Path) -> list[_Candidate]:
    """Create the folders if missing; list inbox/*.csv, oldest first."""
    for sub in (INBOX, DONE, QUARANTINE):
        (root / sub).mkdir(parents=True, exist_ok=True)
    with os.scandir(root / INBOX) as it:
        entries = list(it)
    names = {entry.name for entry in entries}
    found: list[_Candidate] = []
    for entry in entries:
        try:
            if not (_is_candidate(entry.name) and entry.is_file()):
                continue
            st = entry.stat()
        except FileNotFoundError:
            continue  # taken away between the listing and the look
        marker = entry.name + MARKER_SUFFIX in names
        found.append(_Candidate(Path(entry.path), st.st_size, st.st_mtime_ns, marker))
    found.sort(key=lambda c: (c.mtime_ns, c.path.name))
    return found


def _read(path: Path, limit: int) -> _Content:
    """Read the whole file, or only its head if it is (or has grown) over `limit` bytes."""
    with path.open("rb") as f:
        st = os.fstat(f.fileno())
        if st.st_size > limit:
            return _content(f.read(RAW_HEAD_BYTES), st.st_size, st.st_mtime_ns, complete=False)
        data = f.read(limit + 1)
        if len(data) > limit:  # it grew past the limit since the look above
            st = os.fstat(f.fileno())
            return _content(data[:RAW_HEAD_BYTES], st.st_size, st.st_mtime_ns, complete=False)
        # Should it grow during the read, `size` differs from the file's and it stays in inbox/.
        return _content(data, len(data), st.st_mtime_ns, complete=True)


def _unchanged(path: Path, content: _Content) -> bool:
    """True when the file still has the size and mtime it had when it was read."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    return (st.st_size, st.st_mtime_ns) == (content.size, content.mtime_ns)


def _move(path: Path, folder: Path) -> Path:
    """Move `path` into `folder` under a free name (`x.csv`, `x.1.csv`, …); never overwrite."""
    for n in range(10_000):
        target = folder / (path.name if n == 0 else f"{path.stem}.{n}{path.suffix}")
        try:
            # A hard link fails if the target exists: no window in which we could overwrite.
            os.link(path, target)
        except FileExistsError:
            continue
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # No hard links here (SMB shares often lack them): look, then rename.
            if target.exists():
                continue
            path.rename(target)
        else:
            # A crash right here leaves the file in both folders: the next poll re-reads it,
            # the store knows every row, and it is filed again under the next free name.
            path.unlink()
        marker = path.with_name(path.name + MARKER_SUFFIX)
        marker.unlink(missing_ok=True)
        return target
    raise FileExistsError(f"no free name for {path.name} in {folder}")


def _count(report: PollReport, stored: list[Stored], *, quarantine: bool = False) -> None:
    for answer in stored:
        if not answer.created:
            report.already_known += 1
        elif quarantine:
            report.quarantined += 1
        else:
            report.ingested += 1


class SpoolCollector:
    """Reads CSV exports from a spool folder; implements `muara.ingest.base.Collector`."""

    def __init__(
        self,
        source: SpoolSource,
        *,
        clock: Callable[[], datetime] | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        try:
            check_timezone(source.timezone)
        except ValueError as err:
            raise ValueError(f"spool source '{source.name}': timezone: {err}") from err
        self._source = source
        self._clock = clock or (lambda: datetime.now(UTC))
        self._chunk_rows = chunk_rows
        self._seen: dict[str, _Seen] = {}
        self._unreadable: set[tuple[str, int, int]] = set()

    @property
    def name(self) -> str:
        """The source's configured name."""
        return self._source.name

    @property
    def channel(self) -> str:
        """The channel its complaints are recorded under."""
        return self._source.channel

    @property
    def poll_seconds(self) -> float:
        """How often the inbox is scanned."""
        return self._source.poll_seconds

    async def poll(self, sink: IngestSink) -> PollReport:
        """Ingest every stable file in inbox/; a sink failure leaves the file there and raises."""
        root = self._source.path
        candidates = await asyncio.to_thread(_scan, root)
        total = PollReport()
        for candidate in self._stable(candidates):
            total.add(await self._ingest(candidate, sink))
        return total

    def _stable(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """The files whose size and mtime held still for `stable_seconds`, or that have a marker."""
        now = self._clock()
        ready: list[_Candidate] = []
        seen: dict[str, _Seen] = {}
        for c in candidates:
            before = self._seen.get(c.path.name)
            if before is None or (before.size, before.mtime_ns) != (c.size, c.mtime_ns):
                before = _Seen(c.size, c.mtime_ns, now)
            seen[c.path.name] = before
            held = (now - before.since).total_seconds()
            if c.has_marker or held >= self._source.stable_seconds:
                ready.append(c)
        # Files that left the inbox are forgotten; a file that comes back is watched afresh.
        self._seen = seen
        return ready

    async def _ingest(self, candidate: _Candidate, sink: IngestSink) -> PollReport:
        source = self._source
        file_name = candidate.path.name
        try:
            content = await asyncio.to_thread(_read, candidate.path, source.max_file_bytes)
        except FileNotFoundError:
            return PollReport()
        except OSError as err:
            # Say it once per version of the file, then leave it for the operator; the files
            # behind it are still read.
            key = (file_name, candidate.size, candidate.mtime_ns)
            if key not in self._unreadable:
                self._unreadable.add(key)
                logger.warning(
                    "spool %s: %r cannot be read: %s", self.name, file_name, err.strerror
                )
            return PollReport()
        if not content.complete:
            return await self._quarantine_file(
                candidate.path,
                content,
                sink,
                FILE_TOO_LARGE,
                f"{file_name}: the file is {content.size} bytes, over the limit of "
                f"{source.max_file_bytes} bytes; it was moved to quarantine/ unread: raise "
                f"max_file_bytes of spool source '{source.name}' and move it back to inbox/",
            )
        parsed = await asyncio.to_thread(
            parse_csv, content.data, file_name=file_name, file_digest=content.digest, source=source
        )
        if parsed.file_error is not None:
            return await self._quarantine_file(
                candidate.path, content, sink, parsed.file_error_class, parsed.file_error
            )
        report = PollReport()
        for start in range(0, len(parsed.rows), self._chunk_rows):
            chunk: list[tuple[NewComplaint, RawInput | None]] = list(
                parsed.rows[start : start + self._chunk_rows]
            )
            _count(report, await sink.store_many(chunk))
        for bad in parsed.bad:
            _count(
                report,
                [await sink.quarantine(bad.raw, bad.error_class, bad.reason)],
                quarantine=True,
            )
        if parsed.missing_optional:
            logger.warning(
                "spool %s: %r: the header lacks the mapped column(s) %s; their data is not read",
                source.name,
                file_name,
                ", ".join(map(repr, parsed.missing_optional)),
            )
        target = await self._finish(candidate.path, content, DONE)
        if target is not None:
            logger.info(
                "spool %s: %r: %d stored, %d already known, %d quarantined; moved to %s/%s",
                self.name,
                file_name,
                report.ingested,
                report.already_known,
                report.quarantined,
                DONE,
                target,
            )
        return report

    async def _quarantine_file(
        self,
        path: Path,
        content: _Content,
        sink: IngestSink,
        error_class: str,
        reason: str,
    ) -> PollReport:
        """Keep a file that is no CSV export: a record of its head; the file goes to quarantine/."""
        raw = RawInput(
            channel=self._source.channel,
            source_ref=f"{self._source.name}:{content.digest[:16]}",
            content=content.data[:RAW_HEAD_BYTES],
            content_type="application/octet-stream",
        )
        report = PollReport()
        _count(report, [await sink.quarantine(raw, error_class, reason)], quarantine=True)
        target = await self._finish(path, content, QUARANTINE)
        if target is not None:
            # Whole-file reasons name the file, sizes and column names: no personal data.
            logger.warning(
                "spool %s: %r quarantined whole (%s), moved to %s/%s: %s",
                self.name,
                path.name,
                error_class,
                QUARANTINE,
                target,
                reason,
            )
        return report

    async def _finish(self, path: Path, content: _Content, folder: str) -> str | None:
        """Move the file out of the inbox now that the sink has all it held; its new name."""
        if not await asyncio.to_thread(_unchanged, path, content):
            # Still being written after all (or replaced): leave it; the next read finds the rest.
            logger.warning(
                "spool %s: %r changed while it was read; it stays in inbox/", self.name, path.name
            )
            self._seen.pop(path.name, None)
            return None
        target = await asyncio.to_thread(_move, path, self._source.path / folder)
        return target.name
