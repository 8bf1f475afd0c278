"""What can go wrong in classify/, as errors a caller can tell apart."""

from __future__ import annotations

from pathlib import Path


class ClassifyError(Exception):
    """Base of the classifier's own errors, so a caller can catch them all at once."""


class ModelLoadError(ClassifyError):
    """A model file that cannot be used: missing, damaged, foreign, or holding untrusted types."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot load a model from {path}: {reason}")
        self.path = path
        self.reason = reason


class TrainingDataError(ClassifyError):
    """Training data that cannot make a model; the message says what to fix in the file."""
