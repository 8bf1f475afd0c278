"""Keeping Muara's agencies in step with LAPOR!'s institutions master list."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.config import Settings
from muara.exporters.lapor.client import LaporClient
from muara.exporters.lapor.models import Institution
from muara.store.records import Clock
from muara.store.tables import agencies

log = logging.getLogger(__name__)


def agency_names(settings: Settings) -> dict[str, str]:
    """Agency code -> name as LAPOR!'s master list spells it (starter names, then the config)."""
    from muara.classify.starter import STARTER_AGENCIES

    return {**STARTER_AGENCIES, **settings.lapor.agency_names}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def match_institutions(
    names: Mapping[str, str], institutions: list[Institution]
) -> tuple[dict[str, int], list[str]]:
    """Agency code -> institution id by exact (case- and punctuation-blind) name; unmatched codes.

    Deliberately no fuzzy matching: filing to the wrong agency is worse than asking an operator.
    """
    by_name: dict[str, list[int]] = {}
    for institution in institutions:
        by_name.setdefault(_key(institution.name), []).append(institution.id)
    matched: dict[str, int] = {}
    unmatched: list[str] = []
    for code, name in names.items():
        ids = by_name.get(_key(name), [])
        if len(ids) == 1:
            matched[code] = ids[0]
        else:
            unmatched.append(code)
    return matched, sorted(unmatched)


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a sync did."""

    institutions: int
    matched: dict[str, int]
    unmatched: list[str]


async def sync_institutions(
    client: LaporClient, engine: AsyncEngine, names: Mapping[str, str], *, clock: Clock
) -> SyncReport:
    """Fetch the master list and record each agency's institution id in the store."""
    institutions = await client.list_institutions()
    matched, unmatched = match_institutions(names, institutions)
    now = clock()
    async with engine.begin() as conn:
        existing = set((await conn.execute(select(agencies.c.code))).scalars())
        for code, name in names.items():
            values = {"name": name, "lapor_institution_id": matched.get(code), "updated_at": now}
            if code in existing:
                await conn.execute(
                    agencies.update().where(agencies.c.code == code).values(**values)
                )
            else:
                await conn.execute(agencies.insert().values(code=code, **values))
    if unmatched:
        log.warning(
            "no LAPOR! institution matches agencies %s; map them in lapor.institutions",
            ", ".join(unmatched),
        )
    return SyncReport(len(institutions), matched, unmatched)
