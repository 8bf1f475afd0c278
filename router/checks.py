"""`muara check-config` for the routing rules: every agency code a rule names must exist."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import SQLAlchemyError

from muara.checks import CheckResult
from muara.classify.errors import ClassifyError
from muara.classify.location import Gazetteer, OfficeDirectory
from muara.classify.model import load_model
from muara.classify.registry import ModelRegistry
from muara.classify.starter import STARTER_AGENCIES, STARTER_LOCAL_OFFICES
from muara.config import Settings
from muara.router.configured import ruleset_from, unknown_agencies
from muara.router.wiring import known_agencies
from muara.store.engine import StoreConfigError, create_engine

NAME = "router.rules"


async def _labels(settings: Settings, gazetteer: Gazetteer | None) -> tuple[set[str], str]:
    """The labels of the model the daemon would start with, and which model that is."""
    path = settings.classifier.model_path
    if path is not None:
        model = (await asyncio.to_thread(load_model, path)).with_gazetteer(gazetteer)
        return {*model.labels, *model.known_offices()}, f"model file {path.name}"
    try:
        engine = create_engine(settings.store_url)
    except StoreConfigError:
        engine = None
    if engine is not None:
        try:
            registry = ModelRegistry(engine)
            version = await registry.active_version()
            if version is not None:
                model = (await registry.load(version)).with_gazetteer(gazetteer)
                return {*model.labels, *model.known_offices()}, f"registry model {version}"
        except (SQLAlchemyError, OSError, ClassifyError):
            pass  # the store check reports an unreachable store; the starter is the fallback
        finally:
            await engine.dispose()
    # The starter model's labels, without training it: its agencies and the region's offices.
    offices = OfficeDirectory().known(gazetteer)
    return {*STARTER_AGENCIES, *STARTER_LOCAL_OFFICES, *offices}, "starter model"


async def check_rules(settings: Settings) -> CheckResult:
    """The rules build, and name only agencies the model or the LAPOR! mapping knows."""
    router = settings.router
    count = len(router.rules) + (1 if router.emergency_rule else 0)
    if not router.rules:
        builtin = " (emergency-112 built in)" if router.emergency_rule else ""
        return CheckResult(NAME, True, f"none configured{builtin}")
    gazetteer = None
    try:
        if (path := settings.classifier.gazetteer_path) is not None:
            gazetteer = await asyncio.to_thread(Gazetteer.load, path)
        ruleset_from(router, gazetteer=lambda: gazetteer)
        labels, source = await _labels(settings, gazetteer)
    except (ClassifyError, ValueError) as err:
        return CheckResult(NAME, False, str(err))
    if problems := unknown_agencies(router, known_agencies(settings, labels)):
        return CheckResult(NAME, False, f"{'; '.join(problems)} (checked against the {source})")
    detail = f"{count} rule(s); agencies checked against the {source}"
    if shadowed := _review_after_route(settings):
        detail += f"; note: {shadowed}"
    return CheckResult(NAME, True, detail)


def _review_after_route(settings: Settings) -> str | None:
    """A never-auto-route rule placed after a routing rule: legal, but often a mistake."""
    routing: str | None = None
    for rule in settings.router.rules:
        if rule.route_to is not None and routing is None:
            routing = rule.name
        elif rule.review and routing is not None:
            return (
                f"review rule {rule.name!r} comes after route_to rule {routing!r}: "
                "a complaint both match is routed"
            )
    return None
