"""Rule patterns, compiled with RE2: a match takes time linear in the text, whatever the pattern.

Python's `re` backtracks, and has no timeout: one nested repetition such as `(a+)+$` in a rule
meeting a long complaint could hold the route stage (and, the router being in the daemon's event
loop, everything else) for minutes. RE2 (Google's engine, `google-re2`) never backtracks; the
price is that backreferences and lookaround are refused, when the config is loaded.
"""

from __future__ import annotations

from typing import Any

import re2  # type: ignore[import-untyped]  # no stubs shipped


class PatternError(ValueError):
    """A pattern RE2 cannot compile: bad syntax, or a backreference or lookaround."""


def compile_pattern(pattern: str) -> Any:
    """The pattern compiled case-insensitively; `PatternError` says why it cannot be."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # the error is raised with its reason; no stray stderr line
    try:
        return re2.compile(pattern, options)
    except re2.error as err:
        reason = err.args[0] if err.args else err
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(
            f"{reason} (RE2 syntax: no backreferences or lookaround, see the README)"
        ) from err
