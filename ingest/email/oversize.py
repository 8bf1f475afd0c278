"""Messages over the size limit: keep the text and what attachments fit, drop the rest unread.

The server has already split the message (BODYSTRUCTURE), so only the parts kept are fetched:
a 30 MB photo never crosses the network or sits in memory. The kept parts are put back
together as a smaller, well-formed message, which is what the raw input stores.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser

from muara.domain import Attachment
from muara.ingest.email.mime import attachment_name, is_attachment

# Room left for our own headers and boundaries when the parts kept are added up.
_OVERHEAD = 4096
_REPLACED_HEADERS = re.compile(
    rb"^(content-type|content-transfer-encoding|mime-version):.*\n(?:[ \t].*\n)*",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Node:
    """A part of the message as the server describes it; `section` is its IMAP part number."""

    section: str
    content_type: str
    size: int = 0
    encoding: str = ""
    children: tuple[Node, ...] = ()

    @property
    def is_multipart(self) -> bool:
        """True for a container of other parts."""
        return self.content_type.startswith("multipart/")


@dataclass(frozen=True, slots=True)
class Plan:
    """Which leaf parts to fetch, and what was dropped (with the reason)."""

    keep: tuple[str, ...]
    dropped: tuple[Attachment, ...]


def structure(body: Sequence[object], section: str = "") -> Node:
    """The tree of an IMAP BODYSTRUCTURE (as imapclient parses it)."""
    if isinstance(body[0], list | tuple):
        children = tuple(
            structure(child, f"{section}.{n}" if section else str(n))
            for n, child in enumerate(body[0], start=1)
            if isinstance(child, Sequence)
        )
        return Node(section, f"multipart/{_text(body[1])}", children=children)
    leaf_section = section or "1"  # a single-part message has one part, numbered 1
    size = body[6] if len(body) > 6 and isinstance(body[6], int) else 0
    return Node(
        leaf_section, f"{_text(body[0])}/{_text(body[1])}", size=size, encoding=_text(body[5])
    )


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").lower()
    return str(value or "").lower()


def leaves(node: Node) -> list[Node]:
    """The parts that hold content, in document order."""
    if not node.is_multipart:
        return [node]
    return [leaf for child in node.children for leaf in leaves(child)]


def part_header(raw: bytes) -> Message:
    """A part's MIME header as a message without a body (for its type, name, disposition)."""
    return BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)


def plan(
    root: Node, headers: dict[str, bytes], *, limit: int, message_size: int, header_size: int
) -> Plan:
    """Keep body text first, then attachments in order, while they fit in `limit` bytes."""
    budget = limit - header_size - _OVERHEAD
    parts = leaves(root)
    described = [(leaf, part_header(headers.get(leaf.section, b""))) for leaf in parts]
    order = sorted(range(len(described)), key=lambda i: (is_attachment(described[i][1]), i))
    keep: set[str] = set()
    used = 0
    for i in order:
        leaf = described[i][0]
        if used + leaf.size <= budget:
            keep.add(leaf.section)
            used += leaf.size
    dropped = tuple(
        Attachment(
            filename=attachment_name(header, index),
            content_type=leaf.content_type,
            size=_decoded_size(leaf),
            dropped_reason=(
                f"not kept: the message is {message_size} bytes, over the limit of {limit} "
                f"bytes per message (max_message_bytes)"
            ),
        )
        for index, (leaf, header) in enumerate(described, start=1)
        if leaf.section not in keep
    )
    return Plan(tuple(leaf.section for leaf in parts if leaf.section in keep), dropped)


def _decoded_size(leaf: Node) -> int:
    """About what the part holds once decoded (base64 lines: 57 bytes in 78 characters)."""
    return leaf.size * 57 // 78 if leaf.encoding == "base64" else leaf.size


def assemble(
    message_header: bytes,
    root: Node,
    part_headers: dict[str, bytes],
    bodies: dict[str, bytes],
    note: str,
) -> bytes:
    """A well-formed message of the original header and the parts kept."""
    if not root.is_multipart and root.section in bodies:
        return _header_block(message_header) + bodies[root.section]
    seed = hashlib.sha256(message_header).hexdigest()[:16]
    head = (
        _REPLACED_HEADERS.sub(b"", _header_lines(message_header))
        + b"MIME-Version: 1.0\r\nX-Muara-Truncated: "
        + note.encode("ascii", "replace")
        + b"\r\n"
    )
    content_type, body = (
        _container(root, part_headers, bodies, seed) if root.is_multipart else (b"", b"")
    )
    if not body:
        return head + b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    return head + content_type + b"\r\n" + body


def _container(
    node: Node, part_headers: dict[str, bytes], bodies: dict[str, bytes], seed: str
) -> tuple[bytes, bytes]:
    boundary = f"=_muara_{seed}_{node.section or 'top'}".encode("ascii")
    subtype = node.content_type.split("/", 1)[1].encode("ascii", "replace")
    out: list[bytes] = []
    for child in node.children:
        if child.is_multipart:
            child_type, child_body = _container(child, part_headers, bodies, seed)
            if not child_body:
                continue
            part = child_type + b"\r\n" + child_body
        elif child.section in bodies:
            part = _header_block(part_headers.get(child.section, b"")) + bodies[child.section]
        else:
            continue
        out.append(b"--" + boundary + b"\r\n" + part + b"\r\n")
    if not out:
        return b"", b""
    content_type = b'Content-Type: multipart/%s; boundary="%s"\r\n' % (subtype, boundary)
    return content_type, b"".join(out) + b"--" + boundary + b"--\r\n"


def _header_lines(raw: bytes) -> bytes:
    """A header's lines with CRLF ends, without the blank line that closes it."""
    text = raw.replace(b"\r\n", b"\n").rstrip(b"\n").replace(b"\n", b"\r\n")
    return text + b"\r\n" if text else b""


def _header_block(raw: bytes) -> bytes:
    """A header with CRLF line ends and the blank line that closes it."""
    return _header_lines(raw) + b"\r\n"
