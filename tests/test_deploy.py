"""Deployment files that operators copy must be valid as shipped."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = (REPO / "deploy" / "systemd" / "muara.service").read_text(encoding="utf-8")
    assert "NoNewPrivileges=yes" in unit and "ProtectSystem=strict" in unit
    assert "User=muara" in unit
    # systemd-analyze checks that ExecStart exists: point it at this checkout's command.
    muara = Path(sys.executable).parent / "muara"
    local = tmp_path / "muara.service"
    local.write_text(unit.replace("/opt/muara/bin/muara", str(muara)), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
