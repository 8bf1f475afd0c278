"""The attachments a complaint came with, read back from its raw input for upload to LAPOR!.

A complaint keeps only the metadata of its attachments; the bytes stay in the raw input it came
from. Of the raw formats Muara stores, an e-mail (`message/rfc822`) carries attachments; the
call-center rows carry none. An attachment a collector dropped (`dropped_reason`) is not sent.
"""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.exporters.lapor.models import AttachmentFile
from muara.store.tables import complaints, raw_inputs

log = logging.getLogger(__name__)


def wanted(metadata: Sequence[dict[str, Any]]) -> list[str]:
    """Filenames of the attachments to send (not dropped), in order."""
    return [
        str(item.get("filename"))
        for item in metadata
        if isinstance(item, dict) and item.get("filename") and not item.get("dropped_reason")
    ]


def from_email(
    raw: bytes, names: Sequence[str], max_count: int, max_bytes: int
) -> list[AttachmentFile]:
    """The named attachments of an RFC 822 message, within the count and size limits."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(message, EmailMessage):
        return []
    found: list[AttachmentFile] = []
    remaining = list(names)
    for part in message.iter_attachments():
        filename = part.get_filename()
        if filename is None or filename not in remaining or len(found) >= max_count:
            continue
        content = part.get_payload(decode=True)
        if not isinstance(content, bytes) or len(content) > max_bytes:
            continue
        remaining.remove(filename)
        found.append(AttachmentFile(filename, part.get_content_type(), content))
    return found


async def load_attachments(
    engine: AsyncEngine, ids: Sequence[int], *, max_count: int, max_bytes: int
) -> dict[int, list[AttachmentFile]]:
    """Complaint id -> the files to upload with it (only complaints that have some)."""
    if not ids or max_count == 0:
        return {}
    query = (
        select(
            complaints.c.id,
            complaints.c.attachments,
            raw_inputs.c.content,
            raw_inputs.c.content_type,
        )
        .join(raw_inputs, raw_inputs.c.id == complaints.c.raw_input_id)
        .where(complaints.c.id.in_(list(ids)))
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    files: dict[int, list[AttachmentFile]] = {}
    for complaint_id, metadata, content, content_type in rows:
        names = wanted(metadata or [])
        if not names or content_type.split(";")[0].strip().lower() != "message/rfc822":
            continue
        try:
            found = from_email(content, names, max_count, max_bytes)
        except (ValueError, LookupError) as err:  # a malformed message: file without attachments
            log.warning(
                "complaint %d: attachments unreadable (%s)", complaint_id, type(err).__name__
            )
            continue
        if len(found) < min(len(names), max_count):
            log.info(
                "complaint %d: %d of %d attachments sent", complaint_id, len(found), len(names)
            )
        if found:
            files[int(complaint_id)] = found
    return files
