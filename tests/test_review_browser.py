"""The review desk in a real browser: Debian's Chromium driven by Playwright, on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from muara.store.repository import Store
from muara.store.review_accounts import Role
from muara.store.review_tables import audit_log
from muara.store.tables import complaints, decisions
from muara.testing import FakeClock
from tests.review_helpers import (
    ARTIFACTS,
    PASSWORD,
    Desk,
    chromium,
    serve_desk,
    suggestion,
    to_review,
    waiting,
)


@pytest.fixture
async def desk(store: Store, clock: FakeClock) -> AsyncIterator[Desk]:
    async with serve_desk(store, clock) as served:
        yield served


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    yield opened
    await context.close()


async def log_in(page: Page, desk: Desk, username: str, password: str = PASSWORD) -> None:
    await page.goto(desk.url)
    await expect(page.locator("#login-form")).to_be_visible()
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login")
    await page.wait_for_load_state()


async def row(store: Store, complaint_id: int) -> dict[str, object]:
    async with store.engine.connect() as conn:
        found = (
            (await conn.execute(select(complaints).where(complaints.c.id == complaint_id)))
            .mappings()
            .one()
        )
        return dict(found)


async def audit_actions(store: Store) -> list[tuple[str, str, int | None]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.complaint_id).order_by(
                audit_log.c.id
            )
        )
        return [(actor, action, cid) for actor, action, cid in rows]


async def test_log_in_reveal_and_accept_with_screenshots(
    desk: Desk, store: Store, page: Page, request: pytest.FixtureRequest
) -> None:
    ids = await to_review(
        store,
        [(c, suggestion("DLH", 0.62)) for c in waiting(3)]
        + [(c, suggestion("PDAM", 0.48)) for c in waiting(2, "Air PDAM mati", prefix="p")],
    )
    await desk.user("siti")
    await log_in(page, desk, "siti")
    await expect(page.locator("#total")).to_have_text("5 aduan")
    # Oldest first: the order they were received in.
    listed = await page.locator("#queue tbody tr").evaluate_all(
        "rows => rows.map(r => Number(r.dataset.id))"
    )
    assert listed == [ids[0], ids[3], ids[1], ids[4], ids[2]]
    ARTIFACTS.mkdir(exist_ok=True)
    name = request.node.name.replace("[", "-").rstrip("]")
    await page.screenshot(path=str(ARTIFACTS / f"queue-{name}.png"), full_page=True)

    await page.click(f"#queue tbody tr[data-id='{ids[0]}'] a")
    await expect(page.locator("#suggestion")).to_contain_text("DLH")
    await expect(page.locator("#top3 tr")).to_have_count(4)  # header + top 3
    # The reporter stays masked until asked for, and asking is audited.
    await expect(page.locator("#reporter-contact")).to_have_text("****-****-*890")
    await expect(page.locator("#reporter-name")).to_have_text("B*** S***")
    await page.screenshot(path=str(ARTIFACTS / f"complaint-{name}.png"), full_page=True)
    await page.click("#reveal")
    await expect(page.locator("#reporter-contact")).to_have_text("0812-3456-7890")

    await page.click("#accept")
    await expect(page.locator("#notice")).to_contain_text(f"Aduan #{ids[0]} diteruskan ke DLH")
    # On to the next oldest complaint at once.
    assert page.url.split("?")[0].endswith(f"/complaints/{ids[3]}")
    routed = await row(store, ids[0])
    assert (routed["state"], routed["agency"]) == ("ROUTED", "DLH")
    async with store.engine.connect() as conn:
        decided = (
            await conn.execute(
                select(decisions.c.mode, decisions.c.decided_by, decisions.c.agency).where(
                    decisions.c.complaint_id == ids[0], decisions.c.target_state == "ROUTED"
                )
            )
        ).one()
    assert tuple(decided) == ("coordinator", "coordinator:siti", "DLH")
    assert await audit_actions(store) == [
        ("coordinator:siti", "login", None),
        ("coordinator:siti", "reveal", ids[0]),
        ("coordinator:siti", "route", ids[0]),
    ]
    registry = desk.metrics.registry
    assert (
        registry.get_sample_value(
            "muara_router_decisions_total", {"mode": "coordinator", "state": "ROUTED"}
        )
        == 1
    )
    assert registry.get_sample_value("muara_review_suggestions_total", {"outcome": "agreed"}) == 1


async def test_override_with_the_keyboard_and_the_searchable_list(
    desk: Desk, store: Store, page: Page
) -> None:
    [first, _] = await to_review(store, [(c, suggestion("DLH")) for c in waiting(2)])
    await desk.user("siti")
    await log_in(page, desk, "siti")
    await page.goto(f"{desk.url}complaints/{first}")
    await page.keyboard.press("r")  # focuses "another agency"
    await expect(page.locator("#route-agency")).to_be_focused()
    await page.keyboard.type("DPUBM")
    await page.fill("#route-note", "jalan, bukan sampah")
    await page.keyboard.press("Enter")
    await expect(page.locator("#notice")).to_contain_text(f"Aduan #{first} diteruskan ke DPUBM")
    assert (await row(store, first))["agency"] == "DPUBM"
    assert (
        desk.metrics.registry.get_sample_value(
            "muara_review_suggestions_total", {"outcome": "overridden"}
        )
        == 1
    )
    # An agency nobody knows is refused, and the complaint stays where it was.
    [other] = await to_review(store, [(c, suggestion("DLH")) for c in waiting(1, prefix="o")])
    await page.goto(f"{desk.url}complaints/{other}")
    await page.fill("#route-agency", "DINAS-FIKTIF")
    await page.click("#route")
    await expect(page.locator("#error")).to_contain_text("tidak dikenal")
    assert (await row(store, other))["state"] == "REVIEW"


async def test_mark_duplicate_and_discard(desk: Desk, store: Store, page: Page) -> None:
    original, repeat, spam = await to_review(store, [(c, suggestion("DLH")) for c in waiting(3)])
    await desk.user("siti")
    await log_in(page, desk, "siti")
    await page.goto(f"{desk.url}complaints/{repeat}")
    await page.keyboard.press("d")
    await page.keyboard.type(f"#{original}")
    await page.keyboard.press("Enter")
    await expect(page.locator("#notice")).to_contain_text(
        f"Aduan #{repeat} ditandai duplikat dari #{original}"
    )
    linked = await row(store, repeat)
    assert (linked["state"], linked["duplicate_of_id"]) == ("DUPLICATE", original)
    await page.goto(f"{desk.url}complaints/{original}")
    await expect(page.locator("#duplicates")).to_contain_text(f"#{repeat}")

    await page.goto(f"{desk.url}complaints/{spam}")
    await page.keyboard.press("x")
    await page.keyboard.type("uji coba dari petugas, bukan aduan")
    await page.keyboard.press("Enter")
    await expect(page.locator("#notice")).to_contain_text(f"Aduan #{spam} dibuang")
    discarded = await row(store, spam)
    assert (discarded["state"], discarded["discard_reason"]) == (
        "DISCARDED",
        "uji coba dari petugas, bukan aduan",
    )


async def test_bulk_accept_a_selection(desk: Desk, store: Store, page: Page) -> None:
    ids = await to_review(
        store,
        [(c, suggestion("DLH")) for c in waiting(4)]
        + [(c, None) for c in waiting(1, prefix="n", start=waiting(9)[8].received_at)],
    )
    await desk.user("siti")
    await log_in(page, desk, "siti")
    await expect(page.locator("#total")).to_have_text("5 aduan")
    # j/x pick the first two, then the header box picks them all: one has no suggestion.
    await page.keyboard.press("j")
    await page.keyboard.press("x")
    await page.keyboard.press("j")
    await page.keyboard.press("x")
    assert await page.locator("input[name=ids]:checked").count() == 2
    await page.keyboard.press("Shift+X")
    assert await page.locator("input[name=ids]:checked").count() == 5
    await page.keyboard.press("Shift+A")
    await expect(page.locator("#notice")).to_contain_text("4 aduan diteruskan sesuai saran")
    await expect(page.locator("#notice")).to_contain_text("1 dilewati")
    states = [(await row(store, i))["state"] for i in ids]
    assert states == ["ROUTED"] * 4 + ["REVIEW"]
    await expect(page.locator("#total")).to_have_text("1 aduan")


async def test_a_form_with_a_wrong_csrf_token_is_refused(
    desk: Desk, store: Store, page: Page
) -> None:
    [complaint_id] = await to_review(store, [(c, suggestion("DLH")) for c in waiting(1)])
    await desk.user("siti")
    await log_in(page, desk, "siti")
    await page.goto(f"{desk.url}complaints/{complaint_id}")
    await page.locator("#accept-form input[name=csrf]").evaluate("e => e.value = 'forged'")
    async with page.expect_response(lambda r: r.request.method == "POST") as response_info:
        await page.click("#accept")
    response = await response_info.value
    assert response.status == 403
    await expect(page.locator("body")).to_contain_text("CSRF")
    assert (await row(store, complaint_id))["state"] == "REVIEW"


async def test_lock_out_after_repeated_failed_logins(
    desk: Desk, store: Store, page: Page, clock: FakeClock
) -> None:
    await desk.user("siti")
    for _ in range(5):
        await log_in(page, desk, "siti", "salah-sandi-000")
        await expect(page.locator("#error")).to_contain_text("salah")
    # Locked: even the right password is refused, with the same message.
    await log_in(page, desk, "siti")
    await expect(page.locator("#error")).to_be_visible()
    await expect(page.locator("#login-form")).to_be_visible()
    actions = [action for _, action, _ in await audit_actions(store)]
    assert actions == ["login-failed"] * 4 + ["lockout", "login-locked"]
    clock.advance(16 * 60)
    await log_in(page, desk, "siti")
    await expect(page.locator("#who")).to_contain_text("siti")


async def test_a_coordinator_is_denied_another_agencys_complaint(
    desk: Desk, store: Store, page: Page
) -> None:
    dlh, pdam = await to_review(
        store,
        [
            (waiting(1)[0], suggestion("DLH")),
            (waiting(1, "Air mati", prefix="p")[0], suggestion("PDAM")),
        ],
    )
    await desk.user("dewi", Role.COORDINATOR, {"DLH"})
    await log_in(page, desk, "dewi")
    await expect(page.locator("#total")).to_have_text("1 aduan")
    await expect(page.locator(f"#queue tr[data-id='{pdam}']")).to_have_count(0)
    response = await page.goto(f"{desk.url}complaints/{pdam}")
    assert response is not None and response.status == 403
    # A forged POST with dewi's own valid token is refused as well.
    await page.goto(f"{desk.url}complaints/{dlh}")
    token = await page.locator("#accept-form input[name=csrf]").input_value()
    posted = await page.request.post(
        f"{desk.url}complaints/{pdam}/accept",
        form={"csrf": token},
        headers={"Origin": desk.url.rstrip("/").rsplit("/", 1)[0]},
        max_redirects=0,
    )
    assert posted.status == 403
    assert (await row(store, pdam))["state"] == "REVIEW"
    assert ("coordinator:dewi", "denied", pdam) in await audit_actions(store)
