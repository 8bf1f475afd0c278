"""The `muara` command line: clear errors, real connections, the operator's view."""

from __future__ import annotations

import asyncio
import csv
import re
from pathlib import Path

import pytest

from muara import __version__
from muara.classify.starter import starter_examples
from muara.cli import main
from muara.exporters.lapor.simulator import SimulatorServer, SimulatorState
from tests.processes import MuaraProcess


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"muara {__version__}"


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[http]\nport = "high"\n', "http.port"),
        ("[lapor]\ntoken = 'abc'\n", "lapor.token"),
        ("[workers]\nbatch_size = 0\n", "workers.batch_size"),
        ("[[spool]]\nname = 'x'\n", "spool.0.path"),
        ("[stor]\nurl = 'x'\n", "stor"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_a_bad_config_names_the_field_and_exits_2(
    toml: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "muara.toml", toml)
    assert main(["--config", str(config), "check-config"]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


def test_a_missing_config_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.toml"), "status"]) == 2
    assert "no such config file" in capsys.readouterr().err


def test_env_overrides_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path / "muara.toml", '[store]\nurl = "postgresql+asyncpg://nobody@127.0.0.1:1/x"\n'
    )
    monkeypatch.setenv("MUARA_STORE__URL", f"sqlite+aiosqlite:///{tmp_path / 'env.db'}")
    assert main(["--config", str(config), "check-config"]) == 0
    assert "env.db" in capsys.readouterr().out


def test_check_config_connects_and_names_what_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(
        tmp_path / "muara.toml",
        f"""
[store]
url = "postgresql+asyncpg://postgres@127.0.0.1:1/muara"
[[spool]]
name = "cc"
path = "{tmp_path / "a-file"}"
[classifier]
model_path = "{tmp_path / "missing.skops"}"
""",
    )
    write(tmp_path / "a-file", "")
    assert main(["--config", str(config), "check-config"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"FAIL store.url +cannot connect", out)
    assert re.search(r"FAIL spool\[0\].path +.*is not a folder", out)
    assert re.search(r"FAIL classifier.model_path", out)


async def test_check_config_calls_lapor_with_the_configured_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with SimulatorServer(SimulatorState(), token="right", key="k") as sim:
        config = write(
            tmp_path / "muara.toml",
            f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path / "m.db"}"\n'
            f'[lapor]\nbase_url = "{sim.url}"\n',
        )
        monkeypatch.setenv("MUARA_LAPOR__TOKEN", "wrong")
        monkeypatch.setenv("MUARA_LAPOR__KEY", "k")
        code = await asyncio.to_thread(main, ["--config", str(config), "check-config"])
        assert code == 1
        assert re.search(r"FAIL lapor.base_url +LaporAuthError", capsys.readouterr().out)
        monkeypatch.setenv("MUARA_LAPOR__TOKEN", "right")
        code = await asyncio.to_thread(main, ["--config", str(config), "check-config"])
        assert code == 0, capsys.readouterr().out


def test_migrate_then_status_on_an_empty_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(
        tmp_path / "muara.toml", f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path / "m.db"}"\n'
    )
    assert main(["--config", str(config), "status"]) == 0
    assert "the store is empty" in capsys.readouterr().out
    assert main(["--config", str(config), "migrate"]) == 0
    assert "migrated from empty" in capsys.readouterr().out
    assert main(["--config", str(config), "migrate"]) == 0
    assert "already at revision" in capsys.readouterr().out
    assert main(["--config", str(config), "status"]) == 0
    out = capsys.readouterr().out
    assert "(no complaints yet)" in out and "quarantined inputs: 0" in out


def test_train_saves_a_model_that_check_config_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "history.csv"
    with data.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["isi", "dinas"])
        writer.writerows(starter_examples())
    model = tmp_path / "model.skops"
    args = ["train", "--csv", str(data), "--text-column", "isi", "--label-column", "dinas"]
    assert main([*args, "--out", str(model)]) == 0
    assert model.exists() and "model_path" in capsys.readouterr().out
    config = write(
        tmp_path / "muara.toml",
        f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path / "m.db"}"\n'
        f'[classifier]\nmodel_path = "{model}"\n',
    )
    assert main(["--config", str(config), "check-config"]) == 0
    assert re.search(r"ok +classifier.model_path +.*17 labels", capsys.readouterr().out)


def test_train_names_a_missing_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default data_dir is ./muara-data: never the checkout's own
    data = write(tmp_path / "h.csv", "text,agency\nhalo,DLH\n")
    assert main(["train", "--csv", str(data), "--label-column", "dinas"]) == 1
    assert "dinas" in capsys.readouterr().err


async def test_run_with_a_bad_config_fails_at_start_with_the_field_not_a_traceback(
    tmp_path: Path,
) -> None:
    config = write(tmp_path / "muara.toml", "[workers]\nlease_seconds = -1\n")
    process = await MuaraProcess.start("--config", str(config), "run")
    async with asyncio.timeout(60):
        code = await process.process.wait()
        await process.stop(0)
    assert code == 2
    text = "\n".join(process.lines)
    assert "workers.lease_seconds" in text and "Traceback" not in text


async def test_run_with_an_unreachable_store_says_so_without_a_traceback(tmp_path: Path) -> None:
    config = write(
        tmp_path / "muara.toml",
        f'data_dir = "{tmp_path}"\n[store]\nurl = "postgresql+asyncpg://postgres@127.0.0.1:1/x"\n',
    )
    process = await MuaraProcess.start("--config", str(config), "run")
    async with asyncio.timeout(60):
        code = await process.process.wait()
        await process.stop(0)
    assert code == 1
    text = "\n".join(process.lines)
    assert "cannot start" in text and "Traceback" not in text
