"""The `[router]` section: the auto-route threshold, `[[router.rules]]`, `[router.duplicates]`."""

from __future__ import annotations

from pydantic import Field, model_validator

from muara.router.patterns import PatternError, compile_pattern
from muara.section import Section, repeated_names


class RuleSettings(Section):
    """One `[[router.rules]]` block: every predicate given must hold; exactly one action."""

    name: str = Field(
        ..., pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$", description="Unique name: `rule:<name>`"
    )
    description: str | None = Field(
        None, max_length=200, description="Why the rule exists; quoted in the decision's reason"
    )
    # -- predicates ------------------------------------------------------------------------------
    pattern: str | None = Field(
        None, description="Regex searched case-insensitively in the normalised subject and text"
    )
    channels: list[str] | None = Field(None, description="Complaint channels (email, x, …)")
    districts: list[str] | None = Field(None, description="Kecamatan the complaint is in")
    subdistricts: list[str] | None = Field(None, description="Kelurahan the complaint is in")
    agency_suggested: list[str] | None = Field(
        None, description="Agencies the classifier suggested"
    )
    # -- actions ---------------------------------------------------------------------------------
    route_to: str | None = Field(None, min_length=1, description="Route to this agency code")
    review: bool = Field(False, description="Never auto-route: a coordinator decides")
    discard: str | None = Field(
        None, min_length=1, max_length=200, description="Discard with this reason"
    )

    @model_validator(mode="after")
    def _check(self) -> RuleSettings:
        where = f"rule {self.name!r}"
        actions = [self.route_to is not None, self.review, self.discard is not None]
        if sum(actions) != 1:
            raise ValueError(f"{where}: give exactly one of route_to, review = true, discard")
        lists = (self.channels, self.districts, self.subdistricts, self.agency_suggested)
        if self.pattern is None and all(not given for given in lists):
            raise ValueError(
                f"{where}: needs a predicate: pattern, channels, districts, subdistricts "
                "or agency_suggested"
            )
        if any(given is not None and not given for given in lists):
            raise ValueError(f"{where}: an empty list would never match; leave it out")
        if self.pattern is not None:
            try:
                compile_pattern(self.pattern)
            except PatternError as err:
                raise ValueError(f"{where}: pattern is not a valid regex: {err}") from err
        return self


class DuplicateDetectionSettings(Section):
    """[router.duplicates]: linking the same complaint from several channels to the first."""

    enabled: bool = Field(True, description="Link repeats to the first complaint as DUPLICATE")
    reporter_days: float = Field(
        7, gt=0, le=90, description="Same reporter and a related problem within this many days"
    )
    text_days: float = Field(7, gt=0, le=90, description="Nearly the same words within these days")
    event_days: float = Field(
        3, gt=0, le=90, description="Same street or kelurahan and problem within these days"
    )
    text_threshold: float = Field(
        0.5, gt=0, le=1, description="Estimated word-set similarity that counts as the same text"
    )
    related_threshold: float = Field(
        0.25, gt=0, le=1, description="Similarity that makes one reporter's two texts related"
    )
    prune_minutes: float = Field(
        60, gt=0, description="How often the index forgets what no window can match any more"
    )


class RouterSettings(Section):
    """How confident the classifier must be for a complaint to skip review, and the rules."""

    auto_route_threshold: float = Field(
        0.8, ge=0, le=1, description="Suggestions at or above this confidence are auto-routed"
    )
    emergency_rule: bool = Field(
        True, description="Discard 112 calls the center dispatched as emergencies (rule first)"
    )
    rules: list[RuleSettings] = Field(
        default_factory=list, description="Routing rules, tried in order before the threshold"
    )
    duplicates: DuplicateDetectionSettings = Field(
        default_factory=DuplicateDetectionSettings,
        description="Duplicate detection across channels (after the discarding rules)",
    )

    @model_validator(mode="after")
    def _unique_rule_names(self) -> RouterSettings:
        names = [rule.name for rule in self.rules]
        if self.emergency_rule:
            names.append("emergency-112")
        if repeated := repeated_names(names):
            raise ValueError(f"router.rules: rule names must be unique; repeated: {repeated}")
        return self
