"""One RFC 822 message in, one outcome out: a complaint, a discard (noise, kept with its
reason) or a quarantine record (input we cannot read). Pure: no I/O, never raises."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from muara.domain import Attachment, NewComplaint, RawInput, Reporter
from muara.ingest.email.charset import clean
from muara.ingest.email.html_text import html_to_text
from muara.ingest.email.mime import attachments, body_parts, decode_words, parse_bytes
from muara.ingest.email.noise import noise_reason
from muara.ingest.email.trim import is_forward, trim_reply

MESSAGE_CONTENT_TYPE = "message/rfc822"
# A complaint's text is what a person reads and the classifier sees; the rest stays in the raw.
MAX_TEXT_CHARS = 100_000
MAX_SOURCE_ID_CHARS = 255
MAX_THREAD_IDS = 50
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_MAIL_HEADERS = ("From", "Date", "Message-ID", "Subject", "Received", "To")


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the mailbox knows of a message besides its bytes."""

    mailbox: str
    channel: str
    uid: int
    uidvalidity: int
    received_at: datetime
    size: int
    # Attachments left out of an over-sized message (their bodies are not in the raw bytes).
    dropped: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Mail:
    """A message that became a complaint or a discard; `thread_ids` name what it replies to."""

    complaint: NewComplaint
    raw: RawInput
    thread_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A message kept as a quarantine record; `reason` is free of personal data."""

    source_id: str
    raw: RawInput
    error_class: str
    reason: str


def message_source_id(message_id: str | None) -> str | None:
    """The id a message is stored under, from its Message-ID header; None when it has none."""
    found = _MESSAGE_ID.search(message_id or "")
    if found is not None:
        value = f"<{found.group(1)}>"
    elif message_id and message_id.strip() and not re.search(r"\s", message_id.strip()):
        value = f"<{message_id.strip()}>"  # an id without its angle brackets
    else:
        return None
    if len(value) > MAX_SOURCE_ID_CHARS:
        return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
    return value


def source_id_of(message_id: str | None, raw: bytes) -> str:
    """The id a message is stored under: its Message-ID, or a digest of its bytes."""
    return message_source_id(message_id) or "sha256:" + hashlib.sha256(raw).hexdigest()


def thread_ids(in_reply_to: str | None, references: str | None) -> tuple[str, ...]:
    """The Message-IDs a reply points at, the closest first."""
    found: list[str] = []
    for header in (in_reply_to or "", " ".join(reversed((references or "").split()))):
        for match in _MESSAGE_ID.finditer(header):
            value = message_source_id(match.group(0))
            if value is not None and value not in found:
                found.append(value)
    return tuple(found[:MAX_THREAD_IDS])


def parse_mail(raw: bytes, envelope: Envelope) -> Mail | Unreadable:
    """Read one message; any failure becomes an `Unreadable` naming the error class."""
    try:
        return _parse(raw, envelope)
    except Exception as err:  # noqa: BLE001 - a message must never stop the mailbox
        return _unreadable(
            raw,
            envelope,
            type(err).__name__,
            f"the message could not be parsed ({type(err).__name__})",
        )


def _unreadable(raw: bytes, envelope: Envelope, error_class: str, reason: str) -> Unreadable:
    # Named by content, never by its Message-ID: a later message with that id stays apart.
    source_id = source_id_of(None, raw)
    return Unreadable(source_id, _raw(envelope, source_id, raw), error_class, reason)


def _raw(envelope: Envelope, source_id: str, raw: bytes) -> RawInput:
    return RawInput(envelope.channel, f"{envelope.mailbox}:{source_id}", raw, MESSAGE_CONTENT_TYPE)


def _parse(raw: bytes, envelope: Envelope) -> Mail | Unreadable:
    if not raw.strip():
        return _unreadable(raw, envelope, "EmptyMessage", "the message is empty")
    message = parse_bytes(raw)
    raw_headers = _raw_headers(message)
    source_id = source_id_of(raw_headers.get("message-id"), raw)
    if not any(name.lower() in raw_headers for name in _MAIL_HEADERS):
        return _unreadable(
            raw,
            envelope,
            "NotAnEmail",
            "no mail header (From, Date, Message-ID, Subject, Received, To) was found",
        )
    name, address = _sender(raw_headers.get("from"))
    subject = _decoded(raw_headers.get("subject"))
    forward = is_forward(subject)
    text, body_kind = _text(message, forward=forward)
    found = [Attachment(a.filename, a.content_type, a.size) for a in attachments(message)] + list(
        envelope.dropped
    )
    discard = noise_reason(message, address)
    if discard is None and not text and not subject and not found:
        discard = "empty message (no subject, text or attachment)"
    extra: dict[str, Any] = {
        "mailbox": envelope.mailbox,
        "uid": envelope.uid,
        "uidvalidity": envelope.uidvalidity,
        "size": envelope.size,
        "body": body_kind,
    }
    if date := _date(raw_headers.get("date")):
        extra["date_header"] = date.isoformat()
    if defects := _defects(message):
        extra["mime_defects"] = defects
    if envelope.dropped:
        extra["truncated"] = True
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        extra["text_truncated"] = True
    complaint = NewComplaint(
        channel=envelope.channel,
        source_id=source_id,
        received_at=envelope.received_at,
        text=clean(text or subject or ""),
        subject=subject,
        reporter=Reporter(name=name, contact=address),
        attachments=tuple(found),
        extra=extra,
        discard_reason=discard,
    )
    threads = thread_ids(raw_headers.get("in-reply-to"), raw_headers.get("references"))
    return Mail(
        complaint, _raw(envelope, source_id, raw), tuple(t for t in threads if t != source_id)
    )


def _raw_headers(message: Message) -> dict[str, str]:
    """The first value of each header as sent (unfolded, encoded words still encoded)."""
    found: dict[str, str] = {}
    for key, value in message.raw_items():
        found.setdefault(key.lower(), clean(re.sub(r"\r?\n[ \t]", " ", str(value))))
    return found


def _decoded(value: str | None) -> str | None:
    """A header with its encoded words decoded; unknown charsets never raise."""
    if value is None:
        return None
    text = " ".join(clean(decode_words(value)).split())
    return text or None


def _sender(value: str | None) -> tuple[str | None, str | None]:
    """Display name and address of the From header."""
    if not value:
        return None, None
    pairs = [(n, a) for n, a in getaddresses([value]) if a and "@" in a]
    if not pairs:
        return _decoded(value), None
    name, address = pairs[0]
    return _decoded(name) if name else None, address.strip()


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None


def _text(message: Message, *, forward: bool) -> tuple[str, str]:
    """The complaint text: the body without quoted history and signature; which part it is."""
    parts = body_parts(message)
    if not parts:
        return "", "none"
    pieces_trimmed: list[str] = []
    pieces_full: list[str] = []
    for part in parts:
        if part.kind == "html":
            full = html_to_text(part.text)
            trimmed = html_to_text(part.text, drop_quotes=not forward)
        else:
            full = trimmed = part.text
        pieces_full.append(full)
        pieces_trimmed.append(trim_reply(trimmed, keep_quotes=forward))
    text = "\n\n".join(piece for piece in pieces_trimmed if piece)
    if not text:
        # Nothing but quotes and a signature: better the whole of it than nothing.
        text = "\n\n".join(trim_reply(p, keep_quotes=True) for p in pieces_full).strip()
    return text, "html" if all(p.kind == "html" for p in parts) else "plain"


def _defects(message: Message) -> list[str]:
    names = {type(defect).__name__ for part in message.walk() for defect in part.defects}
    return sorted(names)[:10]
