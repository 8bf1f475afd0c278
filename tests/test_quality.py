"""The tree stays ruff- and mypy-clean (STYLE.md): CI runs these with the rest of the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MYPY": str(BIN / "mypy")}
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, check=False)


def test_ruff_finds_nothing() -> None:
    result = run(str(BIN / "ruff"), "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(600)  # a cold mypy cache on a loaded 2-core machine takes minutes
def test_mypy_strict_finds_nothing() -> None:
    result = run("bash", "scripts/typecheck")
    assert result.returncode == 0, result.stdout + result.stderr
