"""The `[classifier]` section: which model names the responsible agency."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from muara.section import Section


class ClassifierSettings(Section):
    """Which model names the responsible agency."""

    model_path: Path | None = Field(
        None,
        description="A model file saved by `muara train --out`; set, it is used and the store's "
        "registry is not; default: the registry's active model, else the bundled starter model",
    )
    target_precision: float = Field(
        0.95,
        gt=0,
        le=1,
        description="Auto-route only where held-out precision reached this (per-agency thresholds)",
    )
    gazetteer_path: Path | None = Field(
        None,
        description="CSV `district,subdistrict` of the region, to resolve the local office "
        "from place names; default: none (only the channel's location metadata is used)",
    )
    registry_poll_seconds: float = Field(
        30.0, gt=0, description="How often the daemon checks the registry for a new active model"
    )
    relevance_threshold: float = Field(
        0.3,
        gt=0,
        lt=1,
        description="An X post is kept as a complaint when the relevance model gives it at least "
        "this probability of being one; lower keeps more (in doubt, keep)",
    )
    relevance_model_path: Path | None = Field(
        None,
        description="A relevance model saved by `muara train-relevance --out`; default: "
        "<data_dir>/models/relevance.skops when trained, else the bundled seed model",
    )
    correction_weight: float = Field(
        5.0,
        ge=1,
        description="`muara train --from-store`: how many history examples a coordinator's "
        "decision counts for",
    )
