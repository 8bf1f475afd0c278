"""The review desk's store: accounts, sessions, the queue and decisions, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from muara.domain import State
from muara.review.passwords import check_password, hash_password
from muara.store.repository import Store
from muara.store.review import ConflictError, DeniedError, InvalidDecisionError, ReviewDesk
from muara.store.review_accounts import Accounts, Role, UnknownUserError, User, UserExistsError
from muara.store.review_queue import QueueFilter, ReviewQueue
from muara.store.review_tables import audit_log
from muara.store.tables import complaints, decisions, state_history
from muara.testing import FakeClock
from tests.review_helpers import suggestion, to_review, waiting

EVERYONE = User(1, "siti", Role.COORDINATOR, None)
DLH_ONLY = User(2, "dewi", Role.COORDINATOR, frozenset({"DLH"}))


async def test_accounts_lock_out_and_unlock(store: Store, clock: FakeClock) -> None:
    accounts = Accounts(store.engine, clock=clock)
    user = await accounts.add("siti", hash_password("kata-sandi-panjang"), Role.ADMIN)
    with pytest.raises(UserExistsError):
        await accounts.add("siti", hash_password("kata-sandi-lain-1"))
    lock = timedelta(minutes=15)
    assert [await accounts.login_failed(user.id, limit=3, lock_for=lock) for _ in range(3)] == [
        False,
        False,
        True,
    ]
    record = await accounts.login_record("siti")
    assert record is not None and record.locked_until == clock() + lock
    assert await check_password(record.password_hash, "kata-sandi-panjang")
    assert not await check_password(record.password_hash, "salah")
    # A reset lifts the lock; a good login clears the count of failures.
    await accounts.set_password("siti", hash_password("kata-sandi-baru-1"))
    record = await accounts.login_record("siti")
    assert record is not None and record.locked_until is None
    with pytest.raises(UnknownUserError):
        await accounts.set_disabled("nobody", True)


async def test_sessions_expire_go_idle_and_end_with_the_account(
    store: Store, clock: FakeClock
) -> None:
    accounts = Accounts(store.engine, clock=clock)
    user = await accounts.add("siti", hash_password("kata-sandi-panjang"))
    idle = timedelta(minutes=30)
    token, csrf = await accounts.open_session(user.id, timedelta(hours=8))
    found = await accounts.session(token, idle)
    assert found is not None and (found.user.username, found.csrf_token) == ("siti", csrf)
    assert await accounts.session("not-a-token", idle) is None
    clock.advance(20 * 60)
    assert await accounts.session(token, idle) is not None  # use keeps it alive
    clock.advance(31 * 60)
    assert await accounts.session(token, idle) is None  # idle too long
    token, _ = await accounts.open_session(user.id, timedelta(hours=1))
    clock.advance(3601)
    assert await accounts.session(token, timedelta(hours=2)) is None  # past its lifetime
    token, _ = await accounts.open_session(user.id, timedelta(hours=1))
    await accounts.set_disabled("siti", True)
    assert await accounts.session(token, idle) is None
    await accounts.set_disabled("siti", False)
    token, _ = await accounts.open_session(user.id, timedelta(hours=1))
    await accounts.close_session(token)
    assert await accounts.session(token, idle) is None


async def test_the_queue_is_oldest_first_filtered_paged_and_limited_to_agencies(
    store: Store, clock: FakeClock
) -> None:
    ids = await to_review(
        store,
        [(c, suggestion("DLH")) for c in waiting(5, minutes_apart=60)]
        + [(c, suggestion("PDAM")) for c in waiting(3, channel="email", prefix="e")]
        + [(c, None) for c in waiting(1, prefix="n")],
    )
    queue = ReviewQueue(store.engine, clock=clock)
    page = await queue.page(EVERYONE, QueueFilter(per_page=4))
    assert page.total == 9 and page.pages == 3
    assert [item.received_at for item in page.items] == sorted(
        item.received_at for item in page.items
    )
    second = await queue.page(EVERYONE, QueueFilter(page=3, per_page=4))
    assert [item.id for item in second.items] == [ids[4]]  # the newest
    by_channel = await queue.page(EVERYONE, QueueFilter(channel="email"))
    assert {item.id for item in by_channel.items} == set(ids[5:8])
    by_agency = await queue.page(EVERYONE, QueueFilter(agency="PDAM"))
    assert {item.id for item in by_agency.items} == set(ids[5:8])
    mine = await queue.page(DLH_ONLY, QueueFilter())
    assert {item.id for item in mine.items} == set(ids[:5])
    assert mine.items[0].suggestion is not None and mine.items[0].suggestion.agency == "DLH"
    assert await queue.channels() == ["callcenter", "email"]
    assert await queue.next_id(DLH_ONLY) == ids[0]
    assert await queue.next_id(DLH_ONLY, after=ids[0]) == ids[1]
    size, oldest = await queue.stats()
    assert size == 9 and oldest == waiting(1)[0].received_at
    found = await queue.complaint(ids[5])
    assert found is not None and found[1] == "PDAM"
    assert found[0].suggestion is not None and len(found[0].suggestion.top) == 3


async def test_decisions_check_the_state_record_and_audit(store: Store, clock: FakeClock) -> None:
    first, second, third, fourth = await to_review(
        store, [(c, suggestion("DLH", 0.6)) for c in waiting(4)]
    )
    desk = ReviewDesk(store.engine, clock=clock)
    decided = await desk.route(EVERYONE, first, "DPUBM", "jalan rusak", "127.0.0.1")
    assert (decided.agency, decided.suggested) == ("DPUBM", "DLH")
    with pytest.raises(ConflictError):  # decided already: nobody decides it twice
        await desk.route(EVERYONE, first, "DLH")
    await desk.mark_duplicate(EVERYONE, third, second)
    # A duplicate of a duplicate is linked to the original, and so are its own duplicates.
    await desk.mark_duplicate(EVERYONE, second, fourth)
    with pytest.raises(InvalidDecisionError):
        await desk.mark_duplicate(EVERYONE, fourth, fourth)
    with pytest.raises(InvalidDecisionError):
        await desk.discard(EVERYONE, fourth, " ")
    await desk.discard(EVERYONE, fourth, "iklan, bukan aduan")
    async with store.engine.connect() as conn:
        rows = {
            cid: (state, agency, of)
            for cid, state, agency, of in await conn.execute(
                select(
                    complaints.c.id,
                    complaints.c.state,
                    complaints.c.agency,
                    complaints.c.duplicate_of_id,
                )
            )
        }
        decided_rows = (
            await conn.execute(
                select(decisions.c.complaint_id, decisions.c.mode, decisions.c.decided_by)
                .where(decisions.c.mode == "coordinator")
                .order_by(decisions.c.id)
            )
        ).all()
        history = (
            await conn.execute(
                select(state_history.c.to_state, state_history.c.actor).where(
                    state_history.c.complaint_id == first
                )
            )
        ).all()
        audited = (await conn.execute(select(audit_log.c.action, audit_log.c.address))).all()
    assert rows[first] == ("ROUTED", "DPUBM", None)
    # Discarding the original must not strand its repeats: the earliest comes back to review
    # and the others now repeat it.
    assert rows[second] == ("REVIEW", None, None)
    assert rows[third] == ("DUPLICATE", None, second)
    assert rows[fourth] == ("DISCARDED", None, None)
    assert [tuple(r) for r in decided_rows] == [
        (cid, "coordinator", "coordinator:siti") for cid in (first, third, second, fourth)
    ]
    assert ("ROUTED", "coordinator:siti") in [tuple(h) for h in history]
    assert [a for a, _ in audited] == ["route", "duplicate", "duplicate", "discard", "reopen"]
    assert audited[0][1] == "127.0.0.1"


async def test_access_is_limited_to_the_coordinators_agencies(
    store: Store, clock: FakeClock
) -> None:
    dlh, pdam, nothing = await to_review(
        store,
        [
            (waiting(1)[0], suggestion("DLH")),
            (waiting(1, prefix="p")[0], suggestion("PDAM")),
            (waiting(1, prefix="n")[0], None),
        ],
    )
    desk = ReviewDesk(store.engine, clock=clock)
    with pytest.raises(DeniedError):
        await desk.accept_one(DLH_ONLY, pdam)
    with pytest.raises(DeniedError):
        await desk.discard(DLH_ONLY, nothing, "tidak jelas")
    with pytest.raises(DeniedError):  # nor linked to a complaint they may not see
        await desk.mark_duplicate(DLH_ONLY, dlh, pdam)
    done, skipped = await desk.accept(DLH_ONLY, [dlh, pdam, nothing, 999_999])
    assert [d.complaint_id for d in done] == [dlh]
    assert {cid: type(err) for cid, err in skipped.items()} == {
        pdam: DeniedError,
        nothing: DeniedError,
        999_999: ConflictError,
    }
    _, skipped = await desk.accept(EVERYONE, [nothing])
    assert isinstance(skipped[nothing], InvalidDecisionError)  # no suggestion to accept
    assert (await desk.recent_audit())[0]["action"] == "route"


async def test_a_complaint_routed_elsewhere_meanwhile_is_a_conflict(
    store: Store, clock: FakeClock
) -> None:
    [complaint_id] = await to_review(store, [(waiting(1)[0], suggestion("DLH"))])
    desk = ReviewDesk(store.engine, clock=clock)
    await desk.accept_one(EVERYONE, complaint_id)
    with pytest.raises(ConflictError, match="no longer waiting"):
        await desk.accept_one(EVERYONE, complaint_id)
    async with store.engine.connect() as conn:
        state = await conn.scalar(select(complaints.c.state).where(complaints.c.id == complaint_id))
    assert state == State.ROUTED.value
