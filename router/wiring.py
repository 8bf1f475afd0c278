"""The daemon's rules: built from the config and checked against the agencies Muara knows."""

from __future__ import annotations

from collections.abc import Iterable

from muara.classify.holder import ModelHolder
from muara.config import ConfigError, Settings
from muara.router.configured import ruleset_from, unknown_agencies
from muara.router.ruleset import RuleSet


def known_agencies(settings: Settings, labels: Iterable[str]) -> set[str]:
    """Agency codes a rule may name: the model's labels and offices, and the LAPOR! mapping."""
    return {*labels, *settings.lapor.institutions}


def router_rules(settings: Settings, model: ModelHolder) -> RuleSet:
    """The configured ruleset; a rule naming an agency nobody knows stops the start-up.

    Checked against the model in use at start: a typo in `route_to` would otherwise file
    complaints to an agency LAPOR! has never heard of, one by one, until someone noticed.
    """
    current = model()
    known = known_agencies(settings, (*current.labels, *current.known_offices()))
    if problems := unknown_agencies(settings.router, known):
        raise ConfigError("; ".join(problems))
    # The gazetteer follows the model holder: a swapped model keeps the region's gazetteer.
    return ruleset_from(settings.router, gazetteer=lambda: model().gazetteer)
