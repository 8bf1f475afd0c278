"""The body of LAPOR!'s "file a complaint" call, built without I/O so every field is testable."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from muara.exporters.settings import LaporSettings

# WIB (Western Indonesia Time) has been UTC+7 without daylight saving since 1964; a fixed offset
# avoids depending on the host's tz database.
WIB = timezone(timedelta(hours=7), "WIB")
TITLE_MAX = 100
# Our reference becomes a tag; LAPOR!'s tag parser is unpublished, so keep it to safe characters.
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_REPLY_PREFIX = re.compile(r"^(?:(?:re|fwd?|aw|bls|balas)\s*:\s*)+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class FilingInput:
    """What the exporter knows about one complaint when it files it."""

    complaint_id: int
    title: str
    content: str
    institution_id: int
    is_anonymous: bool
    is_secret: bool
    date_of_incident: datetime | None
    reference: str
    attachment_ids: tuple[int, ...] = ()
    classification_id: int | None = None  # None: the configured default


def make_title(subject: str | None, content: str, limit: int = TITLE_MAX) -> str:
    """A one-line LAPOR! title from the subject, or from the first words of the content."""
    title = _SPACE.sub(" ", _REPLY_PREFIX.sub("", (subject or "").strip())).strip()
    if not title:
        title = _SPACE.sub(" ", content).strip()
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return (cut.rstrip(" ,.;:-") or cut) + "…"


def incident_date(value: datetime | None) -> str | None:
    """The day of the incident in Indonesian (WIB) terms, as `YYYY-MM-DD`; naive means WIB."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(WIB)
    return value.date().isoformat()


def reference_tags(reference: str) -> str:
    """The `tags_raw` that lets a filing be found again in LAPOR! by our reference."""
    return f"#muara #{reference}"


def build_filing_body(item: FilingInput, settings: LaporSettings) -> dict[str, Any]:
    """The JSON body of `POST {file_path}` (lapor-v3.md), with every master id from config."""
    if not _REFERENCE.fullmatch(item.reference):
        raise ValueError("reference must be 1-64 letters, digits, '-' or '_'")
    content = item.content.strip()
    if not content:
        raise ValueError("a complaint without content cannot be filed")
    if item.institution_id <= 0:
        raise ValueError("institution_id must be a LAPOR! institution id")
    return {
        "title": make_title(item.title, content),
        # The reference also goes in the text: tags may be rewritten by LAPOR!, the text is kept
        # verbatim, and agency staff can quote it back to the regional office.
        "content": f"{content}\n\nNomor referensi Muara: {item.reference}",
        "channel": settings.channel_id,
        "classification_id": (
            settings.classification_id if item.classification_id is None else item.classification_id
        ),
        "category_id": settings.category_id,
        "disposition_id": item.institution_id,
        "location_id": settings.location_id,
        "date_of_incident": incident_date(item.date_of_incident),
        "tags_raw": reference_tags(item.reference),
        "is_anonymous": int(item.is_anonymous),
        "is_secret": int(item.is_secret),
        "is_priority": 0,
        # Ids the upload call returned, as the string LAPOR! expects: "[12,13]".
        "attachments": "[" + ",".join(str(ident) for ident in item.attachment_ids) + "]",
        "info_attachments": "[]",
        "info_disposition": "-",
        "priority_program_id": None,
        "community_id": None,
        "copy_externals": None,
        "user_id": settings.user_id,
        # The values the reference integrator sends; their exact meaning is not public.
        "is_inbox": 1,
        "is_disposisi_slider": 1,
        "is_new_user_slider": 0,
        "is_approval": 0,
    }
