"""Keyword rules: a regular expression searched in the complaint's normalised subject and text."""

from __future__ import annotations

from functools import lru_cache

from muara.classify.text import normalise
from muara.domain import Suggestion
from muara.router.patterns import compile_pattern
from muara.store.records import ComplaintRecord

# How much of the pattern a decision's reason quotes (the pattern is config, never complaint text).
_QUOTED = 60


@lru_cache(maxsize=512)
def _normalised(subject: str | None, text: str) -> str:
    # Every keyword rule of a ruleset reads the same complaint: normalise it once.
    return normalise(f"{subject}\n{text}" if subject else text)


def searched_text(complaint: ComplaintRecord) -> str:
    """What a pattern is searched in: subject and text, folded as the classifier folds them.

    Normalisation lower-cases, folds full-width and styled characters and "airrr" to "air", and
    masks e-mail addresses, phone numbers and NIK: a rule can never key on personal data.
    """
    return _normalised(complaint.subject, complaint.text)


def quoted(pattern: str) -> str:
    """The pattern as a reason quotes it: between slashes, shortened if long."""
    shown = pattern if len(pattern) <= _QUOTED else pattern[: _QUOTED - 1] + "…"
    return f"/{shown}/"


class KeywordMatch:
    """Holds when the pattern is found (case-insensitively) in the normalised subject and text;
    matched by RE2, so no pattern can stall the router (router/patterns.py)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._regex = compile_pattern(pattern)

    def matches(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> str | None:
        """Names the pattern when it is found; what it found is complaint text and is not said."""
        if self._regex.search(searched_text(complaint)) is None:
            return None
        return f"pattern {quoted(self.pattern)}"
