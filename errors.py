"""What a log line may say about an error: its class, and the codes the OS and SQLite give.

Library messages may quote input (a row's values, a statement's parameters: personal data), so
logs and /readyz never show them. The operating system's error code (ENOSPC) and SQLite's result
code (SQLITE_FULL) are fixed words that say what went wrong; without them "OperationalError"
says nothing about a full disk.
"""

from __future__ import annotations

import errno
import os


def error_summary(err: BaseException) -> str:
    """`OSError: ENOSPC, No space left on device`, `OperationalError: SQLITE_FULL`, or the
    bare class name; a database error is looked at through the driver error it wraps."""
    name = type(err).__name__
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        code_number = cause.errno if isinstance(cause, OSError) else None
        if code_number is not None and code_number in errno.errorcode:
            return f"{name}: {errno.errorcode[code_number]}, {os.strerror(code_number)}"
        code = getattr(cause, "sqlite_errorname", None)
        if isinstance(code, str) and code:
            return f"{name}: {code}"
        # SQLAlchemy keeps the driver's error as `orig`; other wrappers chain it as the cause.
        orig = getattr(cause, "orig", None)
        cause = orig if isinstance(orig, BaseException) else cause.__cause__
    return name
