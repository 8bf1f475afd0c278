"""The file sink: routed complaints in LAPOR!'s field layout, for regions that upload by hand.

It goes through the same outbox as the API (target `lapor-file`): rows are committed `sending`
before a batch file is written, the file appears whole (written aside, fsynced, renamed), and only
then are the rows accepted with the file's name. After a crash between the two, the folder itself
is the evidence: a reference found in a file means written, not found means write again.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from muara.domain import State
from muara.exporters.filing import filing_input, reference
from muara.exporters.lapor.payload import build_filing_body
from muara.exporters.metrics import Metrics
from muara.exporters.settings import LaporSettings
from muara.exporters.tracking import classification_id, classification_of
from muara.store.outbox import ExportState, Outbox
from muara.store.records import Change, ComplaintRecord
from muara.store.repository import Store

log = logging.getLogger(__name__)

TARGET = "lapor-file"
# LAPOR!'s "file a complaint" fields (lapor-v3.md), in the order the columns are written.
FIELDS = (
    "title",
    "content",
    "channel",
    "classification_id",
    "category_id",
    "disposition_id",
    "location_id",
    "date_of_incident",
    "tags_raw",
    "is_anonymous",
    "is_secret",
    "is_priority",
    "attachments",
    "info_attachments",
    "priority_program_id",
    "community_id",
    "copy_externals",
    "user_id",
    "is_inbox",
    "is_disposisi_slider",
    "is_new_user_slider",
    "is_approval",
)


def render(bodies: Sequence[dict[str, Any]], fmt: str) -> str:
    """The file's text: CSV with a header row, or one JSON object a line."""
    if fmt == "jsonl":
        return "".join(
            json.dumps({name: body.get(name) for name in FIELDS}, ensure_ascii=False) + "\n"
            for body in bodies
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for body in bodies:
        writer.writerow(["" if body.get(name) is None else body.get(name) for name in FIELDS])
    return out.getvalue()


def write_whole(folder: Path, name: str, text: str) -> Path:
    """Write `text` so that `folder/name` appears complete or not at all (blocking)."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    partial = folder / f".{name}.partial"
    with partial.open("w", encoding="utf-8", newline="") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(final)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return final


def find_written(folder: Path, references: Sequence[str]) -> dict[str, str]:
    """Reference -> the export file already holding it (blocking; only after a crash)."""
    found: dict[str, str] = {}
    if not folder.is_dir():
        return found
    tags = {f"#{ref}": ref for ref in references}
    for path in sorted(folder.glob("lapor-*")):
        text = path.read_text(encoding="utf-8")
        for tag, ref in tags.items():
            if ref not in found and tag in text.replace('"', " ").replace(",", " ").split():
                found[ref] = path.name
    return found


class FileSinkStage:
    """Claims ROUTED complaints and writes them, a file per batch, in LAPOR!'s layout."""

    name = "export"
    source_state = State.ROUTED

    def __init__(
        self, store: Store, settings: LaporSettings, folder: Path, metrics: Metrics
    ) -> None:
        self.store = store
        self.settings = settings
        self.folder = folder
        self.metrics = metrics
        self.outbox = Outbox(store.engine, TARGET, clock=store.clock)

    async def handle(self, batch: list[ComplaintRecord], owner: str) -> None:
        """Write the batch's new complaints in one file; commit each as EXPORTED."""
        known = await self.outbox.rows([record.id for record in batch])
        institutions = await self.outbox.institution_ids()
        institutions.update(self.settings.institutions)
        interrupted = [
            reference(r.id)
            for r in batch
            if r.id in known and known[r.id].state is ExportState.SENDING
        ]
        written = (
            await asyncio.to_thread(find_written, self.folder, interrupted) if interrupted else {}
        )
        done: dict[int, str] = {}
        to_write: list[tuple[ComplaintRecord, dict[str, Any]]] = []
        for record in batch:
            row = known.get(record.id)
            if row is not None and row.is_accepted:
                done[record.id] = row.external_id or ""
            elif reference(record.id) in written:
                done[record.id] = written[reference(record.id)]
            elif (institution := institutions.get(record.agency or "")) is None:
                await self.store.hold(
                    owner,
                    [record.id],
                    f"agency {record.agency!r} has no LAPOR! institution id: set "
                    f"lapor.institutions.{record.agency}",
                )
            else:
                ident = classification_id(self.settings, classification_of(record.extra))
                body = build_filing_body(
                    filing_input(record, institution, (), ident), self.settings
                )
                to_write.append((record, body))
        if to_write:
            await self.outbox.mark_sending(known, [record.id for record, _ in to_write])
            name = self._file_name([record.id for record, _ in to_write])
            text = render([body for _, body in to_write], self.settings.file_format)
            await asyncio.to_thread(write_whole, self.folder, name, text)
            log.info("wrote %d complaints to %s", len(to_write), name)
            done.update({record.id: name for record, _ in to_write})
        if not done:
            return

        async def record_outbox(conn: AsyncConnection, committed: set[int]) -> None:
            await self.outbox.record_accepted(
                conn, {ident: name for ident, name in done.items() if ident in committed}
            )

        changes = [
            Change(ident, State.ROUTED, State.EXPORTED, f"exporter:{TARGET}") for ident in done
        ]
        lost = await self.store.apply(owner, changes, also=record_outbox)
        self.metrics.exported.labels(TARGET).inc(
            len(to_write) - len(set(lost) & {r.id for r, _ in to_write})
        )

    def _file_name(self, ids: Sequence[int]) -> str:
        now: datetime = self.store.clock()
        extension = "jsonl" if self.settings.file_format == "jsonl" else "csv"
        return f"lapor-{now:%Y%m%dT%H%M%S}-{min(ids)}-{max(ids)}.{extension}"
