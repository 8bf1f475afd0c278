"""The SP4N-LAPOR! v3 exporter: payload builder, HTTP client, errors (simulator: `.simulator`)."""

from muara.exporters.lapor.client import LaporClient
from muara.exporters.lapor.errors import (
    LaporAuthError,
    LaporError,
    LaporNotSent,
    LaporOutcomeUnknown,
    LaporRejected,
    LaporUnavailable,
)
from muara.exporters.lapor.models import Institution
from muara.exporters.lapor.payload import FilingInput, build_filing_body

__all__ = [
    "FilingInput",
    "Institution",
    "LaporAuthError",
    "LaporClient",
    "LaporError",
    "LaporNotSent",
    "LaporOutcomeUnknown",
    "LaporRejected",
    "LaporUnavailable",
    "build_filing_body",
]
