"""Walking a parsed message: which parts are the body, which are attachments, and how to read
a multipart whose boundary the sender got wrong."""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from email import errors, policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser

from muara.ingest.email.charset import clean, decode_text

_BOUNDARY_LINE = re.compile(rb"^--([^\s]{1,70}?)(--)?[ \t]*\r?$", re.MULTILINE)
_CONTENT_TYPE_HEADER = re.compile(
    rb"^content-type:.*\n(?:[ \t].*\n)*", re.IGNORECASE | re.MULTILINE
)


class BoundaryRepairedDefect(errors.MessageDefect):
    """The declared multipart boundary never occurred; the one the body uses was taken."""


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One piece of the body: "plain" or "html", decoded to text."""

    kind: str
    text: str
    charset: str


@dataclass(frozen=True, slots=True)
class AttachmentPart:
    """An attachment as found in the message."""

    filename: str
    content_type: str
    size: int


def parse_bytes(raw: bytes) -> Message:
    """Parse `raw`; a multipart whose declared boundary never occurs is re-read with the one
    its body actually uses (a common fault of home-made mailers)."""
    message = _parse(raw)
    if message.get_content_maintype() == "multipart" and not message.is_multipart():
        repaired = _with_found_boundary(raw, message)
        if repaired is not None:
            return repaired
    return message


def decode_words(value: str) -> str:
    """A header value with its RFC 2047 encoded words decoded (Outlook writes file names so)."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError, errors.HeaderParseError):
        return value


def _parse(raw: bytes) -> Message:
    # compat32, not policy.default: the modern policy re-parses a header into an object on
    # every look (a part's type is looked at a dozen times), which made parsing five times
    # slower; headers that people read are decoded in parse.py, RFC 2231 parameters here.
    return BytesParser(policy=policy.compat32).parsebytes(raw)


def _with_found_boundary(raw: bytes, message: Message) -> Message | None:
    head_end = _header_end(raw)
    found = _BOUNDARY_LINE.search(raw, head_end)
    if found is None:
        return None
    content_type = b'Content-Type: multipart/%s; boundary="%s"\r\n' % (
        message.get_content_subtype().encode("ascii", "replace"),
        found.group(1),
    )
    header = _CONTENT_TYPE_HEADER.sub(b"", raw[:head_end])
    repaired = _parse(content_type + header + raw[head_end:])
    if not repaired.is_multipart():
        return None
    repaired.defects.append(BoundaryRepairedDefect())
    return repaired


def _header_end(raw: bytes) -> int:
    """Offset of the body: just past the first blank line (0 when there is none)."""
    found = re.search(rb"\r?\n\r?\n", raw)
    return found.end() if found else 0


def is_attachment(part: Message) -> bool:
    """An attachment rather than body text: so marked, named, or not plain text or HTML."""
    if part.get_content_type() == "message/rfc822":
        return True
    if part.is_multipart():
        return False
    if part.get_content_disposition() == "attachment" or part.get_filename():
        return True
    return part.get_content_type() not in {"text/plain", "text/html"}


def body_parts(message: Message) -> list[BodyPart]:
    """The readable body: every inline text part, choosing plain text over HTML where the
    sender offered both (multipart/alternative)."""
    return [_decode(kind, part) for kind, part in _text_parts(message)]


def _text_parts(part: Message) -> list[tuple[str, Message]]:
    if part.is_multipart():
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        if part.get_content_type() == "message/rfc822":
            return []  # a forwarded message attached whole: an attachment, not our body
        if part.get_content_subtype() == "alternative":
            options = [_text_parts(child) for child in children]
            for wanted in ("plain", "html"):
                for option in options:
                    if any(kind == wanted for kind, _ in option):
                        return option
            return []
        found: list[tuple[str, Message]] = []
        for child in children:
            found.extend(_text_parts(child))
        return found
    if is_attachment(part):
        return []
    if part.get_content_maintype() == "multipart":
        return [("plain", part)]  # a broken multipart we could not split: read it as text
    return [("html" if part.get_content_subtype() == "html" else "plain", part)]


def _decode(kind: str, part: Message) -> BodyPart:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    text, charset = decode_text(data, part.get_content_charset())
    return BodyPart(kind, text, charset)


def attachments(message: Message) -> list[AttachmentPart]:
    """Every attachment with its decoded size, in the order they appear."""
    found: list[AttachmentPart] = []
    for index, part in enumerate(_leaves(message), start=1):
        if not is_attachment(part):
            continue
        payload = part.get_payload(decode=True)
        if part.get_content_type() == "message/rfc822" or not isinstance(payload, bytes):
            size = len(part.as_bytes()) if part.is_multipart() else len(payload or b"")
        else:
            size = len(payload)
        content_type = part.get_content_type()
        found.append(AttachmentPart(attachment_name(part, index), content_type, size))
    return found


def _leaves(part: Message) -> list[Message]:
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        return [part]
    leaves: list[Message] = []
    for child in part.get_payload():
        if isinstance(child, Message):
            leaves.extend(_leaves(child))
    return leaves


def attachment_name(part: Message, index: int) -> str:
    """The part's file name, or a made-up one from its type (an inline photo has none)."""
    try:
        name = part.get_filename()
    except (ValueError, LookupError):
        name = None
    if name:
        return clean(decode_words(str(name))).strip()[:255]
    extension = mimetypes.guess_extension(part.get_content_type()) or ".bin"
    return f"part-{index}{extension}"
