"""The other v3 calls of the client, over real HTTP against the simulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from muara.exporters.lapor.client import LaporClient
from muara.exporters.lapor.errors import LaporOutcomeUnknown, LaporRejected, LaporUnavailable
from muara.exporters.lapor.faults import FaultKind
from muara.exporters.lapor.models import AttachmentFile, LookupHit
from muara.exporters.lapor.payload import FilingInput, build_filing_body
from muara.exporters.lapor.simulator import (
    SimulatorServer,
    SimulatorState,
    default_institutions,
)
from muara.exporters.settings import LaporSettings

TOKEN, KEY = "tok-calls", "key-calls"
AGENCIES = {"DLH": "Dinas Lingkungan Hidup", "PDAM": "Perusahaan Daerah Air Minum"}


def settings(url: str, **changes: Any) -> LaporSettings:
    return LaporSettings(
        base_url=url, token=SecretStr(TOKEN), key=SecretStr(KEY), timeout_seconds=5, **changes
    )


def body(institution: int, reference: str, attachments: list[int] | None = None) -> dict[str, Any]:
    item = FilingInput(
        complaint_id=1,
        title="Sampah",
        content="Sampah menumpuk di depan pasar",
        institution_id=institution,
        is_anonymous=True,
        is_secret=False,
        date_of_incident=None,
        reference=reference,
        attachment_ids=tuple(attachments or ()),
    )
    return build_filing_body(item, settings("http://unused"))


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer(
        SimulatorState(default_institutions(AGENCIES)), token=TOKEN, key=KEY
    ) as server:
        yield server


@pytest.fixture
async def client(sim: SimulatorServer) -> AsyncIterator[LaporClient]:
    async with aiohttp.ClientSession() as session:
        yield LaporClient(settings(sim.url), session)


async def test_attachments_are_uploaded_then_named_in_the_filing(
    sim: SimulatorServer, client: LaporClient
) -> None:
    files = [
        AttachmentFile("foto.jpg", "image/jpeg", b"\xff\xd8jpeg"),
        AttachmentFile("surat.pdf", "application/pdf", b"%PDF-1.4"),
    ]
    ids = await client.upload_attachments(files)
    await client.file_complaint(body(sim.state.institutions[0].id, "MUARA-1", ids))

    assert [sim.state.documents[i].filename for i in ids] == ["foto.jpg", "surat.pdf"]
    assert sim.state.documents[ids[0]].size == 6
    [filing] = sim.state.filings
    assert json.loads(filing.body["attachments"]) == ids
    assert filing.body["is_anonymous"] == 1


async def test_a_filing_naming_unknown_attachments_is_rejected(
    sim: SimulatorServer, client: LaporClient
) -> None:
    with pytest.raises(LaporRejected, match="attachments"):
        await client.file_complaint(body(sim.state.institutions[0].id, "MUARA-1", [99]))
    assert sim.state.filings == []


async def test_lookup_finds_exactly_our_tag(sim: SimulatorServer, client: LaporClient) -> None:
    target = sim.state.institutions[1].id
    one = await client.file_complaint(body(target, "MUARA-1"))
    await client.file_complaint(body(target, "MUARA-10"))  # the search matches it too

    assert await client.find_by_reference("MUARA-1") == [LookupHit(one, target)]
    assert await client.find_by_reference("MUARA-2") == []
    [seen] = [r for r in sim.state.requests if r.path == "/complaints/search"][:1]
    assert seen.headers["token"] == KEY


async def test_lookup_path_is_configurable_and_a_missing_one_is_rejected(
    sim: SimulatorServer,
) -> None:
    async with aiohttp.ClientSession() as session:
        client = LaporClient(settings(sim.url, lookup_path="/complaints/find"), session)
        with pytest.raises(LaporRejected) as caught:
            await client.find_by_reference("MUARA-1")
    assert caught.value.status == 404
    assert sim.state.requests[-1].path == "/complaints/find"


async def test_forward_moves_the_complaint_and_shows_in_its_detail(
    sim: SimulatorServer, client: LaporClient
) -> None:
    first, second = (inst.id for inst in sim.state.institutions)
    lapor_id = await client.file_complaint(body(first, "MUARA-5"))

    await client.forward(lapor_id, second, "Bukan kewenangan kami")

    [forward] = sim.state.forwards
    assert (forward.from_institution, forward.to_institution) == (first, second)
    detail = await client.complaint_status(lapor_id)
    assert detail["disposition_id"] == second
    with pytest.raises(LaporRejected):  # already there
        await client.forward(lapor_id, second, "lagi")
    assert len(sim.state.forwards) == 1


async def test_followups_added_and_read_back(sim: SimulatorServer, client: LaporClient) -> None:
    institution = sim.state.institutions[0].id
    lapor_id = await client.file_complaint(body(institution, "MUARA-6"))
    sim.state.add_followup(int(lapor_id), "Sudah kami tangani", institution)

    await client.add_followup(
        {"complaint_id": lapor_id, "content": "Terima kasih", "institution_from_id": institution}
    )
    rows = await client.followups(lapor_id)

    assert [row["content"] for row in rows] == ["Sudah kami tangani", "Terima kasih"]
    assert all(len(row["created_at"]) == len("24-11-2026 09:00:00") for row in rows)


async def test_templates(client: LaporClient) -> None:
    templates = await client.list_templates()
    assert templates and templates[0]["code"] == "T01"


async def test_a_forward_whose_answer_is_lost_is_outcome_unknown(
    sim: SimulatorServer, client: LaporClient
) -> None:
    first, second = (inst.id for inst in sim.state.institutions)
    lapor_id = await client.file_complaint(body(first, "MUARA-7"))
    sim.state.faults.add(FaultKind.RESET, "forward", after=True)

    with pytest.raises(LaporOutcomeUnknown):
        await client.forward(lapor_id, second, "Bukan kewenangan kami")
    assert sim.state.disposition(int(lapor_id)) == second


async def test_a_failed_upload_is_retryable(sim: SimulatorServer, client: LaporClient) -> None:
    sim.state.faults.add(FaultKind.RESET, "upload")
    with pytest.raises(LaporUnavailable):
        await client.upload_attachments([AttachmentFile("a.txt", "text/plain", b"x")])
