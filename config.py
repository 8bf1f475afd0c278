"""Configuration: one TOML file, every setting declared once with its default and a one-line doc.

The sections live next to the code they configure (`ingest/settings.py`, `classify/settings.py`,
`router/settings.py`, `exporters/settings.py`, `review/settings.py`, `privacy/settings.py`); this
module puts them together into `Settings` and reads the file.

Precedence, highest first: `MUARA_…` environment variables (nested with `__`, e.g.
`MUARA_STORE__URL`), then the TOML file, then the sections' defaults. Secrets are never read from
the TOML: they come from the environment or from a `*_file` path (`section.secret_from`).
"""

from __future__ import annotations

import contextvars
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from muara.classify.settings import ClassifierSettings
from muara.exporters.settings import LaporSettings, SlaSettings
from muara.ingest.settings import (
    ImapMailbox,
    SpoolSource,
    TranscriptSource,
    XSource,
    shared_call_channels,
)
from muara.privacy.settings import RetentionSettings
from muara.review.settings import ReviewSettings
from muara.router.settings import RouterSettings
from muara.section import Section, repeated_names

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
