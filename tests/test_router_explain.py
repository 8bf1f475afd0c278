"""`route --explain` on a real store: thresholds from the registry, failing rules, no text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.classify.fitting import train_model
from muara.classify.model import AgencyModel
from muara.classify.registry import ModelRegistry
from muara.config import load_settings
from muara.domain import Decision, DecisionMode, NewComplaint, Reporter, State, Suggestion
from muara.router.cli import render
from muara.router.configured import ruleset_from
from muara.router.explain import explain
from muara.router.ruleset import RuleSet
from muara.store.records import Change, ComplaintRecord
from muara.store.repository import Store
from muara.testing import FakeClock
from tests.classify_helpers import region_rows

TEXT = "Bapak Sutrisno 0812-9999-0000 bilang website kelurahan mati terus"


@pytest.fixture(scope="module")
def regional() -> AgencyModel:
    """A model with per-agency thresholds (the starter has none)."""
    rows = region_rows()
    return train_model(
        [text for text, _, _, _ in rows],
        [label for _, label, _, _ in rows],
        places=[place for _, _, place, _ in rows],
        received_at=[when for _, _, _, when in rows],
        version="region-1",
    )


async def waiting_with(store: Store, suggestion: Suggestion) -> int:
    """A complaint classified with `suggestion` and sent to review by the threshold."""
    [stored] = await store.store_many(
        [
            (
                NewComplaint(
                    channel="email",
                    source_id="m-1",
                    received_at=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
                    text=TEXT,
                    reporter=Reporter(name="Sutrisno", contact="sutrisno@example.org"),
                ),
                None,
            )
        ]
    )
    await store.claim(State.NEW, owner="t", limit=1, lease_seconds=60)
    await store.apply(
        "t", [Change(stored.id, State.NEW, State.CLASSIFIED, "model", suggestion=suggestion)]
    )
    await store.claim(State.CLASSIFIED, owner="t", limit=1, lease_seconds=60)
    review = Decision(
        State.REVIEW, None, DecisionMode.AUTO, "auto", "confidence 0.50 < threshold 0.80"
    )
    await store.apply(
        "t", [Change(stored.id, State.CLASSIFIED, State.REVIEW, "auto", decision=review)]
    )
    return stored.id


def suggested(version: str) -> Suggestion:
    top = (("DISKOMINFO", 0.5), ("DPUBM", 0.3), ("Kecamatan Kota Lama", 0.1))
    return Suggestion("DISKOMINFO", 0.5, top, version)


async def test_the_thresholds_of_the_registry_model_that_suggested(
    engine: AsyncEngine, store: Store, clock: FakeClock, regional: AgencyModel
) -> None:
    await ModelRegistry(engine, clock).add(regional)
    complaint_id = await waiting_with(store, suggested("region-1"))
    settings = load_settings(router={"auto_route_threshold": 0.8})
    found = await explain(settings, engine, ruleset_from(settings.router), complaint_id)
    assert found is not None
    assert found.thresholds is not None
    per_agency = regional.thresholds(settings.classifier.target_precision)
    assert per_agency is not None and per_agency["DISKOMINFO"] < 0.5
    assert found.thresholds.per_agency == pytest.approx(per_agency["DISKOMINFO"])
    assert found.thresholds.applied == found.thresholds.per_agency
    assert found.thresholds.global_threshold == 0.8
    assert found.thresholds.source == "registry model region-1"
    # The model trusts itself for this agency at 0.5: routing now would send it on.
    assert (found.now.target, found.now.agency, found.now.decided_by) == (
        State.ROUTED,
        "DISKOMINFO",
        "auto",
    )
    assert [(r.decided_by, r.target) for r in found.recorded] == [("auto", "REVIEW")]
    shown = render(found)
    assert "top 3: DISKOMINFO 0.500, DPUBM 0.300, Kecamatan Kota Lama 0.100" in shown
    assert f"per-agency {per_agency['DISKOMINFO']:.2f} (registry model region-1)" in shown
    assert "global 0.80" in shown


class Broken:
    """A rule whose bug quotes the complaint."""

    name = "broken"

    def predicate(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> bool:
        raise KeyError(complaint.text)

    def action(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> Decision:
        raise AssertionError


async def test_an_unknown_model_a_failing_rule_and_no_personal_data(
    engine: AsyncEngine, store: Store
) -> None:
    complaint_id = await waiting_with(store, suggested("gone-7"))
    settings = load_settings(
        router={
            "auto_route_threshold": 0.8,
            "rules": [{"name": "website", "pattern": "website", "route_to": "DISKOMINFO"}],
        }
    )
    configured = ruleset_from(settings.router)
    rules = RuleSet([Broken(), *configured.rules])
    found = await explain(settings, engine, rules, complaint_id)
    assert found is not None
    assert [(c.name, c.fired, c.decides, c.error) for c in found.rules] == [
        ("broken", False, False, "KeyError"),
        ("emergency-112", False, False, None),
        ("website", True, True, None),
    ]
    assert found.thresholds is not None
    assert found.thresholds.source == "model gone-7 not readable (RegistryError)"
    assert found.thresholds.applied == 0.8
    assert found.now.decided_by == "rule:website"
    shown = render(found) + str(found.as_json())
    assert "broken: ERROR KeyError" in shown
    for private in ("Sutrisno", "0812", "example.org", "mati terus"):
        assert private not in shown
    assert await explain(settings, engine, rules, complaint_id + 1000) is None
