"""The `[lapor]` and `[sla]` sections: filing into SP4N-LAPOR! and its working-day clocks."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from muara.section import Section, secret_from


class LaporSettings(Section):
    """The SP4N-LAPOR! v3 integration (see shared/lapor-v3.md); every path is configurable."""

    enabled: bool = Field(True, description="File routed complaints into LAPOR!")
    base_url: str | None = Field(
        None, description="API base URL; default: an in-process LAPOR! simulator on loopback"
    )
    auth_header: str = Field(
        "Authorization", description="Header carrying the bearer token (production: `auth`)"
    )
    auth_scheme: str = Field("Bearer", description="Prefix of the auth header value ('' for none)")
    token: SecretStr | None = Field(None, description="API token (env MUARA_LAPOR__TOKEN only)")
    token_file: Path | None = Field(None, description="File holding the API token")
    key: SecretStr | None = Field(None, description="Value of the `token` header (env only)")
    key_file: Path | None = Field(None, description="File holding the `token` header value")
    file_path: str = Field(
        "/complaints/complaint-lmw", description="Path of the 'file a complaint' call"
    )
    institutions_path: str = Field(
        "/masters/institutions/external", description="Path of the institutions master list"
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one API call")
    concurrency: int = Field(8, ge=1, le=256, description="Filings in flight at once")
    channel_id: int = Field(1, description="LAPOR! master id of the channel we file under")
    classification_id: int = Field(2, description="LAPOR! classification id (complaint)")
    category_id: int | None = Field(None, description="LAPOR! category id, if required")
    location_id: int | None = Field(None, description="LAPOR! location id of the region")
    user_id: int | None = Field(None, description="LAPOR! user id filings are made as")
    institutions: dict[str, int] = Field(
        default_factory=dict, description="Muara agency code -> LAPOR! institution id"
    )
    retry_seconds: float = Field(60.0, gt=0, description="Wait before retrying a failed call")
    max_attempts: int = Field(8, ge=1, description="Attempts before a filing is a dead letter")
    # -- the other v3 calls (lapor-v3.md); `{id}` stands for LAPOR!'s complaint id ---------------
    upload_path: str = Field("/complaints/complaint/file", description="Attachment upload call")
    templates_path: str = Field("/masters/templates", description="Reply templates master list")
    status_path: str = Field("/complaints/{id}/complaint", description="Complaint detail call")
    followups_path: str = Field("/complaints/{id}/followups", description="Follow-up history")
    followup_add_path: str = Field("/complaints/followup/add", description="Add a follow-up")
    forward_path: str = Field(
        "/complaints/process/{id}/reject", description="Forward ('not our authority') call"
    )
    lookup_path: str = Field(
        "/complaints/search",
        description="Find a complaint by our tag (NOT in lapor-v3.md: check your admin-panel docs)",
    )
    lookup_param: str = Field("tags", description="Query parameter of the lookup call")
    forward_reason: str = Field(
        "Bukan kewenangan instansi ini; dialihkan oleh koordinator.",
        description="reason_description sent with a forward (no personal data)",
    )
    classification_ids: dict[str, int] = Field(
        default_factory=lambda: {"aspiration": 1, "complaint": 2, "information_request": 3},
        description="Classification -> LAPOR! classification id (check your master table)",
    )
    # -- delivery -------------------------------------------------------------------------------
    rate_per_second: float = Field(5.0, ge=0, description="Calls a second on average (0: no cap)")
    rate_burst: int = Field(10, ge=1, description="Calls allowed in a burst above the rate")
    breaker_failures: int = Field(
        5, ge=1, description="Consecutive 'LAPOR! is down' failures that open the breaker"
    )
    breaker_cooldown_seconds: float = Field(
        60.0, gt=0, description="How long an open breaker waits before one trial call"
    )
    reconcile_after_seconds: float = Field(
        120.0, ge=0, description="Age of an outcome-unknown filing before it is looked up"
    )
    reconcile_attempts: int = Field(
        5, ge=1, description="Lookups LAPOR! may fail before the complaint is held"
    )
    attachments_max: int = Field(5, ge=0, description="Attachments uploaded per complaint")
    attachment_max_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Larger attachments are not uploaded"
    )
    # -- status sync ----------------------------------------------------------------------------
    sync_enabled: bool = Field(True, description="Poll status and follow-ups of filed complaints")
    sync_interval_seconds: float = Field(
        6 * 3600.0, gt=0, description="How often a filed complaint's status is read"
    )
    sync_young_interval_seconds: float = Field(
        3600.0, gt=0, description="How often while the complaint is young"
    )
    sync_young_age_seconds: float = Field(
        3 * 86400.0, ge=0, description="A filing younger than this is young"
    )
    sync_retry_seconds: float = Field(3600.0, gt=0, description="Wait after a failed status read")
    sync_batch: int = Field(50, ge=1, description="Complaints read per round of the sync")
    closed_statuses: list[str] = Field(
        default_factory=lambda: ["closed", "selesai", "ditutup"],
        description="Status codes or names (any case) meaning LAPOR! closed the complaint",
    )
    institutions_sync_seconds: float = Field(
        86400.0, ge=0, description="How often the institutions master list is synced (0: never)"
    )
    agency_names: dict[str, str] = Field(
        default_factory=dict,
        description="Agency code -> name as in LAPOR!'s master list (default: starter names)",
    )
    # -- the file sink for regions that upload by hand ----------------------------------------
    sink: Literal["api", "file"] = Field(
        "api", description="File into the API, or write files in LAPOR!'s layout to upload"
    )
    file_dir: Path | None = Field(
        None, description="Folder for the file sink; default <data_dir>/lapor-export"
    )
    file_format: Literal["csv", "jsonl"] = Field("csv", description="File sink format")

    @model_validator(mode="after")
    def _lookup_only_after_a_call_is_over(self) -> LaporSettings:
        # An outcome-unknown filing is looked up in LAPOR! after `reconcile_after_seconds`; if that
        # is shorter than a call may take, a replica that took the batch over finds nothing while
        # the first call is still in flight, and files the complaint a second time.
        if self.sink == "api" and self.reconcile_after_seconds <= self.timeout_seconds:
            raise ValueError(
                "lapor.reconcile_after_seconds must be longer than lapor.timeout_seconds "
                f"({self.reconcile_after_seconds:g} <= {self.timeout_seconds:g}): a filing still "
                "in flight would be looked up, not found, and filed twice"
            )
        return self

    @model_validator(mode="after")
    def _read_secret_files(self) -> LaporSettings:
        self.token = secret_from(self.token, self.token_file, "lapor.token_file")
        self.key = secret_from(self.key, self.key_file, "lapor.key_file")
        return self


class SlaSettings(Section):
    """SLA clocks in Indonesian working days (lapor-v3.md, "Rules that bind the agencies").

    National holidays and collective leave (cuti bersama) come from the `holidays` library; these
    lists correct it when the joint decree (SKB) is revised or a region adds a local day off.
    """

    verify_days: int = Field(3, ge=0, description="Working days LAPOR! has to verify and forward")
    followup_days: dict[str, int] = Field(
        default_factory=lambda: {
            "aspiration": 5,
            "complaint": 5,
            "information_request": 10,
            "whistleblowing": 5,
        },
        description="Working days the agency has for its first follow-up, by classification",
    )
    extra_days_off: list[date] = Field(
        default_factory=list, description="Days off the holiday library does not know (YYYY-MM-DD)"
    )
    working_days: list[date] = Field(
        default_factory=list, description="Days the library lists as off that are worked after all"
    )
    due_soon_hours: float = Field(24.0, gt=0, description="'Due soon' means within this many hours")
