"""The e-mail collector: one IMAP mailbox in, complaints out, nothing lost, doubled or looped.

Each round: SELECT (its UIDVALIDITY tells whether our cursor still holds), SEARCH for UIDs past
the cursor, FETCH their Message-IDs and ask the store which it has, FETCH the rest with
BODY.PEEK[] (the \\Seen flag is untouched), store, then acknowledge at the source (flag \\Seen
or move) and only then advance the cursor. A crash anywhere before the acknowledgement re-reads
the messages and the store answers "already known"; a UIDVALIDITY change re-reads the folder
the same way. With IDLE the collector then waits for the server's news; without it, the daemon
polls again after `poll_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from muara.domain import Attachment, NewComplaint, RawInput
from muara.ingest.base import IngestSink, PollReport, Stored
from muara.ingest.email.errors import MailboxError, MailboxUnavailableError
from muara.ingest.email.imap import FETCH_BYTES, Head, ImapSession
from muara.ingest.email.known import known_source_ids
from muara.ingest.email.parse import (
    MESSAGE_CONTENT_TYPE,
    Envelope,
    Mail,
    Unreadable,
    message_source_id,
    parse_mail,
)
from muara.ingest.settings import ImapMailbox
from muara.store.cursors import Cursors
from muara.store.followups import Followups
from muara.store.records import Clock, utc_now

logger = logging.getLogger(__name__)

# How long one wait in IDLE lasts before the collector looks whether it should stop.
IDLE_SLICE_SECONDS = 1.0

T = TypeVar("T")


class EmailCollector:
    """Reads one IMAP mailbox; implements `muara.ingest.base.Collector`."""

    def __init__(
        self,
        mailbox: ImapMailbox,
        engine: AsyncEngine,
        *,
        clock: Clock = utc_now,
        stop: asyncio.Event | None = None,
        idle_slice: float = IDLE_SLICE_SECONDS,
        open_session: Callable[[ImapMailbox], ImapSession] = ImapSession.open,
    ) -> None:
        self.mailbox = mailbox
        self.engine = engine
        self.clock = clock
        self._stop = stop
        self._closed = False
        self._idle_slice = idle_slice
        self._open_session = open_session
        self._cursors = Cursors(engine, clock=clock)
        self._followups = Followups(engine, clock=clock)
        self._session: ImapSession | None = None
        self._push = False
        self._failing_since: datetime | None = None
        self._connected_once = False
        self._polling = False
        self._lock = threading.Lock()
        # Set by the daemon (ingest.base.ReportsProgress): told after each successful read.
        self.on_progress: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        """The mailbox's configured name; it also keys the cursor."""
        return self.mailbox.name

    @property
    def channel(self) -> str:
        """The channel its complaints are recorded under."""
        return self.mailbox.channel

    @property
    def poll_seconds(self) -> float:
        """No pause with IDLE (`poll` itself waits for news); the poll interval without it."""
        return 0.0 if self._push else self.mailbox.poll_seconds

    @property
    def uses_idle(self) -> bool:
        """True while the mailbox is read with IDLE (push) rather than by polling."""
        return self._push

    @property
    def idle_waiting(self) -> bool:
        """True while `poll` waits in IDLE for news (new mail is pushed from then on)."""
        session = self._session
        return session is not None and session.idling

    def _stopping(self) -> bool:
        return self._closed or (self._stop is not None and self._stop.is_set())

    async def poll(self, sink: IngestSink) -> PollReport:
        """Store what is new; with IDLE, then wait (up to `idle_seconds`) for more and store it."""
        self._polling = True
        try:
            return await self._poll(sink)
        finally:
            self._polling = False

    async def _poll(self, sink: IngestSink) -> PollReport:
        try:
            report = await self._sync(sink)
            self._recovered()
            session = self._session
            waiting = self._push and session is not None and not self._stopping()
            if waiting and session is not None and await self._idle(session):
                report.add(await self._sync(sink))
                self._recovered()
        except asyncio.CancelledError:
            self._abandon_session()
            raise
        except MailboxError as err:
            await self._drop_session()
            self._failed(err)
            raise
        except BaseException:
            await self._drop_session()
            raise
        if self._stopping():
            await self._drop_session()
        return report

    async def close(self) -> None:
        """Stop waiting for mail and log out (a poll under way ends within one IDLE slice)."""
        self._closed = True
        if not self._polling:
            await self._drop_session()

    # -- connection ---------------------------------------------------------------------------

    async def _thread(self, call: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(self._locked, call, *args)

    def _locked(self, call: Callable[..., T], *args: object) -> T:
        # One call on the connection at a time, even one left running by a cancelled poll.
        with self._lock:
            return call(*args)

    def _abandon_session(self) -> None:
        """Log out in the background once the call a cancelled poll left running returns."""
        session, self._session = self._session, None
        if session is not None:
            asyncio.get_running_loop().run_in_executor(None, self._locked, session.close)

    async def _connect(self) -> ImapSession:
        session = await self._thread(self._open_session, self.mailbox)
        self._session = session
        self._push = self.mailbox.idle and session.has_idle
        log = logger.debug if self._connected_once else logger.info
        log(
            "mailbox %s: connected to %s (%s), reading %r by %s",
            self.name,
            self.mailbox.host,
            self.mailbox.tls,
            self.mailbox.folder,
            "IDLE (push)" if self._push else f"polling every {self.mailbox.poll_seconds:g}s",
        )
        self._connected_once = True
        return session

    async def _selected(self) -> tuple[ImapSession, int]:
        """A session with the folder selected, and its UIDVALIDITY.

        A kept connection that the server or the network closed meanwhile is reopened once
        before the failure counts.
        """
        session = self._session
        if session is not None:
            try:
                return session, (await self._thread(session.select)).uidvalidity
            except MailboxUnavailableError:
                await self._drop_session()
        session = await self._connect()
        return session, (await self._thread(session.select)).uidvalidity

    async def _drop_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await self._thread(session.close)

    def _failed(self, err: MailboxError) -> None:
        if self._failing_since is None:
            self._failing_since = self.clock()
            logger.warning(
                "mailbox %s (%s): %s (%s); reconnecting with backoff",
                self.name,
                self.mailbox.host,
                err,
                type(err).__name__,
            )
        else:
            logger.debug("mailbox %s: still failing (%s)", self.name, type(err).__name__)

    def _recovered(self) -> None:
        if self.on_progress is not None:
            self.on_progress()
        if self._failing_since is not None:
            logger.info(
                "mailbox %s: reading again (failing since %s)",
                self.name,
                self._failing_since.isoformat(timespec="seconds"),
            )
            self._failing_since = None

    async def _idle(self, session: ImapSession) -> bool:
        """Wait in IDLE until the folder changes (True), `idle_seconds` pass, or a stop."""
        deadline = self.clock().timestamp() + self.mailbox.idle_seconds
        if not await self._thread(session.idle_start):
            return True  # mail came in while the last batch was read
        news = False
        try:
            while not self._stopping():
                remaining = deadline - self.clock().timestamp()
                if remaining <= 0:
                    break  # re-issued by the next poll, well before the server's 29 minutes
                if await self._thread(session.idle_wait, min(self._idle_slice, remaining)):
                    news = True
                    break
            await self._thread(session.idle_stop)
        except MailboxUnavailableError:
            # A long-idle connection dropped (a NAT box, a server restart): routine. The sync
            # that follows reconnects, and only its failure counts as the mailbox failing.
            await self._drop_session()
            return True
        return news

    # -- reading ------------------------------------------------------------------------------

    async def _sync(self, sink: IngestSink) -> PollReport:
        """Store every message past the cursor, batch by batch, until none is left."""
        session, uidvalidity = await self._selected()
        cursor = await self._cursors.get(self.name)
        last_uid = 0
        if cursor is not None and cursor.get("uidvalidity") == uidvalidity:
            last_uid = int(cursor.get("last_uid", 0))
        else:
            if cursor is not None:
                logger.warning(
                    "mailbox %s: UIDVALIDITY changed (%s -> %s): re-reading the folder; "
                    "messages already stored are recognised by Message-ID",
                    self.name,
                    cursor.get("uidvalidity"),
                    uidvalidity,
                )
            # Read from the start (the store skips what it has); safe to save before reading.
            await self._cursors.set(self.name, {"uidvalidity": uidvalidity, "last_uid": 0})
        report = PollReport()
        while not self._stopping():
            uids = await self._thread(session.uids_after, last_uid)
            if not uids:
                break
            for start in range(0, len(uids), self.mailbox.batch_size):
                batch = uids[start : start + self.mailbox.batch_size]
                report.add(await self._batch(session, sink, uidvalidity, batch))
                last_uid = batch[-1]
                await self._cursors.set(
                    self.name, {"uidvalidity": uidvalidity, "last_uid": last_uid}
                )
                if self._stopping():
                    break
        return report

    async def _batch(
        self, session: ImapSession, sink: IngestSink, uidvalidity: int, uids: list[int]
    ) -> PollReport:
        """Store one batch, then acknowledge all of it at the source."""
        report = PollReport()
        heads = await self._thread(session.heads, uids)
        ids = {head.uid: message_source_id(head.message_id) for head in heads}
        known = await known_source_ids(
            self.engine, self.channel, [i for i in ids.values() if i is not None]
        )
        todo = [head for head in heads if ids[head.uid] not in known]
        report.already_known += len(heads) - len(todo)
        for segment in _segments(todo, self.mailbox.max_message_bytes):
            mails = await self._read(session, uidvalidity, segment)
            report.add(await self._store(sink, mails))
        # Everything in the batch is committed now (stored earlier, or just now).
        await self._thread(session.acknowledge, [head.uid for head in heads])
        if heads:
            logger.info(
                "mailbox %s: %d stored, %d discarded, %d quarantined, %d already known",
                self.name,
                report.ingested,
                report.discarded,
                report.quarantined,
                report.already_known,
            )
        return report

    async def _read(
        self, session: ImapSession, uidvalidity: int, heads: list[Head]
    ) -> list[Mail | Unreadable]:
        """Fetch and parse one segment: a few small messages, or one over-sized message."""
        limit = self.mailbox.max_message_bytes
        if len(heads) == 1 and heads[0].size > limit:
            head = heads[0]
            truncated = await self._thread(session.truncated, head, limit)
            if truncated is None:
                return []
            envelope = self._envelope(head, uidvalidity, truncated.dropped)
            return [await self._thread(parse_mail, truncated.raw, envelope)]
        fetched = await self._thread(lambda: list(session.bodies(heads)))
        parsed = await self._thread(
            lambda: [
                parse_mail(raw, self._envelope(head, uidvalidity)) if raw is not None else None
                for head, raw in fetched
            ]
        )
        mails: list[Mail | Unreadable] = []
        for (head, _), mail in zip(fetched, parsed, strict=True):
            if mail is not None:
                mails.append(mail)
            elif await self._thread(session.exists, head.uid):
                mails.append(_no_content(self._envelope(head, uidvalidity), head))
            # else: deleted since it was listed; nothing to store or acknowledge
        return mails

    def _envelope(
        self, head: Head, uidvalidity: int, dropped: Sequence[Attachment] = ()
    ) -> Envelope:
        return Envelope(
            mailbox=self.name,
            channel=self.channel,
            uid=head.uid,
            uidvalidity=uidvalidity,
            received_at=head.internal_date or self.clock(),
            size=head.size,
            dropped=tuple(dropped),
        )

    async def _store(self, sink: IngestSink, mails: list[Mail | Unreadable]) -> PollReport:
        """Hand a segment to the store: replies to a known complaint as follow-ups, the rest
        as complaints (or discards), in arrival order so a reply finds its first message."""
        report = PollReport()
        pending: list[tuple[NewComplaint, RawInput | None]] = []

        async def flush() -> None:
            if pending:
                _count(report, pending, await sink.store_many(list(pending)))
                pending.clear()

        for mail in mails:
            if isinstance(mail, Unreadable):
                stored = await sink.quarantine(mail.raw, mail.error_class, mail.reason)
                if stored.created:
                    report.quarantined += 1
                else:
                    report.already_known += 1
                continue
            complaint = mail.complaint
            if mail.thread_ids and complaint.discard_reason is None:
                await flush()
                parent = await self._followups.find_thread(
                    self.channel, mail.thread_ids, complaint.reporter.contact
                )
                if parent is not None:
                    stored = await self._followups.attach(parent, complaint, mail.raw)
                    if stored.created:
                        report.ingested += 1
                    else:
                        report.already_known += 1
                    continue
            pending.append((complaint, mail.raw))
        await flush()
        return report


def _no_content(envelope: Envelope, head: Head) -> Unreadable:
    """A message the server lists but sends no bytes of: kept as a record, never skipped."""
    source_id = f"uid:{envelope.uidvalidity}:{head.uid}"
    raw = RawInput(envelope.channel, f"{envelope.mailbox}:{source_id}", b"", MESSAGE_CONTENT_TYPE)
    return Unreadable(
        source_id,
        raw,
        "NoContent",
        f"the server listed message UID {head.uid} ({head.size} bytes) but sent no content",
    )


def _segments(heads: list[Head], limit: int) -> Iterator[list[Head]]:
    """Heads in UID order, cut into runs of small messages and single over-sized ones."""
    run: list[Head] = []
    size = 0
    for head in heads:
        if head.size > limit:
            if run:
                yield run
                run, size = [], 0
            yield [head]
            continue
        if run and size + head.size > FETCH_BYTES:
            yield run
            run, size = [], 0
        run.append(head)
        size += head.size
    if run:
        yield run


def _count(
    report: PollReport,
    items: Sequence[tuple[NewComplaint, RawInput | None]],
    results: Sequence[Stored],
) -> None:
    for (complaint, _), result in zip(items, results, strict=True):
        if not result.created:
            report.already_known += 1
        elif complaint.discard_reason:
            report.discarded += 1
        else:
            report.ingested += 1
