"""Sources are told apart: unique names, and call sources that never share a channel (a call is
stored once per channel and call id, so two call systems on one channel would lose calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from muara.cli import main
from muara.config import ConfigError, load_settings
from muara.ingest.registry import build_collectors


def write_config(tmp_path: Path, body: str, *, demo: bool = False) -> Path:
    config = tmp_path / "muara.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\ndemo = {str(demo).lower()}\n'
        f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path / "m.db"}"\n{body}',
        encoding="utf-8",
    )
    return config


def spool(name: str, channel: str | None = None, kind: str = "spool") -> str:
    line = f'channel = "{channel}"\n' if channel else ""
    return f'[[{kind}]]\nname = "{name}"\npath = "/tmp/{name}"\n{line}'


@pytest.mark.parametrize(
    ("body", "names", "channel"),
    [
        (spool("vendor-a") + spool("vendor-b"), "'vendor-a', 'vendor-b'", "callcenter"),
        (
            spool("logs-112", "112") + spool("stt-112", kind="transcripts"),
            "'logs-112', 'stt-112'",
            "112",
        ),
    ],
)
def test_call_sources_sharing_a_channel_are_refused_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, names: str, channel: str
) -> None:
    config = write_config(tmp_path, body)
    assert main(["--config", str(config), "check-config"]) != 0
    said = capsys.readouterr()
    message = said.out + said.err
    assert f"sources {names} all record under channel {channel!r}" in message
    assert "give each source its own `channel`" in message


def test_call_sources_on_their_own_channels_load(tmp_path: Path) -> None:
    body = spool("vendor-a") + spool("vendor-b", "callcenter-b") + spool("stt", kind="transcripts")
    settings = load_settings(write_config(tmp_path, body))
    assert [s.channel for s in settings.spool] == ["callcenter", "callcenter-b"]
    assert [collector.name for collector in build_collectors(settings)] == [
        "vendor-a",
        "vendor-b",
        "stt",
    ]


def test_a_source_name_used_twice_is_refused_across_kinds(tmp_path: Path) -> None:
    body = spool("aduan") + spool("aduan", "112", kind="transcripts")
    with pytest.raises(ConfigError, match="source names must be unique; repeated: aduan"):
        load_settings(write_config(tmp_path, body))


def test_the_demo_spool_does_not_share_a_configured_spools_channel(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, spool("vendor-a"), demo=True))
    with pytest.raises(ValueError, match="all record under channel 'callcenter'"):
        build_collectors(settings)
    moved = load_settings(write_config(tmp_path, spool("vendor-a", "hotline"), demo=True))
    assert "vendor-a" in [collector.name for collector in build_collectors(moved)]


@pytest.mark.parametrize(
    ("body", "where", "known"),
    [
        (spool("vendor-a") + 'chanel = "hotline"\n', "spool.0.chanel", "channel, columns,"),
        ('[lapor]\ntokne_file = "/etc/t"\n', "lapor.tokne_file", "token, token_file,"),
        ("[retention]\nclosed_dayz = 30\n", "retention.closed_dayz", "anonymise_after,"),
        ("[router.duplicates]\nwindow = 3\n", "router.duplicates.window", "enabled, event_days"),
    ],
)
def test_a_misspelt_key_in_a_section_is_an_error_not_a_silent_default(
    tmp_path: Path, body: str, where: str, known: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write_config(tmp_path, body))
    assert f"  {where}: unknown key (misspelt?); known here: " in str(err.value)
    assert known in str(err.value)
