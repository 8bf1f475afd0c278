"""Retention anonymises finished complaints; `muara forget` removes one reporter's data on request.

Real stores (SQLite and PostgreSQL), a fake clock, the CLI through its main function.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.cli import main
from muara.config import load_settings
from muara.domain import Attachment, NewComplaint, RawInput, Reporter, State
from muara.exporters.metrics import Metrics
from muara.privacy.anonymise import anonymise
from muara.privacy.retention import RAW_CURSOR, RetentionJob
from muara.privacy.settings import RetentionSettings
from muara.store.cursors import Cursors
from muara.store.duplicate_tables import duplicate_keys
from muara.store.followups_tables import complaint_messages
from muara.store.lapor_tables import lapor_followups, lapor_tracking
from muara.store.privacy_tables import anonymised_complaints
from muara.store.repository import Store
from muara.store.review_tables import audit_log
from muara.store.tables import complaints, decisions, raw_inputs
from muara.testing import FakeClock
from tests.test_daemon import daemon_settings, eventually, run_daemon

NAME, PHONE, EMAIL, NIK = "Siti Rahayu", "0812-0000-1234", "siti@contoh.id", "3201012345670001"
TEXT = (
    f"Saya {NAME}, NIK {NIK}, hp 0812 0000 1234, email {EMAIL}. Bu Siti minta jalan berlubang "
    "di depan SD Kandangan segera ditambal."
)
PERSONAL = ("Siti", "Rahayu", NIK, "0812", "1234", "siti@")


def _complaint(n: int, **overrides: Any) -> NewComplaint:
    values: dict[str, Any] = {
        "channel": "callcenter",
        "source_id": f"call-{n}",
        "received_at": datetime(2025, 1, 1, tzinfo=UTC),
        "text": TEXT,
        "subject": f"Laporan {NAME}",
        "reporter": Reporter(name=NAME, contact=PHONE),
        "district": "Benowo",
        "attachments": (Attachment("KTP_Siti_Rahayu.jpg", "image/jpeg", 2048),),
        "extra": {"category": "Jalan", "address": "Jl. Melati 5", "url": "https://x.com/siti/1"},
    }
    values.update(overrides)
    return NewComplaint(**values)


def _raw(n: int) -> RawInput:
    return RawInput("callcenter", f"cc:call-{n}", f"call-{n},{NAME},{PHONE},{TEXT}".encode())


async def _add(store: Store, n: int, state: State, at: datetime, **overrides: Any) -> int:
    """A complaint in `state` since `at`, with a follow-up, a decision, a LAPOR! record."""
    complaint = _complaint(n, **overrides)
    (stored,) = await store.store_many([(complaint, _raw(n))])
    reporter = complaint.reporter
    async with store.engine.begin() as conn:
        await conn.execute(
            update(complaints)
            .where(complaints.c.id == stored.id)
            .values(state=state.value, state_changed_at=at, agency="DLH", lapor_id=f"L-{n}")
        )
        raw_id = await conn.scalar(
            insert(raw_inputs)
            .values(
                channel="email",
                source_ref=f"reply-{n}",
                content=f"balasan dari {EMAIL}".encode(),
                content_type="message/rfc822",
                received_at=at,
            )
            .returning(raw_inputs.c.id)
        )
        await conn.execute(
            insert(complaint_messages).values(
                complaint_id=stored.id,
                channel="email",
                source_id=f"reply-{n}",
                received_at=at,
                text=f"Tambahan dari {reporter.name}: hubungi {reporter.contact}",
                raw_input_id=raw_id,
                created_at=at,
            )
        )
        await conn.execute(
            insert(decisions).values(
                complaint_id=stored.id,
                target_state="ROUTED",
                agency="DLH",
                mode="coordinator",
                decided_by="coordinator:dewi",
                reason=f"sudah ditelepon Bu {NAME}",
                created_at=at,
            )
        )
        await conn.execute(
            insert(duplicate_keys).values(key=n, at=0, complaint_id=stored.id, kind=1)
        )
        await conn.execute(
            insert(lapor_tracking).values(
                complaint_id=stored.id,
                lapor_id=f"L-{n}",
                agency="DLH",
                institution_id=1234,
                classification="complaint",
                filed_at=at,
                due_at=at,
                next_sync_at=at,
                closed_at=at,
            )
        )
        await conn.execute(
            insert(lapor_followups).values(
                complaint_id=stored.id,
                lapor_id=f"L-{n}",
                followup_key=f"f-{n}",
                created_at=at,
                author="Dinas PU",
                content=f"Yth. {NAME}, lubang sudah ditambal.",
                seen_at=at,
            )
        )
    return stored.id


async def _row(engine: AsyncEngine, complaint_id: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            (await conn.execute(select(complaints).where(complaints.c.id == complaint_id)))
            .mappings()
            .one()
        )
        messages = list(
            await conn.scalars(
                select(complaint_messages.c.text).where(
                    complaint_messages.c.complaint_id == complaint_id
                )
            )
        )
        reasons = list(
            await conn.scalars(
                select(decisions.c.reason).where(decisions.c.complaint_id == complaint_id)
            )
        )
        followups = list(
            await conn.scalars(
                select(lapor_followups.c.content).where(
                    lapor_followups.c.complaint_id == complaint_id
                )
            )
        )
        raw_ids = [
            row["raw_input_id"],
            *await conn.scalars(
                select(complaint_messages.c.raw_input_id).where(
                    complaint_messages.c.complaint_id == complaint_id
                )
            ),
        ]
        raws = list(
            await conn.scalars(select(raw_inputs.c.content).where(raw_inputs.c.id.in_(raw_ids)))
        )
        keys = await conn.scalar(
            select(func.count()).where(duplicate_keys.c.complaint_id == complaint_id)
        )
        tracked = await conn.scalar(
            select(lapor_tracking.c.lapor_id).where(lapor_tracking.c.complaint_id == complaint_id)
        )
    return {
        **row,
        "messages": messages,
        "reasons": reasons,
        "followups": followups,
        "raws": raws,
        "keys": keys,
        "tracked": tracked,
    }


def _assert_anonymised(row: dict[str, Any]) -> None:
    assert row["reporter_name"] is None and row["reporter_contact"] is None
    everything = json.dumps(
        {k: row[k] for k in ("subject", "text", "extra", "attachments", "messages", "reasons")}
        | {"followups": row["followups"]},
        ensure_ascii=False,
    )
    for value in PERSONAL:
        assert value not in everything, value
    assert "[nama]" in row["text"] and "[nik]" in row["text"] and "[telepon]" in row["text"]
    assert row["extra"] == {"category": "Jalan"}
    assert row["attachments"][0]["filename"] == "lampiran-1.jpg"
    assert row["raws"] == [b"", b""]
    assert row["keys"] == 0
    # What statistics need stays.
    assert "jalan berlubang" in row["text"]
    assert row["agency"] == "DLH" and row["district"] == "Benowo"
    assert row["lapor_id"] == row["tracked"] == f"L-{row['source_id'].split('-')[1]}"
    assert row["followups"] == ["Yth. [nama], lubang sudah ditambal."]


async def _audit(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(audit_log).order_by(audit_log.c.id))
        return [dict(row) for row in rows.mappings()]


async def test_retention_anonymises_final_complaints_once_their_period_is_over(
    store: Store, engine: AsyncEngine, clock: FakeClock
) -> None:
    start = clock()
    closed_old = await _add(store, 1, State.CLOSED, start)
    discarded_old = await _add(store, 2, State.DISCARDED, start)
    closed_recently = await _add(store, 3, State.CLOSED, start + timedelta(days=300))
    routed_old = await _add(store, 4, State.ROUTED, start)  # still on its way: never touched
    clock.advance(timedelta(days=366).total_seconds())
    metrics = Metrics(CollectorRegistry())
    job = RetentionJob(engine, RetentionSettings(anonymise_after="365d"), metrics, clock=clock)

    outcome = await job.run_once()

    assert sorted(outcome.complaint_ids) == [closed_old, discarded_old]
    for complaint_id in (closed_old, discarded_old):
        _assert_anonymised(await _row(engine, complaint_id))
    for complaint_id in (closed_recently, routed_old):
        kept = await _row(engine, complaint_id)
        assert kept["reporter_name"] == NAME and kept["text"] == TEXT and kept["keys"] == 1
        assert kept["raws"][0].startswith(b"call-")
    assert metrics.registry.get_sample_value("muara_retention_anonymised_total") == 2
    audit = await _audit(engine)
    assert [(a["actor"], a["action"], a["complaint_id"]) for a in audit] == [
        ("retention", "anonymise", closed_old),
        ("retention", "anonymise", discarded_old),
    ]
    assert audit[0]["detail"] == {
        "reason": "retention",
        "rows": {
            "complaints": 1,
            "complaint_messages": 1,
            "decisions": 1,
            "lapor_followups": 1,
            "raw_inputs": 2,
            "duplicate_keys": 1,
        },
    }
    async with engine.connect() as conn:
        marks = (await conn.execute(select(anonymised_complaints))).all()
    assert {(m.complaint_id, m.reason, m.at) for m in marks} == {
        (closed_old, "retention", clock()),
        (discarded_old, "retention", clock()),
    }

    # Idempotent: a second run finds nothing; the third complaint's turn comes later.
    assert (await job.run_once()).complaint_ids == []
    assert len(await _audit(engine)) == 2
    clock.advance(timedelta(days=300).total_seconds())
    assert (await job.run_once()).complaint_ids == [closed_recently]
    assert metrics.registry.get_sample_value("muara_retention_anonymised_total") == 3


async def test_retention_resumes_after_an_interrupted_batch(
    store: Store, engine: AsyncEngine, clock: FakeClock
) -> None:
    ids = [await _add(store, n, State.CLOSED, clock()) for n in range(1, 6)]
    clock.advance(timedelta(days=400).total_seconds())

    class Killed(Exception):
        pass

    # A crash between the anonymisation and the commit leaves nothing half done.
    with pytest.raises(Killed):
        async with engine.begin() as conn:
            await anonymise(conn, ids[:2], reason="retention", actor="retention", now=clock())
            raise Killed
    assert (await _row(engine, ids[0]))["reporter_name"] == NAME
    assert await _audit(engine) == []

    # A stop between batches (SIGTERM) leaves the rest for the next run.
    class StopAfterOneBatch(asyncio.Event):
        """Set once the job has asked once: as if SIGTERM came during the first batch."""

        asked = 0

        def is_set(self) -> bool:
            self.asked += 1
            return self.asked > 1

    settings = RetentionSettings(anonymise_after="365d", batch_size=2)
    job = RetentionJob(engine, settings, clock=clock)
    assert (await job.run_once(StopAfterOneBatch())).complaint_ids == ids[:2]
    job = RetentionJob(engine, settings, clock=clock)
    assert (await job.run_once()).complaint_ids == ids[2:]
    for complaint_id in ids:
        _assert_anonymised(await _row(engine, complaint_id))
    assert [a["complaint_id"] for a in await _audit(engine)] == ids


async def test_retention_empties_old_raw_inputs_that_no_complaint_owns(
    store: Store, engine: AsyncEngine, clock: FakeClock
) -> None:
    await store.quarantine(RawInput("callcenter", "cc:bad-1", f"{NAME};{PHONE}".encode()), "X", "r")
    live = await _add(store, 1, State.ROUTED, clock())
    # The same message in a second mailbox: its raw input is kept, the complaint is "known".
    await store.store_many(
        [(_complaint(1), RawInput("callcenter", "cc2:call-1", b"copy " + NIK.encode()))]
    )
    clock.advance(timedelta(days=200).total_seconds())
    await store.quarantine(RawInput("callcenter", "cc:bad-2", f"{NAME}".encode()), "X", "r")
    clock.advance(timedelta(days=200).total_seconds())
    job = RetentionJob(engine, RetentionSettings(anonymise_after="365d", batch_size=1), clock=clock)

    outcome = await job.run_once()

    assert outcome.rows["raw_inputs_unowned"] == 2
    async with engine.connect() as conn:
        contents = dict(
            (await conn.execute(select(raw_inputs.c.source_ref, raw_inputs.c.content))).all()
        )
    assert contents["cc:bad-1"] == b"" and contents["cc2:call-1"] == b""
    assert contents["cc:bad-2"] == NAME.encode()  # not old enough yet
    assert contents["cc:call-1"].startswith(b"call-1")  # a live complaint's
    assert (await _row(engine, live))["reporter_name"] == NAME
    assert await Cursors(engine, clock=clock).get(RAW_CURSOR) is not None
    clock.advance(timedelta(days=200).total_seconds())
    assert (await job.run_once()).rows["raw_inputs_unowned"] == 1


async def test_the_daemon_runs_retention_on_schedule(store_url: str, tmp_path: Path) -> None:
    settings = daemon_settings(
        store_url, tmp_path, retention={"anonymise_after": "30d", "interval": "1s"}
    )
    from muara.store.engine import create_engine

    engine = create_engine(store_url)
    try:
        long_ago = datetime.now(UTC) - timedelta(days=60)
        old = await _add(Store(engine), 1, State.CLOSED, long_ago)
        async with run_daemon(settings) as daemon:

            async def anonymised() -> bool:
                return (await _row(engine, old))["reporter_name"] is None

            await eventually(anonymised)
            assert daemon.metrics.registry.get_sample_value("muara_retention_anonymised_total") == 1
        _assert_anonymised(await _row(engine, old))
    finally:
        await engine.dispose()


# -- muara forget ------------------------------------------------------------------------------


@pytest.fixture
def cli_env(store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The CLI pointed at the test's store, run in an empty folder (no muara.toml)."""
    monkeypatch.setenv("MUARA_STORE__URL", store_url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MUARA_CONFIG", raising=False)
    return store_url


def _forget(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["forget", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


async def test_forget_by_phone_finds_every_form_and_reports_without_personal_data(
    store: Store,
    engine: AsyncEngine,
    clock: FakeClock,
    cli_env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = clock()
    closed = await _add(store, 1, State.CLOSED, now)
    live = await _add(store, 2, State.ROUTED, now, reporter=Reporter(NAME, "+62 812 0000 1234"))
    other = Reporter("Budi Santoso", "budi@contoh.id")
    quoting = await _add(
        store,
        3,
        State.REVIEW,
        now,
        reporter=other,
        text="Tetangga saya (62812-0000-1234) juga terdampak, rumah Budi Santoso di RT 02.",
    )
    unrelated = await _add(
        store, 4, State.CLOSED, now, reporter=Reporter("Ani", "0813-1111-2222"), text="banjir"
    )

    code, dry = await asyncio.to_thread(_forget, capsys, "--contact", "081200001234", "--dry-run")

    assert code == 0, dry
    assert f"anonymised: 2 ({closed}, {live})" in dry and f"masked there: 1 ({quoting})" in dry
    assert "dry run" in dry and "raw_inputs: 6" in dry
    for value in ("0812", "1234", "+62", "Siti", "siti@"):
        assert value not in dry
    assert (await _row(engine, closed))["reporter_contact"] == PHONE
    assert await _audit(engine) == []

    code, out = await asyncio.to_thread(_forget, capsys, "--contact", "081200001234")

    assert code == 0 and out == dry.replace(" — dry run, nothing changed", "")
    _assert_anonymised(await _row(engine, closed))
    _assert_anonymised(await _row(engine, live))
    mentioned = await _row(engine, quoting)
    assert mentioned["reporter_contact"] == "budi@contoh.id"  # their reporter stays
    assert mentioned["text"].startswith("Tetangga saya ([telepon]) juga")
    assert "Budi Santoso" in mentioned["text"] and mentioned["raws"] == [b"", b""]
    assert (await _row(engine, unrelated))["reporter_contact"] == "0813-1111-2222"
    audit = await _audit(engine)
    assert [(a["action"], a["complaint_id"]) for a in audit] == [
        ("anonymise", closed),
        ("anonymise", live),
        ("forget-mention", quoting),
        ("forget", None),
    ]
    assert all(a["actor"].startswith("forget") for a in audit)
    summary = audit[-1]["detail"]
    assert summary["contact_kind"] == "phone" and summary["complaints"] == 2
    assert "1234" not in json.dumps([a["detail"] for a in audit])

    # Asked again: nothing left to find.
    code, again = await asyncio.to_thread(_forget, capsys, "--contact", "+6281200001234")
    assert code == 0 and "anonymised: 0 (none)" in again and "masked there: 0" in again


async def test_forget_by_email_and_by_x_handle(
    store: Store,
    engine: AsyncEngine,
    clock: FakeClock,
    cli_env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    by_mail = await _add(store, 1, State.EXPORTED, clock(), reporter=Reporter(NAME, EMAIL))
    on_x = await _add(
        store,
        2,
        State.CLOSED,
        clock(),
        channel="x",
        reporter=Reporter(NAME, "@siti_sby"),
        text="@siti_sby: jalan berlubang, @PemkotContoh",
    )

    code, out = await asyncio.to_thread(_forget, capsys, "--contact", "SITI@contoh.id")
    assert code == 0 and f"anonymised: 1 ({by_mail})" in out and "e-mail" in out
    _assert_anonymised(await _row(engine, by_mail))

    code, out = await asyncio.to_thread(_forget, capsys, "--contact", "siti_sby")
    assert code == 0 and f"anonymised: 1 ({on_x})" in out and "X handle" in out
    row = await _row(engine, on_x)
    assert row["reporter_contact"] is None
    assert row["text"] == "[akun]: jalan berlubang, @PemkotContoh"


async def test_forget_refuses_what_is_no_contact(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = await asyncio.to_thread(_forget, capsys, "--contact", "12")
    assert code == 2 and "not a phone number" in out
    code, out = await asyncio.to_thread(_forget, capsys)
    assert code == 2


def test_retention_settings_read_durations() -> None:
    settings = load_settings(retention={"anonymise_after": "90d", "interval": "15m"})
    assert settings.retention.anonymise_after == timedelta(days=90)
    assert settings.retention.interval == timedelta(minutes=15)
    assert load_settings().retention.anonymise_after == timedelta(days=365)
    with pytest.raises(Exception, match="retention"):
        load_settings(retention={"anonymise_after": "0d"})
