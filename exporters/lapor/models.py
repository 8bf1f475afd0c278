"""Values LAPOR! hands back that the rest of Muara keeps (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Institution:
    """One row of LAPOR!'s institutions master list: the id a filing's `disposition_id` names."""

    id: int
    name: str
