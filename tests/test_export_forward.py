"""Re-routing after filing is one forward call; attachments, flags and classification carried."""

from __future__ import annotations

import json
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from muara.domain import Attachment, RawInput, State
from muara.exporters.lapor.faults import FaultKind
from muara.store.lapor_tables import lapor_forwards, lapor_tracking
from muara.store.repository import Store
from muara.store.reroutes import RerouteError, reroute
from muara.testing import FakeClock
from tests.lapor_helpers import INSTITUTIONS, rig, seed_routed


async def tracking(store: Store, complaint_id: int) -> dict[str, object]:
    async with store.engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(lapor_tracking).where(lapor_tracking.c.complaint_id == complaint_id)
                )
            )
            .mappings()
            .one()
        )
        return dict(row)


@pytest.mark.parametrize("lost_answer", [False, True], ids=["answered", "answer lost"])
async def test_rerouting_a_filed_complaint_is_one_forward_call(
    store: Store, clock: FakeClock, lost_answer: bool
) -> None:
    [complaint_id] = await seed_routed(store, 1, agency="DLH")
    async with rig(store, clock) as r:
        await r.drive()
        assert (await r.states())[complaint_id] is State.EXPORTED
        if lost_answer:
            r.sim.state.faults.add(FaultKind.RESET, "forward", after=True)

        was = await reroute(
            store.engine,
            complaint_id,
            "PDAM",
            decided_by="coordinator:rina",
            reason="pipa bocor: PDAM",
            clock=clock,
        )
        assert was is State.EXPORTED
        await r.drive()

        assert r.filings_of(complaint_id) == 1, "never a second filing"
        [forward] = r.sim.state.forwards
        assert (forward.from_institution, forward.to_institution) == (
            INSTITUTIONS["DLH"],
            INSTITUTIONS["PDAM"],
        )
        assert (await r.states())[complaint_id] is State.EXPORTED
        assert (await r.outbox(complaint_id))["institution_id"] == INSTITUTIONS["PDAM"]
        track = await tracking(store, complaint_id)
        assert (track["agency"], track["institution_id"]) == ("PDAM", INSTITUTIONS["PDAM"])
        async with store.engine.connect() as conn:
            [state] = (await conn.execute(select(lapor_forwards.c.state))).scalars()
        assert state == "accepted"
        assert (
            r.metrics.registry.get_sample_value("muara_export_forwards_total", {"target": "lapor"})
            == 1
        )
        # The stage sees it settled: running again calls nothing.
        requests = len(r.sim.state.requests)
        await r.drive()
        assert len(r.sim.state.requests) == requests


async def test_a_refused_forward_holds_the_complaint(store: Store, clock: FakeClock) -> None:
    from muara.exporters.operator import held

    [complaint_id] = await seed_routed(store, 1, agency="DLH")
    async with rig(store, clock) as r:
        await r.drive()
        r.sim.state.faults.add(FaultKind.STATUS, "forward", status=422)
        await reroute(
            store.engine, complaint_id, "PDAM", decided_by="coordinator:x", reason="r", clock=clock
        )
        await r.drive()

        [item] = await held(store.engine)
        assert "refused the forward" in item.reason
        assert r.sim.state.forwards == []
        assert r.filings_of(complaint_id) == 1


async def test_reroute_refuses_what_it_cannot_do(store: Store, clock: FakeClock) -> None:
    [complaint_id] = await seed_routed(store, 1, agency="DLH")
    with pytest.raises(RerouteError, match="already"):
        await reroute(store.engine, complaint_id, "DLH", decided_by="c", reason="r", clock=clock)
    with pytest.raises(RerouteError, match="does not exist"):
        await reroute(store.engine, 999, "DLH", decided_by="c", reason="r", clock=clock)
    await store.claim(State.ROUTED, owner="w", limit=1, lease_seconds=60)
    with pytest.raises(RerouteError, match="worked on"):
        await reroute(store.engine, complaint_id, "PDAM", decided_by="c", reason="r", clock=clock)


def email_with_attachment() -> bytes:
    message = EmailMessage()
    message["From"] = "warga@example.org"
    message["Subject"] = "Sampah"
    message.set_content("Sampah menumpuk")
    message.add_attachment(b"\xff\xd8photo", maintype="image", subtype="jpeg", filename="foto.jpg")
    message.add_attachment(b"big" * 10, maintype="image", subtype="png", filename="besar.png")
    return bytes(message)


async def test_attachments_flags_and_classification_are_carried(
    store: Store, clock: FakeClock
) -> None:
    raw = RawInput("email", "imap:1", email_with_attachment(), "message/rfc822")
    [complaint_id] = await seed_routed(
        store,
        1,
        raws=[raw],
        extra={"classification": "information request"},
        attachments=(
            Attachment("foto.jpg", "image/jpeg", 8),
            Attachment("besar.png", "image/png", 30),
            Attachment("virus.exe", "application/x-msdownload", 5, dropped_reason="type"),
        ),
    )
    async with rig(store, clock, attachment_max_bytes=20) as r:
        await r.drive()

        [filing] = r.sim.state.filings
        ids = json.loads(filing.body["attachments"])
        assert [r.sim.state.documents[i].filename for i in ids] == ["foto.jpg"]
        assert filing.body["classification_id"] == 3
        assert (await r.outbox(complaint_id))["attachment_ids"] == ids
        track = await tracking(store, complaint_id)
        assert track["classification"] == "information_request"


async def test_a_failed_upload_is_retried_and_never_files_twice(
    store: Store, clock: FakeClock
) -> None:
    raw = RawInput("email", "imap:2", email_with_attachment(), "message/rfc822")
    [complaint_id] = await seed_routed(
        store, 1, raws=[raw], attachments=(Attachment("foto.jpg", "image/jpeg", 8),)
    )
    async with rig(store, clock) as r:
        r.sim.state.faults.add(FaultKind.STATUS, "upload", status=503)
        r.sim.state.faults.add(FaultKind.RESET, "file", after=True)
        await r.drive()

        assert r.filings_of(complaint_id) == 1
        assert len(r.sim.state.documents) == 1
        assert (await r.states())[complaint_id] is State.EXPORTED
