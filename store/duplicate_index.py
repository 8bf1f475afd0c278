"""The duplicate index in the store: finds the complaints a batch may repeat, and remembers it.

The route stage calls `check` on a batch before deciding it, and commits `DuplicateCheck.record`
in the same transaction as its decisions (`Store.apply(..., also=check.record)`), so the index
never names a complaint whose routing was not committed, and a redone batch adds nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import RowMapping, TextClause, case, delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.classify.location import Gazetteer
from muara.domain import State
from muara.router import minhash
from muara.router.duplicates import (
    Candidate,
    DuplicateMatch,
    DuplicateSettings,
    Fingerprint,
    IndexKey,
    KeyKind,
    best_match,
    fingerprint,
    index_keys,
)
from muara.store.duplicate_tables import duplicate_fingerprints, duplicate_keys
from muara.store.records import ComplaintRecord
from muara.store.repository import dialect_insert
from muara.store.tables import complaints

# A complaint in one of these states can be the one others are linked to. Not DISCARDED (spam is
# no root), not CLOSED (the same problem again after LAPOR! closed it is news), not CLASSIFIED.
ROOT_STATES = frozenset({State.REVIEW, State.ROUTED, State.EXPORTED, State.EXPORT_FAILED})
_CHUNK = 1000
# Keys per look-up query (SQLite allows 500 terms in a compound SELECT).
_PER_QUERY = 400


# The newest `per_key` rows of each key: a bounded range scan of the primary key per key.
_PG_HITS = text(
    "SELECT k.key, d.complaint_id, d.at FROM unnest(CAST(:keys AS BIGINT[])) AS k(key) "
    "CROSS JOIN LATERAL (SELECT complaint_id, at FROM duplicate_keys "
    "WHERE duplicate_keys.key = k.key AND at BETWEEN :low AND :high "
    "ORDER BY at DESC LIMIT :per_key) AS d"
)


@lru_cache(maxsize=8)
def _sqlite_hits(count: int) -> TextClause:
    """SQLite has no LATERAL: one capped sub-select per key, glued with UNION ALL."""
    one = (
        "SELECT * FROM (SELECT key, complaint_id, at FROM duplicate_keys "
        "WHERE key = :k{i} AND at BETWEEN :low AND :high ORDER BY at DESC LIMIT :per_key)"
    )
    return text(" UNION ALL ".join(one.format(i=i) for i in range(count)))


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


@dataclass
class DuplicateCheck:
    """What `check` found for a batch, and what to remember once its routing is committed."""

    matches: dict[int, DuplicateMatch]
    fingerprints: list[Fingerprint] = field(default_factory=list)

    async def record(self, conn: AsyncConnection, committed: set[int]) -> None:
        """Add the committed complaints to the index (an `also` hook of `Store.apply`)."""
        await remember(conn, [fp for fp in self.fingerprints if fp.complaint_id in committed])


async def remember(conn: AsyncConnection, fingerprints: Sequence[Fingerprint]) -> None:
    """Write the keys and fingerprints of complaints; those already indexed are left alone."""
    if not fingerprints:
        return
    keys = [
        {
            "key": key.value,
            "at": _epoch(fp.received_at),
            "complaint_id": fp.complaint_id,
            "kind": int(key.kind),
        }
        for fp in fingerprints
        for key in index_keys(fp)
    ]
    if keys:
        await conn.execute(
            dialect_insert(conn, duplicate_keys).on_conflict_do_nothing(
                index_elements=["key", "at", "complaint_id"]
            ),
            keys,
        )
    await conn.execute(
        dialect_insert(conn, duplicate_fingerprints).on_conflict_do_nothing(
            index_elements=["complaint_id"]
        ),
        [
            {
                "complaint_id": fp.complaint_id,
                "at": _epoch(fp.received_at),
                "signature": minhash.to_bytes(fp.signature),
                "words": fp.words,
                "terms": sorted(fp.terms),
                "concepts": sorted(fp.concepts),
                "places": sorted(fp.places),
                "agency": fp.agency,
            }
            for fp in fingerprints
        ],
    )


class DuplicateIndex:
    """Duplicate detection against every complaint routed within the time windows."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        settings: DuplicateSettings | None = None,
        gazetteer: Gazetteer | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or DuplicateSettings()
        self.gazetteer = gazetteer

    async def find_duplicate(
        self, record: ComplaintRecord, agency: str | None = None
    ) -> DuplicateMatch | None:
        """The earlier complaint `record` repeats, if any (one complaint: see `check`)."""
        return (await self.check([record], {record.id: agency})).matches.get(record.id)

    async def check(
        self, records: Sequence[ComplaintRecord], agencies: Mapping[int, str | None] | None = None
    ) -> DuplicateCheck:
        """Match each record against the index and against the batch's earlier records."""
        if not records:
            return DuplicateCheck({})
        agencies = agencies or {}
        async with self.engine.connect() as conn:
            contacts = await self._contacts(conn, [record.id for record in records])
            ordered = sorted(records, key=lambda r: (r.received_at, r.id))
            prints = [
                fingerprint(
                    r.id,
                    r.received_at,
                    r.text,
                    subject=r.subject,
                    contact=contacts.get(r.id),
                    district=r.district,
                    subdistrict=r.subdistrict,
                    agency=agencies.get(r.id),
                    gazetteer=self.gazetteer,
                )
                for r in ordered
            ]
            keys = {fp.complaint_id: index_keys(fp) for fp in prints}
            hits = await self._hits(conn, prints, keys)
            own = {fp.complaint_id for fp in prints}
            chosen = {
                fp.complaint_id: self._choose(fp, keys[fp.complaint_id], hits, own) for fp in prints
            }
            stored = await self._candidates(
                conn, {cid for found in chosen.values() for cid in found}
            )
        matches: dict[int, DuplicateMatch] = {}
        # The batch's own complaints, by key: a later one may repeat an earlier one.
        earlier: dict[int, list[Candidate]] = {}
        for fp in prints:
            candidates = [
                Candidate(stored[cid][0], frozenset(via), stored[cid][1], stored[cid][2])
                for cid, via in chosen[fp.complaint_id].items()
                if cid in stored
            ]
            in_batch: dict[int, tuple[Candidate, set[KeyKind]]] = {}
            for key in keys[fp.complaint_id]:
                for other in earlier.get(key.value, [])[-self.settings.max_candidates :]:
                    entry = in_batch.setdefault(other.fingerprint.complaint_id, (other, set()))
                    entry[1].add(key.kind)
            candidates += [
                Candidate(other.fingerprint, frozenset(via), other.root_id, other.root_received_at)
                for other, via in in_batch.values()
            ]
            match = best_match(fp, candidates, self.settings)
            if match is not None:
                matches[fp.complaint_id] = match
                root_at = next(
                    (c.root_received_at for c in candidates if c.root_id == match.of_id),
                    fp.received_at,
                )
                me = Candidate(fp, frozenset(), match.of_id, root_at)
            else:
                me = Candidate(fp, frozenset(), fp.complaint_id, fp.received_at)
            for key in keys[fp.complaint_id]:
                earlier.setdefault(key.value, []).append(me)
        return DuplicateCheck(matches, prints)

    def _choose(
        self,
        fp: Fingerprint,
        keys: list[IndexKey],
        hits: Mapping[int, list[tuple[int, int]]],
        own: set[int],
    ) -> dict[int, set[KeyKind]]:
        """The stored complaints worth comparing with `fp`, and by which keys they were found.

        Found by the reporter first, then by place, then by how many text bands they share (the
        expected count grows with the fourth power of the similarity); nearest in time first.
        """
        at = _epoch(fp.received_at)
        widest = int(self.settings.widest.total_seconds())
        via: dict[int, set[KeyKind]] = {}
        bands: dict[int, int] = {}
        gap: dict[int, int] = {}
        for key in keys:
            for cid, when in hits.get(key.value, ()):
                if cid in own or abs(when - at) > widest:
                    continue
                via.setdefault(cid, set()).add(key.kind)
                bands[cid] = bands.get(cid, 0) + (key.kind is KeyKind.BAND)
                gap[cid] = abs(when - at)

        def rank(cid: int) -> tuple[int, int, int, int]:
            kinds = via[cid]
            return (-(KeyKind.IDENTITY in kinds), -(KeyKind.PLACE in kinds), -bands[cid], gap[cid])

        best = sorted(via, key=rank)[: self.settings.max_candidates]
        return {cid: via[cid] for cid in best}

    async def prune(self, now: datetime) -> int:
        """Forget complaints older than every window (they can no longer be matched)."""
        cutoff = _epoch(now - self.settings.widest) - 86_400
        async with self.engine.begin() as conn:
            removed = await conn.execute(delete(duplicate_keys).where(duplicate_keys.c.at < cutoff))
            await conn.execute(
                delete(duplicate_fingerprints).where(duplicate_fingerprints.c.at < cutoff)
            )
        return int(removed.rowcount or 0)

    # -- reading the index ---------------------------------------------------------------------

    async def _contacts(self, conn: AsyncConnection, ids: list[int]) -> dict[int, str | None]:
        rows = await conn.execute(
            select(complaints.c.id, complaints.c.reporter_contact).where(complaints.c.id.in_(ids))
        )
        return {int(cid): contact for cid, contact in rows}

    async def _hits(
        self,
        conn: AsyncConnection,
        prints: Sequence[Fingerprint],
        keys: Mapping[int, list[IndexKey]],
    ) -> dict[int, list[tuple[int, int]]]:
        """(complaint id, at) of indexed complaints sharing a key, the newest few per key.

        Capped per key: a key thousands of complaints share (a common short text, a busy
        kelurahan) costs a bounded index range scan, not a read of all of them.
        """
        widest = int(self.settings.widest.total_seconds())
        low = min(_epoch(fp.received_at) for fp in prints) - widest
        high = max(_epoch(fp.received_at) for fp in prints) + widest
        values = sorted({key.value for found in keys.values() for key in found})
        hits: dict[int, list[tuple[int, int]]] = {}
        bounds = {"low": low, "high": high, "per_key": self.settings.per_key}
        if conn.dialect.name == "postgresql":
            rows = await conn.execute(_PG_HITS, {"keys": values, **bounds})
            for key, cid, at in rows:
                hits.setdefault(int(key), []).append((int(cid), int(at)))
            return hits
        for start in range(0, len(values), _PER_QUERY):
            part = values[start : start + _PER_QUERY]
            params = {f"k{i}": value for i, value in enumerate(part)}
            rows = await conn.execute(_sqlite_hits(len(part)), {**params, **bounds})
            for key, cid, at in rows:
                hits.setdefault(int(key), []).append((int(cid), int(at)))
        return hits

    async def _candidates(
        self, conn: AsyncConnection, ids: Iterable[int]
    ) -> dict[int, tuple[Fingerprint, int, datetime]]:
        """Fingerprint, root id and root's received_at of each candidate that may be linked to."""
        wanted = sorted(ids)
        root = complaints.alias("root")
        root_id = case(
            (complaints.c.state == State.DUPLICATE.value, complaints.c.duplicate_of_id),
            else_=complaints.c.id,
        )
        found: dict[int, tuple[Fingerprint, int, datetime]] = {}
        for start in range(0, len(wanted), _CHUNK):
            rows = await conn.execute(
                select(
                    duplicate_fingerprints,
                    complaints.c.received_at,
                    root.c.id.label("root_id"),
                    root.c.received_at.label("root_at"),
                )
                .join(complaints, complaints.c.id == duplicate_fingerprints.c.complaint_id)
                .join(root, root.c.id == root_id)
                .where(
                    duplicate_fingerprints.c.complaint_id.in_(wanted[start : start + _CHUNK]),
                    complaints.c.state.in_([s.value for s in ROOT_STATES | {State.DUPLICATE}]),
                    root.c.state.in_([s.value for s in ROOT_STATES]),
                )
            )
            for row in rows.mappings():
                found[int(row["complaint_id"])] = (
                    _stored(row),
                    int(row["root_id"]),
                    row["root_at"],
                )
        return found


def _stored(row: RowMapping) -> Fingerprint:
    return Fingerprint(
        complaint_id=int(row["complaint_id"]),
        received_at=row["received_at"].astimezone(UTC),
        signature=minhash.from_bytes(row["signature"]),
        words=int(row["words"]),
        terms=frozenset(row["terms"]),
        concepts=frozenset(row["concepts"]),
        places=frozenset(row["places"]),
        agency=row["agency"],
    )
