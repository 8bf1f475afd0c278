"""Small builders of test complaints."""

from __future__ import annotations

from datetime import UTC, datetime

from muara.domain import NewComplaint, RawInput, Reporter


def complaint(
    n: int = 1, *, channel: str = "callcenter", text: str = "jalan berlubang di depan sekolah"
) -> NewComplaint:
    """A complaint with source id `call-<n>`."""
    return NewComplaint(
        channel=channel,
        source_id=f"call-{n}",
        received_at=datetime(2026, 11, 23, 1, n % 60, tzinfo=UTC),
        text=text,
        reporter=Reporter(name="Siti Rahayu", contact="0812-0000-1234"),
        district="Tegalsari",
    )


def raw(n: int = 1, *, channel: str = "callcenter") -> RawInput:
    """The raw row behind `complaint(n)`."""
    return RawInput(channel=channel, source_ref=f"spool:call-{n}", content=b"call-%d,..." % n)
