"""The spool-folder collector: files dropped into `<spool>/inbox/` by another system.

Call-center exports (CSV, JSON Lines) and 112 transcripts both arrive this way; a `FileParser`
says which files are the source's and what each holds.

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
from typing import Protocol

from muara.domain import NewComplaint, RawInput
from muara.errors import error_summary
from muara.ingest.base import IngestSink, PollReport, Stored
from muara.ingest.call_logs import CallLogParser
from muara.ingest.rows import ParsedFile, check_timezone
from muara.ingest.settings import SpoolSource

logger = logging.getLogger(__name__)

INBOX, DONE, QUARANTINE = "inbox", "done", "quarantine"
MARKER_SUFFIX = ".done"
# How much of a file a whole-file quarantine record keeps; the file itself goes to quarantine/.
RAW_HEAD_BYTES = 64 * 1024
CHUNK_ROWS = 500
FILE_TOO_LARGE = "FileTooLarge"


class FolderSource(Protocol):
    """The settings every spool folder has (`SpoolSource`, `TranscriptSource`)."""

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def channel(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def poll_seconds(self) -> float: ...
    @property
    def max_file_bytes(self) -> int: ...
    @property
    def stable_seconds(self) -> float: ...


class FileParser(Protocol):
    """Knows a source's files: which names are its, and what one file holds (pure, no I/O)."""

    def accepts(self, file_name: str) -> bool:
        """True for the files this source reads."""
        ...

    def parse(self, data: bytes, *, file_name: str, file_digest: str) -> ParsedFile:
        """Complaints, bad rows, or a whole-file error; never raises on bad input."""
        ...


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


def _is_candidate(name: str, accepts: Callable[[str], bool]) -> bool:
    """A file of the source, not a hidden file or an editor's lock file."""
    return not name.startswith((".", "~")) and accepts(name)


def _scan(root: Path, accepts: Callable[[str], bool]) -> list[_Candidate]:
    """Create the folders if missing; list the source's files in inbox/, oldest first."""
    for sub in (INBOX, DONE, QUARANTINE):
        (root / sub).mkdir(parents=True, exist_ok=True)
    with os.scandir(root / INBOX) as it:
        entries = list(it)
    names = {entry.name for entry in entries}
    found: list[_Candidate] = []
    for entry in entries:
        try:
            if not (_is_candidate(entry.name, accepts) and entry.is_file()):
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


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A file read and parsed, waiting for the transaction that stores its rows."""

    path: Path
    content: _Content
    parsed: ParsedFile


def _count(report: PollReport, answer: Stored, complaint: NewComplaint | None = None) -> None:
    """Count one answer of the sink: for a complaint, or (without one) for a quarantine record."""
    if not answer.created:
        report.already_known += 1
    elif complaint is None:
        report.quarantined += 1
    elif complaint.discard_reason:
        report.discarded += 1
    else:
        report.ingested += 1


class SpoolCollector:
    """Reads the files of a spool folder; implements `muara.ingest.base.Collector`."""

    def __init__(
        self,
        source: FolderSource,
        *,
        parser: FileParser | None = None,
        clock: Callable[[], datetime] | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        try:
            check_timezone(source.timezone)
        except ValueError as err:
            raise ValueError(f"spool source '{source.name}': timezone: {err}") from err
        if parser is None:
            if not isinstance(source, SpoolSource):
                raise TypeError("a parser is needed for sources other than call-center spools")
            parser = CallLogParser(source)
        self._source = source
        self._parser = parser
        self._clock = clock or (lambda: datetime.now(UTC))
        self._chunk_rows = chunk_rows
        self._seen: dict[str, _Seen] = {}
        self._unreadable: set[tuple[str, int, int]] = set()
        self._failing_since: datetime | None = None

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
        """Ingest every stable file in inbox/; a sink failure leaves the file there and raises.

        A failure (a full disk under the folder or the store, a store that is down) is logged
        once, naming the folder and the error code, and its end once.
        """
        try:
            report = await self._poll(sink)
        except Exception as err:
            self._failed(err)
            raise
        if self._failing_since is not None:
            logger.info(
                "spool %s: reading again (failing since %s)",
                self.name,
                self._failing_since.isoformat(timespec="seconds"),
            )
            self._failing_since = None
        return report

    def _failed(self, err: Exception) -> None:
        # No traceback and no library message: those may quote a row (personal data).
        if self._failing_since is None:
            self._failing_since = self._clock()
            logger.error(
                "spool %s: cannot take files in from %s (%s); they stay in inbox/ and are "
                "read again once this clears",
                self.name,
                self._source.path / INBOX,
                error_summary(err),
            )

    async def _poll(self, sink: IngestSink) -> PollReport:
        """Read and store what is stable in inbox/.

        Small files (a 112 transcript is one complaint) share a transaction, up to `chunk_rows`
        rows; each file still moves to done/ only after the transaction holding its rows.
        """
        root = self._source.path
        candidates = await asyncio.to_thread(_scan, root, self._parser.accepts)
        total = PollReport()
        group: list[_Loaded] = []
        for candidate in self._stable(candidates):
            loaded = await self._load(candidate, sink, total)
            if loaded is None:
                continue
            rows = sum(len(g.parsed.rows) for g in group)
            if group and rows + len(loaded.parsed.rows) > self._chunk_rows:
                total.add(await self._commit(group, sink))
                group = []
            group.append(loaded)
        if group:
            total.add(await self._commit(group, sink))
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

    async def _load(
        self, candidate: _Candidate, sink: IngestSink, report: PollReport
    ) -> _Loaded | None:
        """Read and parse a file; None when it was skipped or quarantined whole (in `report`)."""
        source = self._source
        file_name = candidate.path.name
        try:
            content = await asyncio.to_thread(_read, candidate.path, source.max_file_bytes)
        except FileNotFoundError:
            return None
        except OSError as err:
            # Say it once per version of the file, then leave it for the operator; the files
            # behind it are still read.
            key = (file_name, candidate.size, candidate.mtime_ns)
            if key not in self._unreadable:
                self._unreadable.add(key)
                logger.warning(
                    "spool %s: %r cannot be read: %s", self.name, file_name, err.strerror
                )
            return None
        if not content.complete:
            report.add(
                await self._quarantine_file(
                    candidate.path,
                    content,
                    sink,
                    FILE_TOO_LARGE,
                    f"{file_name}: the file is {content.size} bytes, over the limit of "
                    f"{source.max_file_bytes} bytes; it was moved to quarantine/ unread: raise "
                    f"max_file_bytes of spool source '{source.name}' and move it back to inbox/",
                )
            )
            return None
        parsed = await asyncio.to_thread(
            self._parser.parse, content.data, file_name=file_name, file_digest=content.digest
        )
        if parsed.file_error is not None:
            report.add(
                await self._quarantine_file(
                    candidate.path, content, sink, parsed.file_error_class, parsed.file_error
                )
            )
            return None
        return _Loaded(candidate.path, content, parsed)

    async def _commit(self, group: list[_Loaded], sink: IngestSink) -> PollReport:
        """Store the files' rows in chunks, quarantine their bad rows, then move each file."""
        reports = [PollReport() for _ in group]
        rows = [(i, row) for i, loaded in enumerate(group) for row in loaded.parsed.rows]
        for start in range(0, len(rows), self._chunk_rows):
            part = rows[start : start + self._chunk_rows]
            chunk: list[tuple[NewComplaint, RawInput | None]] = [row for _, row in part]
            for (i, (complaint, _)), answer in zip(part, await sink.store_many(chunk), strict=True):
                _count(reports[i], answer, complaint)
        total = PollReport()
        for loaded, report in zip(group, reports, strict=True):
            for bad in loaded.parsed.bad:
                _count(report, await sink.quarantine(bad.raw, bad.error_class, bad.reason))
            await self._finish_ingested(loaded, report)
            total.add(report)
        return total

    async def _finish_ingested(self, loaded: _Loaded, report: PollReport) -> None:
        file_name = loaded.path.name
        if loaded.parsed.missing_optional:
            logger.warning(
                "spool %s: %r: the header lacks the mapped column(s) %s; their data is not read",
                self.name,
                file_name,
                ", ".join(map(repr, loaded.parsed.missing_optional)),
            )
        target = await self._finish(loaded.path, loaded.content, DONE)
        if target is not None:
            logger.info(
                "spool %s: %r: %d stored, %d already known, %d quarantined; moved to %s/%s",
                self.name,
                file_name,
                report.ingested + report.discarded,
                report.already_known,
                report.quarantined,
                DONE,
                target,
            )

    async def _quarantine_file(
        self,
        path: Path,
        content: _Content,
        sink: IngestSink,
        error_class: str,
        reason: str,
    ) -> PollReport:
        """Keep a file that cannot be read at all: a record of its head; it goes to quarantine/."""
        raw = RawInput(
            channel=self._source.channel,
            source_ref=f"{self._source.name}:{content.digest[:16]}",
            content=content.data[:RAW_HEAD_BYTES],
            content_type="application/octet-stream",
        )
        report = PollReport()
        _count(report, await sink.quarantine(raw, error_class, reason))
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
