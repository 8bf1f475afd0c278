"""What a LAPOR! call can end in, named by what the caller may safely do next.

LAPOR! has no idempotency key, so for a filing the one question that matters is whether the request
may have reached the server. Each class answers it:

| error                 | did LAPOR! take it?           | the outbox should                       |
|-----------------------|-------------------------------|-----------------------------------------|
| `LaporNotSent`        | no: never left this host      | retry                                   |
| `LaporUnavailable`    | no: the server said so        | retry after `retry_after` (or its own)  |
| `LaporRejected`       | no: the request is wrong      | dead-letter; resending will not help    |
| `LaporAuthError`      | no: credentials refused       | stop filing, alert; fix the config      |
| `LaporOutcomeUnknown` | maybe                         | reconcile against LAPOR!, never resend  |

Messages carry status codes and LAPOR!'s short message, never the request body (personal data).
"""

from __future__ import annotations


class LaporError(Exception):
    """Any failed LAPOR! call; catch a subclass to decide what to do next."""


class LaporNotSent(LaporError):
    """The request certainly never reached LAPOR! (refused, DNS, connect timeout): resend."""


class LaporOutcomeUnknown(LaporError):
    """The request may have created a complaint: reconcile before anything else, never resend."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LaporRejected(LaporError):
    """LAPOR! refused the request itself (a 4xx): the same request will be refused again."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if message else f"HTTP {status}")
        self.status = status
        self.message = message


class LaporAuthError(LaporError):
    """LAPOR! refused our credentials (401/403): nothing was processed; the config needs fixing."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if message else f"HTTP {status}")
        self.status = status
        self.message = message


class LaporUnavailable(LaporError):
    """LAPOR! answered that it did not process the request (429, 503, …): retry after a wait.

    `status` is None when a read-only call got no usable answer (reads are always safe to repeat).
    """

    def __init__(self, status: int | None, retry_after: float | None, message: str = "") -> None:
        head = f"HTTP {status}" if status is not None else "no usable answer"
        super().__init__(f"{head}: {message}" if message else head)
        self.status = status
        self.retry_after = retry_after
        self.message = message
