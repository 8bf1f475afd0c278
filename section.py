"""The base of every config section.

pydantic ignores keys a model does not declare; in a config file that turns a misspelt key
(`chanel = "hotline"`) into a silent default. Every section refuses them instead, and the error
names the key and where it is.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A table of the config file: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")
