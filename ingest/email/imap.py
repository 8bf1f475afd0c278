"""One IMAP connection, blocking (imapclient): the collector calls it through `asyncio.to_thread`
so the event loop never waits on the network. Library errors become `MailboxError`s here."""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from muara.domain import Attachment
from muara.ingest.email import oversize
from muara.ingest.email.errors import (
    MailboxError,
    MailboxFolderError,
    MailboxLoginError,
    MailboxProtocolError,
    MailboxUnavailableError,
)
from muara.ingest.settings import ImapMailbox

logger = logging.getLogger(__name__)
# imapclient logs the IMAP conversation at DEBUG: addresses, file names and subjects of citizens'
# mail. It stays quiet even when Muara itself runs at DEBUG (DESIGN.md invariant 6).
logging.getLogger("imapclient").setLevel(logging.INFO)

SEEN = b"\\Seen"
_HEADER_ITEM = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_HEADER_KEY = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
# Empty IDLE answers in a row, each well before its time, that mean the stream has ended.
_EARLY_EMPTY_LIMIT = 3
# One FETCH of bodies holds at most this much, so a batch of big messages never piles up.
FETCH_BYTES = 16 * 1024 * 1024

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class FolderState:
    """What SELECT told us."""

    uidvalidity: int
    uidnext: int | None
    exists: int


@dataclass(frozen=True, slots=True)
class Head:
    """A message before its body is fetched: enough to know whether we already have it."""

    uid: int
    size: int
    internal_date: datetime | None
    message_id: str | None


@dataclass(frozen=True, slots=True)
class Truncated:
    """An over-sized message as kept: the parts that fit, and what was dropped."""

    raw: bytes
    dropped: tuple[Attachment, ...]


def translated(call: Callable[P, R]) -> Callable[P, R]:
    """Run an imapclient call, turning its errors (and the socket's) into `MailboxError`s."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except MailboxError:
            raise
        except LoginError as err:
            raise MailboxLoginError("the server refused the login") from err
        except imaplib.IMAP4.abort as err:
            raise MailboxUnavailableError("the connection was closed by the server") from err
        except imaplib.IMAP4.error as err:
            raise MailboxProtocolError(f"the server refused a command ({_verb(err)})") from err
        except ssl.SSLCertVerificationError as err:
            raise MailboxUnavailableError(
                f"the server's TLS certificate is not trusted ({err.verify_message})"
            ) from err
        except TimeoutError as err:
            raise MailboxUnavailableError("the server did not answer in time") from err
        except OSError as err:
            raise MailboxUnavailableError(
                f"cannot talk to the server ({type(err).__name__})"
            ) from err
        except (ValueError, IndexError, TypeError) as err:
            raise MailboxProtocolError(
                f"an answer of the server could not be read ({type(err).__name__})"
            ) from err

    return wrapper


def _verb(err: Exception) -> str:
    """The IMAP command an error concerns, without the server's free text."""
    text = str(err).split(" ", 1)[0].strip("'\"")
    return text if text.isalpha() and len(text) < 16 else type(err).__name__


def _ssl_context(mailbox: ImapMailbox) -> ssl.SSLContext:
    if mailbox.tls_ca_file is not None:
        return ssl.create_default_context(cafile=str(mailbox.tls_ca_file))
    return ssl.create_default_context()


class ImapSession:
    """A logged-in connection to one mailbox, with the folder selected."""

    def __init__(self, mailbox: ImapMailbox, client: IMAPClient) -> None:
        self.mailbox = mailbox
        self.client = client
        self.idling = False
        self._early_empty = 0

    @classmethod
    @translated
    def open(cls, mailbox: ImapMailbox) -> ImapSession:
        """Connect, secure the connection as configured, and log in."""
        implicit = mailbox.tls == "implicit"
        port = mailbox.port or (993 if implicit else 143)
        context = _ssl_context(mailbox) if mailbox.tls != "none" else None
        client = IMAPClient(
            mailbox.host,
            port,
            ssl=implicit,
            ssl_context=context if implicit else None,
            timeout=mailbox.timeout_seconds,
        )
        try:
            if mailbox.tls == "starttls":
                _starttls(client, context)
            assert mailbox.password is not None  # the settings refuse a mailbox without one
            client.login(mailbox.user, mailbox.password.get_secret_value())
        except BaseException:
            with contextlib.suppress(Exception):  # the error that brought us here matters
                client.shutdown()
            raise
        client.normalise_times = False  # aware INTERNALDATEs
        return cls(mailbox, client)

    @property
    def has_idle(self) -> bool:
        """True when the server offers IDLE (push)."""
        return self._has_capability("IDLE")

    @translated
    def _has_capability(self, name: str) -> bool:
        return bool(self.client.has_capability(name))

    @translated
    def select(self) -> FolderState:
        """Select the configured folder; its UIDVALIDITY says whether our cursor still holds."""
        try:
            state = self.client.select_folder(self.mailbox.folder)
        except imaplib.IMAP4.error as err:
            if isinstance(err, imaplib.IMAP4.abort):
                raise
            raise MailboxFolderError(f"folder {self.mailbox.folder!r} cannot be selected") from err
        self._announced()  # the count SELECT reported is not news: the SEARCH that follows reads it
        return FolderState(
            uidvalidity=int(state[b"UIDVALIDITY"]),
            uidnext=int(state[b"UIDNEXT"]) if b"UIDNEXT" in state else None,
            exists=int(state.get(b"EXISTS", 0)),
        )

    @translated
    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above `last_uid`, ascending (`n:*` also names the last message: filtered)."""
        found = self.client.search(["UID", f"{last_uid + 1}:*"])
        return sorted(uid for uid in found if uid > last_uid)

    @translated
    def heads(self, uids: Sequence[int]) -> list[Head]:
        """Size, arrival time and Message-ID of each message still there, in UID order."""
        response = self.client.fetch(list(uids), ["RFC822.SIZE", "INTERNALDATE", _HEADER_ITEM])
        heads = []
        for uid in sorted(response):
            data = response[uid]
            when = data.get(b"INTERNALDATE")
            heads.append(
                Head(
                    uid=uid,
                    size=int(data.get(b"RFC822.SIZE", 0)),
                    internal_date=when if isinstance(when, datetime) and when.tzinfo else None,
                    message_id=_message_id(data.get(_HEADER_KEY)),
                )
            )
        return heads

    def bodies(self, heads: Sequence[Head]) -> Iterator[tuple[Head, bytes | None]]:
        """Each message's full bytes (`BODY.PEEK[]`: the \\Seen flag is left alone), fetched a
        few megabytes at a time; None for a message the server sent nothing of."""
        for chunk in _chunks(heads, FETCH_BYTES):
            response = self._fetch_bodies([head.uid for head in chunk])
            for head in chunk:
                body = response.get(head.uid, {}).get(b"BODY[]")
                yield head, body if isinstance(body, bytes) else None

    @translated
    def exists(self, uid: int) -> bool:
        """True while the message is still in the folder."""
        return uid in self.client.search(["UID", str(uid)])

    @translated
    def _fetch_bodies(self, uids: list[int]) -> dict[int, dict[bytes, Any]]:
        response: dict[int, dict[bytes, Any]] = self.client.fetch(uids, ["BODY.PEEK[]"])
        return response

    @translated
    def truncated(self, head: Head, limit: int) -> Truncated | None:
        """An over-sized message with only the parts that fit in `limit` bytes fetched."""
        first = self.client.fetch([head.uid], ["BODYSTRUCTURE", "BODY.PEEK[HEADER]"])
        if head.uid not in first:
            return None
        header = first[head.uid].get(b"BODY[HEADER]") or b""
        try:
            root = oversize.structure(first[head.uid][b"BODYSTRUCTURE"])
        except (KeyError, IndexError, TypeError, ValueError):
            root = oversize.Node("1", "application/octet-stream", size=head.size)
        leaves = oversize.leaves(root)
        if root.is_multipart:
            items = [f"BODY.PEEK[{leaf.section}.MIME]" for leaf in leaves]
            fetched = self.client.fetch([head.uid], items).get(head.uid, {})
            part_headers = {
                leaf.section: fetched.get(f"BODY[{leaf.section}.MIME]".encode(), b"") or b""
                for leaf in leaves
            }
        else:
            part_headers = {leaves[0].section: header}
        plan = oversize.plan(
            root, part_headers, limit=limit, message_size=head.size, header_size=len(header)
        )
        bodies: dict[str, bytes] = {}
        if plan.keep:
            items = [f"BODY.PEEK[{section}]" for section in plan.keep]
            fetched = self.client.fetch([head.uid], items).get(head.uid, {})
            for section in plan.keep:
                body = fetched.get(f"BODY[{section}]".encode())
                if isinstance(body, bytes):
                    bodies[section] = body
        note = f"{head.size} bytes; {len(plan.dropped)} part(s) over the size limit left out"
        return Truncated(oversize.assemble(header, root, part_headers, bodies, note), plan.dropped)

    @translated
    def acknowledge(self, uids: Sequence[int]) -> None:
        """Mark stored messages as done at the source: flag them \\Seen, or move them."""
        if not uids:
            return
        if self.mailbox.after_store == "seen":
            self.client.add_flags(list(uids), [SEEN], silent=True)
            return
        target = self.mailbox.move_to
        assert target is not None  # the settings require it with after_store = "move"
        if not self.client.folder_exists(target):
            self.client.create_folder(target)
        self.client.add_flags(list(uids), [SEEN], silent=True)
        if self.client.has_capability("MOVE"):
            self.client.move(list(uids), target)
        else:
            self.client.copy(list(uids), target)
            self.client.delete_messages(list(uids), silent=True)
            if self.client.has_capability("UIDPLUS"):
                self.client.uid_expunge(list(uids))
            else:
                self.client.expunge()

    @translated
    def idle_start(self) -> bool:
        """Enter IDLE, unless mail arrived since the last look (then False: read it first).

        A server tells of new mail once: an EXISTS that came with the answer to some earlier
        command (imaplib keeps it aside) is not repeated in IDLE, and Dovecot does not report
        in IDLE what arrived before it began. So: look at what was kept aside, ask once more
        (NOOP), and only then IDLE.
        """
        if self._announced():
            return False
        _, responses = self.client.noop()
        if self._announced() or any(_is_change(r) for r in responses):
            return False
        self.client.idle()
        self.idling = True
        return True

    def _announced(self) -> bool:
        """True (once) when the server reported a new message count since the last look."""
        untagged = getattr(getattr(self.client, "_imap", None), "untagged_responses", None)
        return isinstance(untagged, dict) and untagged.pop("EXISTS", None) is not None

    @translated
    def idle_wait(self, seconds: float) -> bool:
        """Wait up to `seconds` in IDLE; True when the folder changed (new mail, expunge).

        Raises `MailboxUnavailableError` when the server said BYE or the connection ended:
        imapclient returns nothing at end of stream, as fast as it is asked, so answers that
        come back empty and early, again and again, mean the stream is gone.
        """
        started = time.monotonic()
        responses = self.client.idle_check(timeout=seconds)
        if any(isinstance(r, tuple) and r[:1] == (b"BYE",) for r in responses):
            raise MailboxUnavailableError("the server closed the connection (BYE)")
        if not responses and time.monotonic() - started < seconds / 2:
            self._early_empty += 1
            if self._early_empty >= _EARLY_EMPTY_LIMIT:
                raise MailboxUnavailableError("the connection ended while waiting in IDLE")
        else:
            self._early_empty = 0
        return any(_is_change(r) for r in responses)

    @translated
    def idle_stop(self) -> None:
        """Leave IDLE so other commands may be sent."""
        if self.idling:
            self.idling = False
            self.client.idle_done()

    @translated
    def noop(self) -> None:
        """Ask the server for news (the polling fallback keeps the connection alive with it)."""
        self.client.noop()

    def close(self) -> None:
        """Log out; a connection that is already broken is just dropped."""
        try:
            if self.idling:
                self.idling = False
                self.client.idle_done()
            self.client.logout()
        except Exception:  # noqa: BLE001 - closing a broken connection: nothing left to do
            try:
                self.client.shutdown()
            except Exception:  # noqa: BLE001
                logger.debug("mailbox %s: connection dropped", self.mailbox.name)


def _is_change(response: object) -> bool:
    """An untagged response saying the folder's content changed (`* 3 EXISTS`)."""
    return (
        isinstance(response, tuple)
        and len(response) >= 2
        and response[1] in (b"EXISTS", b"EXPUNGE")
    )


def _starttls(client: IMAPClient, context: ssl.SSLContext | None) -> None:
    if not client.has_capability("STARTTLS"):
        raise MailboxUnavailableError("the server does not offer STARTTLS")
    client.starttls(context)


def _message_id(header: object) -> str | None:
    """The Message-ID value from a `HEADER.FIELDS (MESSAGE-ID)` answer."""
    if not isinstance(header, bytes):
        return None
    text = header.decode("ascii", "replace").replace("\r\n", "\n")
    text = text.replace("\n ", " ").replace("\n\t", " ")
    for line in text.split("\n"):
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "message-id":
            return value.strip()
    return None


def _chunks(heads: Sequence[Head], max_bytes: int) -> Iterator[list[Head]]:
    chunk: list[Head] = []
    size = 0
    for head in heads:
        if chunk and size + head.size > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(head)
        size += head.size
    if chunk:
        yield chunk
