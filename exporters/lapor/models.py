"""Values LAPOR! hands back that the rest of Muara keeps (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Institution:
    """One row of LAPOR!'s institutions master list: the id a filing's `disposition_id` names."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class LookupHit:
    """A LAPOR! complaint found by our reference: its id and the institution it is with."""

    lapor_id: str
    institution_id: int | None


@dataclass(frozen=True, slots=True)
class AttachmentFile:
    """A file to upload with a filing."""

    filename: str
    content_type: str
    content: bytes
