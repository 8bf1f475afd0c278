"""Configuration: one TOML file, every setting declared once with its default and a one-line doc.

Precedence, highest first: `MUARA_…` environment variables (nested with `__`, e.g.
`MUARA_STORE__URL`), then the TOML file, then the defaults below. Secrets are never read from the
TOML: they come from the environment or from a `*_file` path (see `Secret`).
"""

from __future__ import annotations

import contextvars
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_DATA_DIR = Path("muara-data")
ENV_PREFIX = "MUARA_"

# Keys that hold secrets: refused in the TOML so a config file can be shared or committed safely.
SECRET_KEYS = frozenset({"token", "key", "password", "bearer_token", "secret"})


class ConfigError(Exception):
    """A configuration that cannot be used, with the field at fault named."""


class StoreSettings(BaseModel):
    """Where complaints are kept."""

    url: str | None = Field(
        None,
        description="SQLAlchemy async URL; default: SQLite file <data_dir>/muara.db "
        "(postgresql+asyncpg://… for production)",
    )
    echo: bool = Field(False, description="Log every SQL statement (debugging only)")


class HttpSettings(BaseModel):
    """The daemon's own HTTP server: /healthz, /readyz, /metrics."""

    host: str = Field("127.0.0.1", description="Address to listen on")
    port: int = Field(8470, ge=0, le=65535, description="Port to listen on (0: any free port)")


class WorkerSettings(BaseModel):
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


class CsvColumns(BaseModel):
    """Which CSV column holds which complaint field (a vendor's export layout)."""

    source_id: str = Field("call_id", description="Unique id of the call in the vendor's system")
    received_at: str = Field("started_at", description="When the call started (ISO 8601)")
    text: str = Field("summary", description="The agent's summary of the complaint")
    reporter_name: str | None = Field("caller_name", description="Caller's name, if recorded")
    reporter_contact: str | None = Field("caller_number", description="Caller's phone number")
    category: str | None = Field("category", description="The call center's own category")
    district: str | None = Field("district", description="Kecamatan, if recorded")
    subdistrict: str | None = Field("subdistrict", description="Kelurahan, if recorded")


class SpoolSource(BaseModel):
    """A folder a call-center system drops CSV exports into."""

    name: str = Field(description="Unique name of this source (used in metrics and status)")
    path: Path = Field(description="Folder holding inbox/, done/ and quarantine/")
    channel: str = Field("callcenter", description="Channel the complaints are recorded under")
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


class ClassifierSettings(BaseModel):
    """Which model names the responsible agency."""

    model_path: Path | None = Field(
        None, description="A model saved by `muara train`; default: the bundled starter model"
    )


class RouterSettings(BaseModel):
    """How confident the classifier must be for a complaint to skip review."""

    auto_route_threshold: float = Field(
        0.8, ge=0, le=1, description="Suggestions at or above this confidence are auto-routed"
    )


class LaporSettings(BaseModel):
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

    @model_validator(mode="after")
    def _read_secret_files(self) -> LaporSettings:
        self.token = _secret_from(self.token, self.token_file, "lapor.token_file")
        self.key = _secret_from(self.key, self.key_file, "lapor.key_file")
        return self


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
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings, description="")
    router: RouterSettings = Field(default_factory=RouterSettings, description="Routing")
    lapor: LaporSettings = Field(default_factory=LaporSettings, description="LAPOR! exporter")

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
        lines.append(f"  {where}: {problem['msg']}")
    return "\n".join(lines)


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
