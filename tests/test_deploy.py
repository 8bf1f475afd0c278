"""Deployment files that operators copy must be valid as shipped."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from muara.config import load_settings

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "deploy" / "systemd" / "muara.service"

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
)


def directives(unit: str) -> dict[str, list[str]]:
    """Each directive of the unit with its values, in order (comments and sections out)."""
    found: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def local_copy(tmp_path: Path) -> Path:
    """The unit pointing at this checkout's command (systemd-analyze checks ExecStart exists)."""
    muara = Path(sys.executable).parent / "muara"
    local = tmp_path / "muara.service"
    text = UNIT.read_text(encoding="utf-8").replace("/opt/muara/bin/muara", str(muara))
    local.write_text(text, encoding="utf-8")
    return local


@needs_systemd_analyze
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(local_copy(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "muara.service" not in result.stderr, result.stderr  # no warning about the unit


def test_the_systemd_unit_is_hardened() -> None:
    unit = directives(UNIT.read_text(encoding="utf-8"))
    expected = {
        "User": "muara",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "RestrictNamespaces": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "UMask": "0077",
    }
    for key, value in expected.items():
        assert unit.get(key) == [value], key
    assert "@system-service" in unit["SystemCallFilter"]
    assert unit["StateDirectory"] == ["muara"]
    assert unit["ReadWritePaths"] == ["-/srv/spool"]
    # A configuration error (exit 2) must not restart in a loop.
    assert unit["RestartPreventExitStatus"] == ["2"]
    # The daemon never runs as root, and never migrates by itself before start (upgrades are
    # an operator's step: replicas must not race to migrate).
    assert "ExecStartPre" not in unit


@needs_systemd_analyze
def test_the_systemd_unit_exposes_little(tmp_path: Path) -> None:
    # systemd's own score of the sandbox (0 best .. 10 worst); 2.0 is "OK" with room to spare.
    result = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=true",
            "--threshold=20",
            str(local_copy(tmp_path)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    level = re.search(r"Overall exposure level for muara\.service: ([\d.]+)", result.stdout)
    assert level is not None, result.stdout
    assert float(level.group(1)) <= 2.0


def test_the_units_credentials_reach_muaras_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What systemd does at start: copy each LoadCredential= file into %d, set Environment=.
    unit = directives(UNIT.read_text(encoding="utf-8"))
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    loaded = {}
    for entry in unit["LoadCredential"]:
        name, source = entry.split(":", 1)
        assert source.startswith("/etc/muara/credentials/"), source
        (credentials / name).write_text(f"secret-of-{name}\n", encoding="utf-8")
        (credentials / name).chmod(0o400)
        loaded[name] = f"secret-of-{name}"
    for entry in unit["Environment"]:
        name, value = entry.split("=", 1)
        assert name.startswith("MUARA_"), name
        monkeypatch.setenv(name, value.replace("%d", str(credentials)))
    settings = load_settings(None)
    assert settings.log_format == "json"
    assert settings.lapor.token is not None and settings.lapor.key is not None
    assert settings.lapor.token.get_secret_value() == loaded["lapor-token"]
    assert settings.lapor.key.get_secret_value() == loaded["lapor-key"]
