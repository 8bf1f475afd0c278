"""The `[review]` section: the coordinators' review desk."""

from __future__ import annotations

from pydantic import Field

from muara.section import Section


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
