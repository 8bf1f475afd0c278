"""The base of every config section, and the helpers their validators share.

pydantic ignores keys a model does not declare; in a config file that turns a misspelt key
(`chanel = "hotline"`) into a silent default. Every section refuses them instead, and the error
names the key and where it is.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr


class Section(BaseModel):
    """A table of the config file: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def repeated_names(names: list[str]) -> list[str]:
    """The names given more than once, sorted."""
    return sorted({name for name in names if names.count(name) > 1})


def secret_from(value: SecretStr | None, path: Path | None, field: str) -> SecretStr | None:
    """The secret given, else the content of its `*_file` (so the TOML never holds it)."""
    if value is not None or path is None:
        return value
    try:
        return SecretStr(path.read_text(encoding="utf-8").strip())
    except OSError as err:
        raise ValueError(f"{field}: cannot read {path}: {err.strerror}") from err
