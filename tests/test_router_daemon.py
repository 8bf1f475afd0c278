"""Configured routing rules in the running daemon, and `muara route --explain` on its store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.cli import main
from muara.config import ConfigError
from muara.store.engine import create_engine
from muara.store.tables import complaints, decisions
from tests.test_daemon import daemon_settings, eventually, run_daemon

HEADER = "call_id,started_at,caller_name,caller_number,category,summary,district,subdistrict\n"
ROWS = [
    "w-1,2026-11-20T08:15:00+07:00,Budi Santoso,0812-0000-1001,air,"
    "AIR MATI sejak kemarin pagi di gang lima,Gubeng,",
    "k-1,2026-11-20T09:00:00+07:00,Ani Lestari,0812-0000-1002,kependudukan,"
    "petugas minta pungli waktu urus KTP di kantor,Wonokromo,",
    "o-1,2026-11-20T10:30:00+07:00,Joko,0812-0000-1003,jalan,"
    "jalan berlubang besar di depan pasar mohon segera diperbaiki,Tegalsari,",
]
RULES: list[dict[str, Any]] = [
    {
        "name": "corruption",
        "description": "mentions corruption",
        "pattern": "korupsi|pungli|suap",
        "review": True,
    },
    {"name": "water", "pattern": "PDAM|air mati", "route_to": "PDAM"},
]


async def decided(engine: AsyncEngine) -> dict[str, tuple[str, str, str | None, str]]:
    """source id -> (decided by, target state, agency, reason) of the router's decision."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                complaints.c.source_id,
                decisions.c.decided_by,
                decisions.c.target_state,
                decisions.c.agency,
                decisions.c.reason,
            ).join(complaints, complaints.c.id == decisions.c.complaint_id)
        )
        return {source: (by, target, agency, reason) for source, by, target, agency, reason in rows}


def toml(store_url: str, tmp_path: Path) -> Path:
    """The same store and rules as a config file, for the command line."""
    lines = [
        f'data_dir = "{(tmp_path / "data").as_posix()}"',
        "[store]",
        f'url = "{store_url}"',
        "[router]",
        "auto_route_threshold = 0.0",
    ]
    for rule in RULES:
        lines.append("[[router.rules]]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in rule.items())
    path = tmp_path / "muara.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_configured_rules_route_and_hold_back_and_explain_says_why(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = daemon_settings(
        store_url, tmp_path, router={"auto_route_threshold": 0.0, "rules": RULES}
    )
    engine = create_engine(store_url)
    try:
        async with run_daemon(settings) as daemon:
            inbox = tmp_path / "spool" / "inbox"
            inbox.mkdir(parents=True, exist_ok=True)
            (inbox / "calls.csv").write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")

            async def all_decided() -> bool:
                return len(await decided(engine)) == len(ROWS)

            await eventually(all_decided)
            found = await decided(engine)
            matches = daemon.metrics.registry.get_sample_value
            assert matches("muara_router_rule_matches_total", {"rule": "water"}) == 1
            assert matches("muara_router_rule_matches_total", {"rule": "corruption"}) == 1
        async with engine.connect() as conn:
            ids = dict((await conn.execute(select(complaints.c.source_id, complaints.c.id))).all())
            states = dict(
                (await conn.execute(select(complaints.c.source_id, complaints.c.state))).all()
            )
    finally:
        await engine.dispose()
    # The keyword rule routed the water complaint, whatever the classifier thought.
    assert found["w-1"] == (
        "rule:water",
        "ROUTED",
        "PDAM",
        "route to PDAM; matched pattern /PDAM|air mati/",
    )
    # The never-auto-route rule held one back although the threshold (0.0) routes anything.
    assert found["k-1"] == (
        "rule:corruption",
        "REVIEW",
        None,
        "never auto-route: a coordinator decides (mentions corruption); "
        "matched pattern /korupsi|pungli|suap/",
    )
    assert states["k-1"] == "REVIEW"
    assert found["o-1"][0] == "auto" and found["o-1"][1] == "ROUTED"

    config = toml(store_url, tmp_path)
    code = await asyncio.to_thread(
        main, ["--config", str(config), "route", "--explain", str(ids["k-1"])]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"complaint #{ids['k-1']}: channel callcenter, state REVIEW" in out
    assert "emergency-112: no match" in out
    assert (
        "corruption: FIRES, decides - never auto-route: a coordinator decides "
        "(mentions corruption); matched pattern /korupsi|pungli|suap/"
    ) in out
    assert "water: no match" in out
    assert "classifier (starter-" in out and "top 3: " in out
    assert (
        "per-agency none (starter model (no per-agency thresholds)), global 0.00; applied 0.00"
        in out
    )
    assert "decision now: REVIEW by rule:corruption" in out
    assert "REVIEW by rule:corruption: never auto-route" in out
    # Nothing the citizen wrote or who they are.
    for private in ("pungli waktu", "Ani", "0812", "KTP"):
        assert private not in out

    code = await asyncio.to_thread(
        main, ["--config", str(config), "route", "--explain", str(ids["w-1"]), "--json"]
    )
    explained = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(r["name"], r["fired"], r["decides"]) for r in explained["rules"]] == [
        ("emergency-112", False, False),
        ("corruption", False, False),
        ("water", True, True),
    ]
    assert len(explained["suggestion"]["top"]) == 3
    assert explained["thresholds"]["applied"] == 0.0
    assert explained["decision_now"]["decided_by"] == "rule:water"
    assert [(d["decided_by"], d["target"], d["agency"]) for d in explained["recorded"]] == [
        ("rule:water", "ROUTED", "PDAM")
    ]
    assert "AIR MATI" not in json.dumps(explained) and "Budi" not in json.dumps(explained)

    code = await asyncio.to_thread(main, ["--config", str(config), "route", "--explain", "999999"])
    assert code == 1
    assert "no complaint #999999" in capsys.readouterr().err


async def test_a_rule_naming_an_unknown_agency_stops_the_start(
    store_url: str, tmp_path: Path
) -> None:
    rules = [{"name": "typo", "pattern": "air mati", "route_to": "PDMA"}]
    settings = daemon_settings(store_url, tmp_path, router={"rules": rules})
    with pytest.raises(ConfigError, match=r"router.rules\[0\] \(typo\): route_to 'PDMA'"):
        async with run_daemon(settings):
            pass
