"""The `[retention]` section: how long personal data stays once a complaint is finished."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from muara.section import Section

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(value: Any) -> Any:
    """ "365d", "12h", "30m", "90s", "2w" as a timedelta; anything else goes to pydantic as is
    (seconds as a number, ISO 8601 "P365D")."""
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class RetentionSettings(Section):
    """Anonymising finished complaints (README, "Personal data")."""

    enabled: bool = Field(True, description="Run the retention job in the daemon")
    anonymise_after: Duration = Field(
        timedelta(days=365),
        description="Time in a final state (CLOSED, DISCARDED, DUPLICATE) before a complaint's "
        'personal data is removed, e.g. "365d"',
    )
    interval: Duration = Field(timedelta(hours=1), description='How often the job runs, e.g. "1h"')
    batch_size: int = Field(
        500, ge=1, le=10_000, description="Complaints anonymised per transaction"
    )

    @model_validator(mode="after")
    def _positive(self) -> RetentionSettings:
        if self.anonymise_after <= timedelta(0) or self.interval <= timedelta(0):
            raise ValueError("retention: anonymise_after and interval must be positive")
        return self
