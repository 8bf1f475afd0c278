"""The duplicate index in the store: finds the complaints a batch may repeat, and remembers it.

The route stage calls `check` on a batch before deciding it, and commits `DuplicateCheck.record`
in the same transaction as its decisions (`Store.apply(..., also=check.record)`), so the index
never names a complaint whose routing was not committed, and a redone batch adds nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import case, delete, func, select, text
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
    compare,
    fingerprint,
    index_keys,
    lookup_keys,
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


# The newest `cap` rows of each key: a bounded range scan of the primary key per key.
_PG_HITS = (
    "SELECT k.key, d.complaint_id, d.at FROM unnest($1::bigint[], $4::int[]) AS k(key, cap) "
    "CROSS JOIN LATERAL (SELECT complaint_id, at FROM duplicate_keys "
    "WHERE duplicate_keys.key = k.key AND at BETWEEN $2 AND $3 "
    "ORDER BY at DESC LIMIT k.cap) AS d"
)
_PG_INSERT_KEYS = (
    "INSERT INTO duplicate_keys (key, at, complaint_id, kind) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT DO NOTHING"
)
_SQLITE_INSERT_KEYS = (
    "INSERT INTO duplicate_keys (key, at, complaint_id, kind) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
# The advisory lock recorders of every replica take in turn (see `DuplicateCheck.record`).
RECORD_LOCK = int.from_bytes(
    hashlib.blake2b(b"muara:duplicate-index", digest_size=8).digest(), "big", signed=True
)
# How much each kind of shared key says two complaints are one (see `DuplicateIndex._choose`).
_WEIGHTS = {KeyKind.IDENTITY: 1 << 20, KeyKind.PLACE: 1 << 10, KeyKind.BAND: 1}
_FINGERPRINT_COLUMNS = "complaint_id, at, signature, words, terms, concepts, places, agency"


@lru_cache(maxsize=8)
def _sqlite_hits(count: int) -> str:
    """SQLite has no LATERAL: one capped sub-select per key, glued with UNION ALL."""
    one = (
        "SELECT * FROM (SELECT key, complaint_id, at FROM duplicate_keys "
        "WHERE key = ? AND at BETWEEN ? AND ? ORDER BY at DESC LIMIT ?)"
    )
    return " UNION ALL ".join([one] * count)


def _by_ids(conn: AsyncConnection, columns: str, table: str, count: int) -> str:
    """SELECT `columns` of the rows of `table` whose complaint_id is one of `count` given."""
    if conn.dialect.name == "postgresql":
        return f"SELECT {columns} FROM {table} WHERE complaint_id = ANY($1::bigint[])"
    marks = ",".join("?" * count)
    return f"SELECT {columns} FROM {table} WHERE complaint_id IN ({marks})"


async def _fetch(conn: AsyncConnection, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
    """Rows straight from the driver (aiosqlite or asyncpg), in the connection's transaction.

    A check reads thousands of small index rows per batch; SQLAlchemy's per-row result
    processing was most of its cost, so the hot reads skip it.
    """
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if conn.dialect.name == "postgresql":
        return list(await driver.fetch(sql, *params))
    return list(await driver.execute_fetchall(sql, params))


# SQLite's default page cache is 2 MiB: an index of a few million keys is read through the OS
# page by page, and at 1,000,000 complaints that was most of a check. A 16 MiB cache, set once on
# each connection that runs a check. Not memory-mapped reads: they were a few percent faster, but
# every page of the index ever read stayed in the daemon's resident memory (1 GiB mapped: 733 MB
# resident at 100,000 complaints). Not a process-wide `soft_heap_limit` either: it saved 30 MB and
# halved the speed of recording (cache pages recycled mid-insert).
_SQLITE_PRAGMAS = ("PRAGMA cache_size=-16384",)


async def _sqlite_reads(conn: AsyncConnection) -> None:
    if conn.dialect.name != "sqlite":
        return
    raw = await conn.get_raw_connection()
    if raw.info.get("muara_duplicate_reads"):
        return
    driver: Any = raw.driver_connection
    for pragma in _SQLITE_PRAGMAS:
        await driver.execute(pragma)
    raw.info["muara_duplicate_reads"] = True


def _ids_param(conn: AsyncConnection, ids: list[int]) -> list[Any]:
    return [ids] if conn.dialect.name == "postgresql" else list(ids)


def _json(value: Any) -> list[str]:
    found: list[str] = json.loads(value) if isinstance(value, str | bytes) else value
    return found


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


class DuplicateRace(Exception):
    """Another replica indexed a complaint this batch may repeat after the batch was checked:
    the batch's transaction is rolled back and the batch checked again."""


@dataclass
class DuplicateCheck:
    """What `check` found for a batch, and what to remember once its routing is committed."""

    matches: dict[int, DuplicateMatch]
    fingerprints: list[Fingerprint] = field(default_factory=list)
    keys: dict[int, list[IndexKey]] = field(default_factory=dict)
    # The keys the batch looked its candidates up by, and every indexed complaint they found:
    # what `record` compares with the index as it is at commit (see there).
    lookups: dict[int, list[IndexKey]] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    index: DuplicateIndex | None = None

    async def record(self, conn: AsyncConnection, committed: set[int]) -> None:
        """Add the committed complaints to the index (an `also` hook of `Store.apply`).

        On PostgreSQL, replicas route at the same time: two of them could each check one of
        two repeats before the other's commit and route both, filing the problem twice. So
        recording takes a transaction-scoped advisory lock (one recorder at a time, until
        commit) and looks the batch's keys up again under it; a complaint indexed since the
        check that the batch's first-of-their-kind may repeat raises `DuplicateRace`, and the
        caller checks the batch again, now seeing it. SQLite has one daemon per store.
        """
        chosen = [fp for fp in self.fingerprints if fp.complaint_id in committed]
        if self.index is not None and conn.dialect.name == "postgresql" and chosen:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RECORD_LOCK})
            await self.index.verify(conn, self, chosen)
        await remember(conn, chosen, self.keys)


async def remember(
    conn: AsyncConnection,
    fingerprints: Sequence[Fingerprint],
    keys: Mapping[int, list[IndexKey]] | None = None,
) -> None:
    """Write the keys and fingerprints of complaints; those already indexed are left alone.

    Call it in a transaction that has already written (as `Store.apply` has): the keys go in
    through the driver, which on PostgreSQL joins the transaction SQLAlchemy has begun.
    """
    if not fingerprints:
        return
    keys = keys or {}
    rows = [
        (key.value, _epoch(fp.received_at), fp.complaint_id, int(key.kind))
        for fp in fingerprints
        for key in keys.get(fp.complaint_id) or index_keys(fp)
    ]
    if rows:
        # Tens of thousands of rows a minute: SQLAlchemy's per-row parameter handling was most
        # of the cost of recording a batch, so they go to the driver's executemany.
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if conn.dialect.name == "postgresql":
            await driver.executemany(_PG_INSERT_KEYS, rows)
        else:
            await driver.executemany(_SQLITE_INSERT_KEYS, rows)
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
            await _sqlite_reads(conn)
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
            own_keys = {fp.complaint_id: index_keys(fp) for fp in prints}
            keys = {fp.complaint_id: lookup_keys(fp, own_keys[fp.complaint_id]) for fp in prints}
            hits = await self._hits(conn, prints, keys)
            seen = {cid for rows in hits.values() for cid, _ in rows}
            own = {fp.complaint_id for fp in prints}
            chosen = {
                fp.complaint_id: self._choose(fp, keys[fp.complaint_id], hits, own) for fp in prints
            }
            found = await self._fingerprints(
                conn,
                self._worth_reading(
                    prints,
                    chosen,
                    await self._signatures(
                        conn, {cid for found in chosen.values() for cid in found}
                    ),
                ),
            )
            # Only the stored complaints one of the batch repeats need their root looked up: a
            # handful, where the candidates are tens per complaint.
            repeated = {
                cid
                for fp in prints
                for cid, via in chosen[fp.complaint_id].items()
                if cid in found and compare(fp, found[cid], frozenset(via), self.settings)
            }
            roots = await self._roots(conn, repeated)
        stored = {cid: (found[cid], *root) for cid, root in roots.items()}
        matches: dict[int, DuplicateMatch] = {}
        # The batch's own complaints, by key: a later one may repeat an earlier one.
        earlier: dict[int, list[Candidate]] = {}
        for fp in prints:
            candidates = [
                Candidate(stored[cid][0], frozenset(via), stored[cid][1], stored[cid][2])
                for cid, via in chosen[fp.complaint_id].items()
                if cid in stored
            ]
            candidates += self._in_batch(keys[fp.complaint_id], earlier)
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
            for key in own_keys[fp.complaint_id]:
                earlier.setdefault(key.value, []).append(me)
        return DuplicateCheck(matches, prints, own_keys, keys, seen, self)

    async def verify(
        self, conn: AsyncConnection, check: DuplicateCheck, chosen: Sequence[Fingerprint]
    ) -> None:
        """Raise `DuplicateRace` if a complaint indexed since `check` is one that a complaint
        the batch routes as new repeats (called under the recorders' lock, in the batch's
        transaction, so what it reads is every other batch committed so far)."""
        roots = [fp for fp in chosen if fp.complaint_id not in check.matches]
        if not roots:
            return
        keys = {fp.complaint_id: check.lookups[fp.complaint_id] for fp in roots}
        hits = await self._hits(conn, roots, keys)
        own = {fp.complaint_id for fp in check.fingerprints}
        newcomers = {cid for rows in hits.values() for cid, _ in rows} - check.seen - own
        if not newcomers:
            return
        found = await self._fingerprints(conn, newcomers)
        for fp in roots:
            via: dict[int, set[KeyKind]] = {}
            for key in keys[fp.complaint_id]:
                for cid, _ in hits.get(key.value, ()):
                    if cid in found:
                        via.setdefault(cid, set()).add(key.kind)
            for cid, kinds in via.items():
                if compare(fp, found[cid], frozenset(kinds), self.settings):
                    raise DuplicateRace(f"complaint #{fp.complaint_id} may repeat #{cid}")

    def _in_batch(
        self, keys: list[IndexKey], earlier: Mapping[int, list[Candidate]]
    ) -> list[Candidate]:
        """The batch's earlier complaints sharing a key, capped and ranked as `_choose` does."""
        settings = self.settings
        found: dict[int, tuple[Candidate, set[KeyKind]]] = {}
        score: dict[int, int] = {}
        for key in keys:
            cap = settings.per_band if key.kind is KeyKind.BAND else settings.per_key
            for other in earlier.get(key.value, [])[-cap:]:
                cid = other.fingerprint.complaint_id
                entry = found.get(cid)
                if entry is None:
                    found[cid] = (other, {key.kind})
                    score[cid] = _WEIGHTS[key.kind]
                elif key.kind is not KeyKind.IDENTITY or key.kind not in entry[1]:
                    entry[1].add(key.kind)
                    score[cid] += _WEIGHTS[key.kind]
        best = sorted(found, key=lambda cid: -score[cid])[: settings.max_candidates]
        return [
            Candidate(other.fingerprint, frozenset(via), other.root_id, other.root_received_at)
            for other, via in (found[cid] for cid in best)
        ]

    def _choose(
        self,
        fp: Fingerprint,
        keys: list[IndexKey],
        hits: Mapping[int, list[tuple[int, int]]],
        own: set[int],
    ) -> dict[int, set[KeyKind]]:
        """The stored complaints worth comparing with `fp`, and by which keys they were found.

        Found by the reporter first, then by place, then by how many text bands they share (the
        expected count grows with the third power of the similarity); nearest in time first.
        Hot: every hit row of every key passes here, so it keeps to plain dict operations.
        """
        at = _epoch(fp.received_at)
        widest = int(self.settings.widest.total_seconds())
        # Per candidate: a score (reporter 2^20, 2^10 per shared place, one per shared band: a
        # shared street and kelurahan beat a shared kelurahan) and its time gap.
        score: dict[int, int] = {}
        gap: dict[int, int] = {}
        via: dict[int, set[KeyKind]] = {}
        for key in keys:
            rows = hits.get(key.value)
            if not rows:
                continue
            kind = key.kind
            weight = _WEIGHTS[kind]
            for cid, when in rows:
                if cid in own:
                    continue
                distance = abs(when - at)
                if distance > widest:
                    continue
                found = via.get(cid)
                if found is None:
                    via[cid] = {kind}
                    score[cid] = weight
                    gap[cid] = distance
                elif kind is not KeyKind.IDENTITY or kind not in found:
                    found.add(kind)
                    score[cid] += weight
        limit = self.settings.max_candidates
        if len(via) > limit:
            best = sorted(via, key=lambda cid: (-score[cid], gap[cid]))[:limit]
            return {cid: via[cid] for cid in best}
        return via

    async def prune(self, now: datetime) -> int:
        """Forget complaints older than every window (they can no longer be matched).

        Windows are measured between received times, not from now: a backlog (a mailbox read
        again after a week down, a late call-center export) still to be routed is matched
        against what came in around it, so nothing within the widest window of the oldest
        complaint not yet routed is forgotten.
        """
        async with self.engine.begin() as conn:
            waiting = await conn.scalar(
                select(func.min(complaints.c.received_at)).where(
                    complaints.c.state.in_([State.NEW.value, State.CLASSIFIED.value])
                )
            )
            oldest = now if waiting is None else min(now, waiting.astimezone(UTC))
            cutoff = _epoch(oldest - self.settings.widest) - 86_400
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
        kelurahan) costs a bounded index range scan, not a read of all of them. Both drivers
        give the BIGINT columns as Python ints already: no conversion per row.
        """
        widest = int(self.settings.widest.total_seconds())
        low = min(_epoch(fp.received_at) for fp in prints) - widest
        high = max(_epoch(fp.received_at) for fp in prints) + widest
        caps = {
            key.value: self.settings.per_band if key.kind is KeyKind.BAND else self.settings.per_key
            for found in keys.values()
            for key in found
        }
        values = sorted(caps)
        hits: dict[int, list[tuple[int, int]]] = {}
        if conn.dialect.name == "postgresql":
            limits = [caps[value] for value in values]
            rows = await _fetch(conn, _PG_HITS, [values, low, high, limits])
            for key, cid, at in rows:
                hits.setdefault(key, []).append((cid, at))
            return hits
        for start in range(0, len(values), _PER_QUERY):
            part = values[start : start + _PER_QUERY]
            params = [p for value in part for p in (value, low, high, caps[value])]
            for key, cid, at in await _fetch(conn, _sqlite_hits(len(part)), params):
                hits.setdefault(key, []).append((cid, at))
        return hits

    def _worth_reading(
        self,
        prints: Sequence[Fingerprint],
        chosen: Mapping[int, Mapping[int, set[KeyKind]]],
        signatures: Mapping[int, minhash.Signature],
    ) -> set[int]:
        """The candidates that can still match once their signature is known.

        Found by the reporter or the place, a candidate may match on little shared text; found
        by text bands alone, only as SAME_TEXT, so below `text_threshold` it is dropped unread:
        most band hits are complaints that merely share a few common words.
        """
        worth: set[int] = set()
        threshold = self.settings.text_threshold
        for fp in prints:
            for cid, via in chosen[fp.complaint_id].items():
                if cid in worth or cid not in signatures:
                    continue
                if via != {KeyKind.BAND} or (
                    minhash.similarity(fp.signature, signatures[cid]) >= threshold
                ):
                    worth.add(cid)
        return worth

    async def _signatures(
        self, conn: AsyncConnection, ids: Iterable[int]
    ) -> dict[int, minhash.Signature]:
        """The stored MinHash signatures of the candidates (small rows, read before the rest)."""
        wanted = sorted(ids)
        found: dict[int, minhash.Signature] = {}
        for start in range(0, len(wanted), _CHUNK):
            part = wanted[start : start + _CHUNK]
            sql = _by_ids(conn, "complaint_id, signature", "duplicate_fingerprints", len(part))
            for cid, signature in await _fetch(conn, sql, _ids_param(conn, part)):
                found[int(cid)] = minhash.from_bytes(signature)
        return found

    async def _fingerprints(
        self, conn: AsyncConnection, ids: Iterable[int]
    ) -> dict[int, Fingerprint]:
        """The stored fingerprints of the candidates: primary-key reads of one table."""
        wanted = sorted(ids)
        found: dict[int, Fingerprint] = {}
        for start in range(0, len(wanted), _CHUNK):
            part = wanted[start : start + _CHUNK]
            sql = _by_ids(conn, _FINGERPRINT_COLUMNS, "duplicate_fingerprints", len(part))
            for row in await _fetch(conn, sql, _ids_param(conn, part)):
                found[int(row[0])] = _stored(row)
        return found

    async def _roots(
        self, conn: AsyncConnection, ids: Iterable[int]
    ) -> dict[int, tuple[int, datetime]]:
        """Root id and root's received_at of each complaint that may still be linked to.

        Read now, not kept in the index: a coordinator may have discarded a root or marked it
        a duplicate since it was indexed.
        """
        wanted = sorted(ids)
        root = complaints.alias("root")
        root_id = case(
            (complaints.c.state == State.DUPLICATE.value, complaints.c.duplicate_of_id),
            else_=complaints.c.id,
        )
        found: dict[int, tuple[int, datetime]] = {}
        for start in range(0, len(wanted), _CHUNK):
            rows = await conn.execute(
                select(complaints.c.id, root.c.id, root.c.received_at)
                .join(root, root.c.id == root_id)
                .where(
                    complaints.c.id.in_(wanted[start : start + _CHUNK]),
                    complaints.c.state.in_([s.value for s in ROOT_STATES | {State.DUPLICATE}]),
                    root.c.state.in_([s.value for s in ROOT_STATES]),
                )
            )
            for cid, rid, root_at in rows:
                found[int(cid)] = (int(rid), root_at.astimezone(UTC))
        return found


def _stored(row: Sequence[Any]) -> Fingerprint:
    cid, at, signature, words, terms, concepts, places, agency = row
    return Fingerprint(
        complaint_id=int(cid),
        received_at=datetime.fromtimestamp(at, UTC),
        signature=minhash.from_bytes(bytes(signature)),
        words=int(words),
        terms=frozenset(_json(terms)),
        concepts=frozenset(_json(concepts)),
        places=frozenset(_json(places)),
        agency=agency,
    )
