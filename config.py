"""Configuration: one TOML file, every setting declared once with its default and a one-line doc.

Precedence, highest first: `MUARA_…` environment variables (nested with `__`, e.g.
`MUARA_STORE__URL`), then the TOML file, then the defaults below. Secrets are never read from the
TOML: they come from the environment or from a `*_file` path (see `Secret`).
"""

from __future__ import annotations

import contextvars
import os
import tomllib
import typing
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from muara.privacy.settings import RetentionSettings
from muara.router.patterns import PatternError, compile_pattern
from muara.section import Section

DEFAULT_DATA_DIR = Path("muara-data")
ENV_PREFIX = "MUARA_"

# Keys that hold secrets: refused in the TOML so a config file can be shared or committed safely.
SECRET_KEYS = frozenset({"token", "key", "password", "bearer_token", "secret"})


class ConfigError(Exception):
    """A configuration that cannot be used, with the field at fault named."""


class StoreSettings(Section):
    """Where complaints are kept."""

    url: str | None = Field(
        None,
        description="SQLAlchemy async URL; default: SQLite file <data_dir>/muara.db "
        "(postgresql+asyncpg://… for production)",
    )
    echo: bool = Field(False, description="Log every SQL statement (debugging only)")


class HttpSettings(Section):
    """The daemon's own HTTP server: /healthz, /readyz, /metrics."""

    host: str = Field("127.0.0.1", description="Address to listen on")
    port: int = Field(8470, ge=0, le=65535, description="Port to listen on (0: any free port)")


class WorkerSettings(Section):
    """How stage workers claim and process work."""

    batch_size: int = Field(200, ge=1, le=10_000, description="Complaints claimed per batch")
    lease_seconds: float = Field(
        60.0, gt=0, description="How long a claim is held before another worker may redo it"
    )
    idle_seconds: float = Field(
        0.5, gt=0, description="Pause between polls of the store when there is no work"
    )
    shutdown_timeout: float = Field(
        10.0, gt=0, description="Seconds in-flight work may take to finish on SIGTERM/SIGINT"
    )
    restart_backoff_max: float = Field(
        60.0, gt=0, description="Longest pause before restarting a task that failed"
    )
    takeover_seconds: float = Field(
        5.0,
        gt=0,
        description="Replicas (PostgreSQL): how often a standby asks for a source another "
        "replica reads; bounds the takeover once the holder is gone",
    )
    stall_seconds: float = Field(
        60.0,
        ge=2,
        description="Replicas (PostgreSQL): a replica that has shown no sign of life this long "
        "loses its sources (idle_session_timeout of its lock connection)",
    )


class CsvColumns(Section):
    """Which CSV column holds which complaint field (a vendor's export layout)."""

    source_id: str = Field("call_id", description="Unique id of the call in the vendor's system")
    received_at: str = Field("started_at", description="When the call started (ISO 8601)")
    text: str = Field("summary", description="The agent's summary of the complaint")
    reporter_name: str | None = Field("caller_name", description="Caller's name, if recorded")
    reporter_contact: str | None = Field("caller_number", description="Caller's phone number")
    agent: str | None = Field(None, description="The agent who took the call, if recorded")
    category: str | None = Field("category", description="The call center's own category")
    district: str | None = Field("district", description="Kecamatan, if recorded")
    subdistrict: str | None = Field("subdistrict", description="Kelurahan, if recorded")


# Column layouts of two common kinds of call-center export, picked with `preset = "…"`; columns
# set explicitly next to a preset override its names. JSON Lines exports use the same names as keys.
COLUMN_PRESETS: dict[str, tuple[dict[str, str | None], str]] = {
    # A local call-center application's spreadsheet export: Indonesian headers, `;`-separated
    # (Excel's list separator in the id-ID locale), DD/MM/YYYY HH:MM times.
    "indonesian": (
        {
            "source_id": "No Tiket",
            "received_at": "Waktu Panggilan",
            "text": "Keterangan",
            "reporter_name": "Nama Penelepon",
            "reporter_contact": "No Telepon",
            "agent": "Agen",
            "category": "Kategori",
            "district": "Kecamatan",
            "subdistrict": "Kelurahan",
        },
        ";",
    ),
    # A help-desk/CRM ticket export (CSV or JSON Lines): snake_case English keys, ISO 8601 times.
    "helpdesk": (
        {
            "source_id": "ticket_id",
            "received_at": "created_at",
            "text": "description",
            "reporter_name": "contact_name",
            "reporter_contact": "contact_phone",
            "agent": "assignee",
            "category": "category",
            "district": "district",
            "subdistrict": "village",
        },
        ",",
    ),
}


class SpoolSource(Section):
    """A folder a call-center system drops CSV or JSON Lines exports into."""

    name: str = Field(description="Unique name of this source (used in metrics and status)")
    path: Path = Field(description="Folder holding inbox/, done/ and quarantine/")
    channel: str = Field("callcenter", description="Channel the complaints are recorded under")
    preset: Literal["indonesian", "helpdesk"] | None = Field(
        None, description="A vendor layout (COLUMN_PRESETS); `columns` set here override it"
    )
    columns: CsvColumns = Field(default_factory=CsvColumns, description="Column mapping")
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field delimiter")
    timezone: str = Field(
        "Asia/Jakarta", description="Time zone of timestamps that carry no offset"
    )
    poll_seconds: float = Field(5.0, gt=0, description="How often the inbox is scanned")
    max_file_bytes: int = Field(
        20 * 1024 * 1024, gt=0, description="Larger files are quarantined whole, unread"
    )
    stable_seconds: float = Field(
        1.0, ge=0, description="A file must keep its size this long before it is read"
    )

    @model_validator(mode="after")
    def _apply_preset(self) -> SpoolSource:
        if self.preset is None:
            return self
        columns, delimiter = COLUMN_PRESETS[self.preset]
        explicit = {name: getattr(self.columns, name) for name in self.columns.model_fields_set}
        self.columns = CsvColumns.model_validate({**columns, **explicit})
        if "delimiter" not in self.model_fields_set:
            self.delimiter = delimiter
        return self


class TranscriptSource(Section):
    """A folder the 112 center's speech-to-text drops call transcripts into (JSON or text)."""

    name: str = Field(description="Unique name of this source (used in metrics and status)")
    path: Path = Field(description="Folder holding inbox/, done/ and quarantine/")
    channel: str = Field("112", description="Channel the complaints are recorded under")
    timezone: str = Field(
        "Asia/Jakarta", description="Time zone of timestamps that carry no offset"
    )
    poll_seconds: float = Field(5.0, gt=0, description="How often the inbox is scanned")
    max_file_bytes: int = Field(
        1024 * 1024, gt=0, description="Larger files are quarantined whole, unread"
    )
    stable_seconds: float = Field(
        1.0, ge=0, description="A file must keep its size this long before it is read"
    )


class XSource(Section):
    """An X (Twitter) feed read with the API v2: mentions of accounts and recent-search queries."""

    name: str = Field(description="Unique name of this source (used in metrics and cursors)")
    channel: str = Field("x", description="Channel the complaints are recorded under")
    bearer_token: SecretStr | None = Field(
        None, description="App bearer token (never in the TOML: use bearer_token_env or _file)"
    )
    bearer_token_file: Path | None = Field(None, description="File holding the bearer token")
    bearer_token_env: str = Field(
        "MUARA_X_BEARER_TOKEN", description="Environment variable holding the bearer token"
    )
    account_ids: list[str] = Field(
        default_factory=list, description="Numeric ids of the accounts whose mentions are read"
    )
    queries: list[str] = Field(
        default_factory=list, description="Recent-search queries, e.g. '#LaporGub -is:retweet'"
    )
    poll_seconds: float = Field(60.0, gt=0, description="How often each feed is read")
    page_size: int = Field(100, ge=10, le=100, description="Posts asked for per page")
    backfill_pages: int = Field(
        1, ge=1, description="Pages read on a feed's first poll; older posts are not ingested"
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one API call")
    max_rate_limit_wait: float = Field(
        960.0, gt=0, description="Longest sleep on a 429 (X windows are 15 minutes)"
    )
    connect_to: str | None = Field(
        None, description="host:port to connect to for api.twitter.com (egress proxy, tests)"
    )
    ca_file: Path | None = Field(
        None, description="Extra CA bundle to trust for the X API (a TLS-inspecting proxy)"
    )

    @model_validator(mode="after")
    def _check(self) -> XSource:
        if not self.account_ids and not self.queries:
            raise ValueError(f"x source '{self.name}': give account_ids, queries or both")
        if bad := [a for a in self.account_ids if not a.isdigit()]:
            raise ValueError(
                f"x source '{self.name}': account_ids must be numeric user ids, not "
                f"{', '.join(map(repr, bad))}"
            )
        if self.connect_to is not None:
            host, _, port = self.connect_to.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"x source '{self.name}': connect_to must be host:port")
        token = os.environ.get(self.bearer_token_env)
        if self.bearer_token is None and self.bearer_token_file is None and token:
            self.bearer_token = SecretStr(token)
        self.bearer_token = _secret_from(
            self.bearer_token, self.bearer_token_file, f"x '{self.name}'.bearer_token_file"
        )
        return self


class ImapMailbox(Section):
    """A mailbox citizens write to, read over IMAP; one `[[email]]` block per mailbox."""

    name: str = Field(description="Unique name of this source (used in metrics, cursors, status)")
    channel: str = Field("email", description="Channel the complaints are recorded under")
    host: str = Field(description="IMAP server host name")
    port: int | None = Field(
        None, ge=1, le=65535, description="IMAP port; default 993 (tls = implicit) or 143"
    )
    tls: Literal["implicit", "starttls", "none"] = Field(
        "implicit", description="implicit (IMAPS), starttls, or none (loopback hosts only)"
    )
    tls_ca_file: Path | None = Field(
        None, description="CA certificate(s) to trust instead of the system's (self-signed server)"
    )
    user: str = Field(description="Login name of the mailbox")
    password: SecretStr | None = Field(
        None, description="Never in the TOML: use password_env or password_file"
    )
    password_env: str | None = Field(None, description="Environment variable holding the password")
    password_file: Path | None = Field(None, description="File holding the password")
    folder: str = Field("INBOX", description="Folder read for new mail")
    after_store: Literal["seen", "move"] = Field(
        "seen", description="Once a message is stored: flag it \\Seen, or move it to move_to"
    )
    move_to: str | None = Field(
        None, description="Folder stored messages move to (after_store = 'move'); made if missing"
    )
    idle: bool = Field(True, description="Use IMAP IDLE (push) when the server offers it")
    idle_seconds: float = Field(
        300.0, ge=10, le=1740, description="Re-issue IDLE this often (RFC 2177: within 29 min)"
    )
    poll_seconds: float = Field(60.0, gt=0, description="Poll interval when the server has no IDLE")
    batch_size: int = Field(100, ge=1, le=1000, description="Messages fetched and stored per round")
    max_message_bytes: int = Field(
        10 * 1024 * 1024,
        ge=64 * 1024,
        description="Content kept per message; attachments past it are dropped, noted on the "
        "complaint",
    )
    timeout_seconds: float = Field(60.0, gt=0, description="Network timeout of one IMAP command")

    @model_validator(mode="after")
    def _check(self) -> ImapMailbox:
        where = f"email '{self.name}'"
        if self.tls == "none" and self.host not in _LOOPBACK_HOSTS:
            raise ValueError(f"{where}: tls = 'none' is allowed for loopback hosts only")
        if (self.after_store == "move") != (self.move_to is not None):
            raise ValueError(f"{where}: move_to is needed with after_store = 'move', and only then")
        if self.move_to is not None and self.move_to == self.folder:
            raise ValueError(f"{where}: move_to must differ from folder")
        from_env = os.environ.get(self.password_env) if self.password_env else None
        if self.password is None and self.password_file is None and from_env:
            self.password = SecretStr(from_env)
        self.password = _secret_from(self.password, self.password_file, f"{where}.password_file")
        if self.password is None:
            raise ValueError(
                f"{where}: no password: set password_env to a variable that holds it, "
                "or password_file"
            )
        return self


_LOOPBACK_HOSTS = frozenset({"localhost", "::1"} | {f"127.0.0.{n}" for n in range(1, 255)})


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


class RuleSettings(Section):
    """One `[[router.rules]]` block: every predicate given must hold; exactly one action."""

    model_config = {"extra": "forbid"}

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
        self.token = _secret_from(self.token, self.token_file, "lapor.token_file")
        self.key = _secret_from(self.key, self.key_file, "lapor.key_file")
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


class ReviewSettings(Section):
    """The coordinators' review desk, served by the daemon's HTTP server under /review/."""

    enabled: bool = Field(True, description="Serve the review desk at /review/")
    cookie_secure: bool = Field(
        False, description="Send the session cookie over HTTPS only (behind a TLS proxy: true)"
    )
    session_hours: float = Field(8.0, gt=0, description="A login lasts at most this long")
    idle_minutes: float = Field(60.0, gt=0, description="A session unused this long ends")
    lockout_failures: int = Field(
        5, ge=1, description="Failed logins in a row that lock an account"
    )
    lockout_minutes: float = Field(15.0, gt=0, description="How long a locked account stays locked")
    login_attempts_per_minute: int = Field(
        10, ge=1, description="Login attempts one client address may make per minute"
    )
    page_size: int = Field(50, ge=10, le=500, description="Complaints per page of the queue")


def repeated_names(names: list[str]) -> list[str]:
    """The names given more than once, sorted."""
    return sorted({name for name in names if names.count(name) > 1})


def shared_call_channels(sources: list[SpoolSource | TranscriptSource]) -> list[str]:
    """Why these call sources cannot share their channels, one line per shared channel.

    A call is stored once per (channel, call id): that is what makes re-reading a file harmless.
    Two call systems number their calls independently, so on one channel the second system's
    call 1042 would be taken for the first's and silently dropped.
    """
    by_channel: dict[str, list[str]] = {}
    for source in sources:
        by_channel.setdefault(source.channel, []).append(source.name)
    return [
        f"sources {', '.join(repr(name) for name in names)} all record under channel "
        f"{channel!r}: a call id both systems use would be taken for one complaint and the "
        "later call lost; give each source its own `channel`"
        for channel, names in sorted(by_channel.items())
        if len(names) > 1
    ]


class Settings(BaseSettings):
    """Everything Muara can be told; `muara check-config` validates it."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Where the embedded store, models live")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log level written"
    )
    log_format: Literal["text", "json"] = Field("text", description="Log line format")
    demo: bool = Field(False, description="Seed a demo spool with sample call-center rows on start")
    store: StoreSettings = Field(default_factory=StoreSettings, description="The store")
    http: HttpSettings = Field(default_factory=HttpSettings, description="Ops HTTP server")
    workers: WorkerSettings = Field(default_factory=WorkerSettings, description="Stage workers")
    spool: list[SpoolSource] = Field(default_factory=list, description="Call-center spools")
    transcripts: list[TranscriptSource] = Field(
        default_factory=list, description="112 transcript folders"
    )
    x: list[XSource] = Field(default_factory=list, description="X (Twitter) feeds")
    email: list[ImapMailbox] = Field(default_factory=list, description="IMAP mailboxes")
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings, description="")
    router: RouterSettings = Field(default_factory=RouterSettings, description="Routing")
    lapor: LaporSettings = Field(default_factory=LaporSettings, description="LAPOR! exporter")
    sla: SlaSettings = Field(default_factory=SlaSettings, description="SLA clocks")
    review: ReviewSettings = Field(default_factory=ReviewSettings, description="Review desk")
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="Personal data retention"
    )

    @model_validator(mode="after")
    def _distinct_sources(self) -> Settings:
        sources: list[SpoolSource | TranscriptSource | XSource | ImapMailbox] = [
            *self.spool,
            *self.transcripts,
            *self.x,
            *self.email,
        ]
        if repeated := repeated_names([source.name for source in sources]):
            raise ValueError(f"source names must be unique; repeated: {', '.join(repeated)}")
        if shared := shared_call_channels([*self.spool, *self.transcripts]):
            raise ValueError("; ".join(shared))
        return self

    @property
    def store_url(self) -> str:
        """The store URL, defaulting to a SQLite file in the data folder."""
        if self.store.url:
            return self.store.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'muara.db').as_posix()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _toml_path.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


_toml_path: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "muara_toml_path", default=None
)


def _secret_from(value: SecretStr | None, path: Path | None, field: str) -> SecretStr | None:
    if value is not None or path is None:
        return value
    try:
        return SecretStr(path.read_text(encoding="utf-8").strip())
    except OSError as err:
        raise ValueError(f"{field}: cannot read {path}: {err.strerror}") from err


def _find_secrets(node: Any, prefix: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            if key in SECRET_KEYS:
                found.append(dotted)
            found.extend(_find_secrets(value, dotted + "."))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(_find_secrets(item, f"{prefix.rstrip('.')}[{index}]."))
    return found


def _describe(err: ValidationError, origin: str) -> str:
    lines = [f"{origin}: invalid configuration"]
    for problem in err.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            known = _keys_beside(problem["loc"][:-1])
            message = f"unknown key (misspelt?); known here: {', '.join(known)}"
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def _keys_beside(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the section at `loc` (a path into Settings; list indexes skipped) declares."""
    model: type[BaseModel] = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        inner = _section_of(field.annotation) if field is not None else None
        if inner is None:
            return []
        model = inner
    return sorted(model.model_fields)


def _section_of(annotation: Any) -> type[BaseModel] | None:
    """The section model a field holds: itself, or the item of a list of sections."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        if (found := _section_of(argument)) is not None:
            return found
    return None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the TOML at `path` (if any) and the environment; `ConfigError` names the field."""
    origin = str(path) if path is not None else "configuration"
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise ConfigError(f"{path}: no such config file") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from err
        if secrets := _find_secrets(raw):
            raise ConfigError(
                f"{path}: secrets do not belong in the config file: {', '.join(secrets)}; "
                "set them in the environment (MUARA_…) or point a *_file setting at a file"
            )
    token = _toml_path.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise ConfigError(_describe(err, origin)) from err
    except ValueError as err:
        raise ConfigError(f"{origin}: {err}") from err
    finally:
        _toml_path.reset(token)
