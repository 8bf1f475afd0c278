"""`muara check-config` warns about secrets others may read and a config others may change,
naming the setting and the file, never the secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from muara.cli import main

SECRET = "s3cret-token-value"


def config_with_token_file(tmp_path: Path, mode: int, extra: str = "") -> Path:
    """A config on a SQLite store whose LAPOR! token comes from a file of the given mode."""
    token = tmp_path / "lapor-token"
    token.write_text(SECRET + "\n", encoding="utf-8")
    token.chmod(mode)
    config = tmp_path / "muara.toml"
    config.write_text(
        f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path / "m.db"}"\n'
        f'[lapor]\ntoken_file = "{token}"\n{extra}',
        encoding="utf-8",
    )
    config.chmod(0o644)
    return config


@pytest.mark.parametrize(("mode", "who"), [(0o640, "its group"), (0o644, "group and others")])
def test_a_secret_file_others_may_read_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int, who: str
) -> None:
    config = config_with_token_file(tmp_path, mode)
    assert main(["--config", str(config), "check-config"]) == 0  # a warning, not a failure
    out = capsys.readouterr().out
    token = tmp_path / "lapor-token"
    line = re.search(r"^WARN lapor.token_file +(.*)$", out, re.MULTILINE)
    assert line is not None, out
    assert f"{token} is readable by {who} (mode {mode:04o})" in line.group(1)
    assert "chmod 0600" in line.group(1)
    assert SECRET not in out


def test_a_secret_file_only_its_owner_reads_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with_token_file(tmp_path, 0o600)
    assert main(["--config", str(config), "check-config"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ok   lapor.token_file +.*lapor-token \(mode 0600\)$", out, re.MULTILINE)
    assert "WARN" not in out
    assert SECRET not in out


def test_every_kind_of_secret_file_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    imap = tmp_path / "imap-password"
    imap.write_text("Xq9-mailbox-secret", encoding="utf-8")
    imap.chmod(0o604)
    key = tmp_path / "lapor-key"
    key.write_text("Kq7-header-secret", encoding="utf-8")
    key.chmod(0o660)
    monkeypatch.setenv("MUARA_LAPOR__KEY_FILE", str(key))  # as the systemd unit gives it
    config = config_with_token_file(
        tmp_path,
        0o600,
        f'[[email]]\nname = "aduan"\nhost = "127.0.0.1"\nport = 1\ntls = "none"\n'
        f'user = "aduan"\npassword_file = "{imap}"\n',
    )
    main(["--config", str(config), "check-config"])  # the mailbox is unreachable: FAIL, exit 1
    out = capsys.readouterr().out
    assert re.search(r"^WARN lapor.key_file +.*lapor-key is readable by its group", out, re.M)
    assert re.search(
        r"^WARN email\[0\].password_file +.*imap-password is readable by group and others",
        out,
        re.M,
    )
    assert re.search(r"^ok   lapor.token_file", out, re.M)
    assert "Xq9-mailbox-secret" not in out and "Kq7-header-secret" not in out


def test_a_config_file_anyone_may_change_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with_token_file(tmp_path, 0o600)
    config.chmod(0o666)
    assert main(["--config", str(config), "check-config"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^WARN config +{re.escape(str(config))} .*writable by anyone", out, re.M)
    config.chmod(0o644)
    assert main(["--config", str(config), "check-config"]) == 0
    assert "WARN" not in capsys.readouterr().out


def test_a_store_password_in_the_config_file_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "muara.toml"
    config.write_text(
        '[store]\nurl = "postgresql+asyncpg://muara:hunter2@127.0.0.1:1/muara"\n', encoding="utf-8"
    )
    main(["--config", str(config), "check-config"])  # nothing listens on port 1: store FAIL
    out = capsys.readouterr().out
    assert re.search(r"^WARN store.url +.*holds the store's password .*MUARA_STORE__URL", out, re.M)
    assert "hunter2" not in out
