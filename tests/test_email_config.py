"""E-mail settings: mailboxes in the TOML, their passwords only from the environment or a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.config import ConfigError, load_settings
from muara.ingest.email import EmailCollector
from muara.ingest.registry import build_collectors

MAILBOX = """
[[email]]
name = "aduan"
host = "imap.pemkot.go.id"
user = "aduan@pemkot.go.id"
"""


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "muara.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_password_in_the_toml_is_refused(tmp_path: Path) -> None:
    path = _toml(tmp_path, MAILBOX + 'password = "rahasia"\n')
    with pytest.raises(ConfigError, match=r"email\[0\]\.password") as err:
        load_settings(path)
    assert "rahasia" not in str(err.value)


def test_the_password_comes_from_a_named_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADUAN_IMAP_PASSWORD", "s3cret")
    settings = load_settings(_toml(tmp_path, MAILBOX + 'password_env = "ADUAN_IMAP_PASSWORD"\n'))
    (mailbox,) = settings.email
    assert mailbox.password is not None and mailbox.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert (mailbox.tls, mailbox.folder, mailbox.after_store) == ("implicit", "INBOX", "seen")
    assert mailbox.max_message_bytes == 10 * 1024 * 1024


def test_the_password_comes_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "imap-password"
    secret.write_text("dari-berkas\n", encoding="utf-8")
    settings = load_settings(_toml(tmp_path, MAILBOX + f'password_file = "{secret}"\n'))
    assert settings.email[0].password is not None
    assert settings.email[0].password.get_secret_value() == "dari-berkas"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("", "no password"),
        ('password_env = "NOT_SET_ANYWHERE"\n', "no password"),
        ('password_file = "/nonexistent/pw"\n', "cannot read"),
        ('password_env = "PW"\ntls = "none"\n', "loopback"),
        ('password_env = "PW"\nafter_store = "move"\n', "move_to"),
        ('password_env = "PW"\nmove_to = "Done"\n', "move_to"),
        ('password_env = "PW"\nidle_seconds = 1800\n', "idle_seconds"),
        ('password_env = "PW"\ntls = "ssl"\n', "tls"),
    ],
)
def test_bad_mailbox_settings_name_the_problem(
    lines: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW", "x")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigError, match=message):
        load_settings(_toml(tmp_path, MAILBOX + lines))


def test_plain_imap_is_allowed_on_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PW", "x")
    text = MAILBOX.replace("imap.pemkot.go.id", "127.0.0.1") + 'password_env = "PW"\ntls = "none"\n'
    assert load_settings(_toml(tmp_path, text)).email[0].tls == "none"


def test_the_registry_builds_one_collector_per_mailbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: AsyncEngine
) -> None:
    monkeypatch.setenv("PW", "x")
    second = MAILBOX.replace('"aduan"', '"aduan-2"')
    settings = load_settings(_toml(tmp_path, MAILBOX + 'password_env = "PW"\n' + second
                                   + 'password_env = "PW"\n'))  # fmt: skip
    collectors = build_collectors(settings, engine=engine)
    assert [c.name for c in collectors] == ["aduan", "aduan-2"]
    assert all(isinstance(c, EmailCollector) and c.channel == "email" for c in collectors)
    with pytest.raises(ValueError, match="engine"):
        build_collectors(settings)
    with pytest.raises(ConfigError, match="source names must be unique; repeated: aduan"):
        load_settings(_toml(tmp_path, (MAILBOX + 'password_env = "PW"\n') * 2))
