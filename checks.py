"""`muara check-config`: validate the settings, then actually connect to each part they name."""

from __future__ import annotations

import asyncio
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from muara.config import Settings
from muara.exporters.lapor.client import LaporClient
from muara.exporters.lapor.errors import LaporError
from muara.store.engine import StoreConfigError, create_engine, current_revision, head_revision


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: the config field it concerns, whether it passed, and what was found."""

    name: str
    ok: bool
    detail: str
    # Passed, but an operator should act: printed as WARN, the exit status stays 0.
    warning: bool = False


async def check_store(settings: Settings) -> CheckResult:
    """Connect to the store and compare its schema revision with this release's."""
    try:
        engine = create_engine(settings.store_url)
    except StoreConfigError as err:
        return CheckResult("store.url", False, str(err))
    try:
        revision = await current_revision(engine)
    except (SQLAlchemyError, OSError) as err:
        return CheckResult("store.url", False, f"cannot connect: {type(err).__name__}: {err}")
    finally:
        await engine.dispose()
    url = engine.url.render_as_string(hide_password=True)
    if revision is None:
        return CheckResult("store.url", True, f"{url}: empty (`muara run` migrates it)")
    if revision != head_revision():
        return CheckResult(
            "store.url",
            False,
            f"{url}: at revision {revision}, needs {head_revision()}: run `muara migrate`",
        )
    return CheckResult("store.url", True, f"{url}: revision {revision}")


def check_spools(settings: Settings) -> list[CheckResult]:
    """Each spool folder must exist (or be creatable) and be writable: files are moved out."""
    results = []
    for index, source in enumerate(settings.spool):
        name = f"spool[{index}].path"
        path = source.path
        if path.exists() and not path.is_dir():
            results.append(CheckResult(name, False, f"{path} is not a folder"))
        elif path.exists() and not os.access(path, os.W_OK | os.X_OK):
            results.append(CheckResult(name, False, f"{path} is not writable"))
        elif not path.exists() and not os.access(_existing_parent(path), os.W_OK):
            results.append(CheckResult(name, False, f"{path} does not exist and cannot be made"))
        else:
            results.append(CheckResult(name, True, f"{source.name}: {path}"))
    return results


def check_transcripts(settings: Settings) -> list[CheckResult]:
    """Each 112 transcript folder must exist (or be creatable) and be writable, like a spool."""
    results = []
    for index, source in enumerate(settings.transcripts):
        name, path = f"transcripts[{index}].path", source.path
        if path.exists() and not path.is_dir():
            results.append(CheckResult(name, False, f"{path} is not a folder"))
        elif os.access(path if path.exists() else _existing_parent(path), os.W_OK | os.X_OK):
            results.append(CheckResult(name, True, f"{source.name}: {path}"))
        else:
            results.append(CheckResult(name, False, f"{path} is not writable"))
    return results


async def check_x(settings: Settings) -> list[CheckResult]:
    """Each X source: its token, and one real page of each of its feeds."""
    from muara.ingest.x.check import check_x_source

    results = []
    for index, source in enumerate(settings.x):
        field, ok, detail = await check_x_source(source)
        name = f"x[{index}]" if field == "x" else f"x[{index}].{field}"
        results.append(CheckResult(name, ok, detail))
    return results


async def check_email(settings: Settings) -> list[CheckResult]:
    """Each mailbox: log in and open its folder, as the collector will."""
    from muara.ingest.email.check import check_mailbox

    results = []
    for index, mailbox in enumerate(settings.email):
        ok, detail = await check_mailbox(mailbox)
        results.append(CheckResult(f"email[{index}]", ok, detail))
    return results


def _existing_parent(path: os.PathLike[str]) -> str:
    current = os.path.abspath(path)
    while not os.path.exists(current):
        current = os.path.dirname(current)
    return current


def check_model(settings: Settings) -> CheckResult:
    """A configured model must load; without one the starter model is used."""
    from muara.classify.errors import ModelLoadError
    from muara.classify.model import load_model

    path = settings.classifier.model_path
    if path is None:
        return CheckResult("classifier.model_path", True, "not set: the bundled starter model")
    try:
        model = load_model(path)
    except ModelLoadError as err:
        return CheckResult("classifier.model_path", False, str(err))
    return CheckResult(
        "classifier.model_path",
        True,
        f"{path}: version {model.version}, {len(model.labels)} labels",
    )


def check_gazetteer(settings: Settings) -> CheckResult:
    """The gazetteer must exist and parse: a bad row is a place the daemon cannot route to."""
    from muara.classify.errors import ClassifyError
    from muara.classify.location import inspect_gazetteer

    path = settings.classifier.gazetteer_path
    if path is None:
        return CheckResult(
            "classifier.gazetteer_path", True, "not set: local offices only from channel metadata"
        )
    try:
        found = inspect_gazetteer(path)
    except ClassifyError as err:
        return CheckResult("classifier.gazetteer_path", False, str(err))
    return CheckResult(
        "classifier.gazetteer_path",
        True,
        f"{path}: {found.districts} districts, {found.subdistricts} subdistricts",
    )


def check_relevance(settings: Settings) -> CheckResult:
    """The relevance model the X collector will use must load (only checked with X sources)."""
    from muara.classify.errors import ModelLoadError
    from muara.classify.relevance_model import SEED_FILENAME, RelevanceModel, relevance_path

    name = "classifier.relevance_model_path"
    path = relevance_path(settings)
    if settings.classifier.relevance_model_path is None and path.name == SEED_FILENAME:
        return CheckResult(name, True, "not set: the bundled seed model")
    try:
        model = RelevanceModel.load(path)
    except ModelLoadError as err:
        return CheckResult(name, False, str(err))
    return CheckResult(name, True, f"{path}: version {model.version}")


async def check_lapor(settings: Settings) -> CheckResult:
    """Call the institutions master list with the configured credentials."""
    lapor = settings.lapor
    if not lapor.enabled:
        return CheckResult("lapor", True, "disabled")
    if lapor.base_url is None:
        return CheckResult("lapor.base_url", True, "not set: an in-process simulator")
    if lapor.token is None or lapor.key is None:
        missing = "lapor.token" if lapor.token is None else "lapor.key"
        return CheckResult(
            missing,
            False,
            f"not set (MUARA_{missing.upper().replace('.', '__')} or a *_file setting)",
        )
    async with aiohttp.ClientSession() as session:
        try:
            institutions = await LaporClient(lapor, session).list_institutions()
        except LaporError as err:
            return CheckResult("lapor.base_url", False, f"{type(err).__name__}: {err}")
    unknown = sorted(
        code
        for code, ident in lapor.institutions.items()
        if ident not in {institution.id for institution in institutions}
    )
    if unknown:
        return CheckResult(
            "lapor.institutions",
            False,
            f"ids not in LAPOR!'s master list for: {', '.join(unknown)}",
        )
    return CheckResult("lapor.base_url", True, f"{len(institutions)} institutions listed")


def secret_files(settings: Settings) -> list[tuple[str, Path]]:
    """Each configured file that holds a secret, by the setting that names it."""
    files: list[tuple[str, Path | None]] = [
        ("lapor.token_file", settings.lapor.token_file),
        ("lapor.key_file", settings.lapor.key_file),
    ]
    files += [(f"email[{i}].password_file", m.password_file) for i, m in enumerate(settings.email)]
    files += [(f"x[{i}].bearer_token_file", x.bearer_token_file) for i, x in enumerate(settings.x)]
    return [(name, path) for name, path in files if path is not None]


def check_secret_files(settings: Settings) -> list[CheckResult]:
    """A secret file others than its owner may read is a leak waiting for a shared account.

    Only the setting, the path and the mode are shown, never the file's content.
    """
    results = []
    for name, path in secret_files(settings):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError as err:  # read at load time already; gone or hidden since
            results.append(CheckResult(name, False, f"{path}: cannot stat: {err.strerror}"))
            continue
        if mode & 0o077:
            who = "group and others" if mode & 0o007 else "its group"
            results.append(
                CheckResult(
                    name,
                    True,
                    f"{path} is readable by {who} (mode {mode:04o}): chmod 0600 it, or give it "
                    "to the service with systemd's LoadCredential=",
                    warning=True,
                )
            )
        else:
            results.append(CheckResult(name, True, f"{path} (mode {mode:04o})"))
    return results


def check_config_file(path: Path) -> list[CheckResult]:
    """The TOML decides where complaints go: nobody but its owners may change it."""
    results = []
    for target, what in ((path, "the config file"), (path.resolve().parent, "its folder")):
        mode = stat.S_IMODE(target.stat().st_mode)
        if mode & stat.S_IWOTH and not (target.is_dir() and mode & stat.S_ISVTX):
            results.append(
                CheckResult(
                    "config",
                    True,
                    f"{target} ({what}) is writable by anyone (mode {mode:04o}): chmod o-w it",
                    warning=True,
                )
            )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        url = raw.get("store", {}).get("url")
        has_password = isinstance(url, str) and make_url(url).password is not None
    except (OSError, tomllib.TOMLDecodeError, ArgumentError, AttributeError):
        has_password = False  # load_settings has read this file already; nothing more to say
    if has_password:
        results.append(
            CheckResult(
                "store.url",
                True,
                f"{path} holds the store's password in store.url: give the URL as "
                "MUARA_STORE__URL (a root-only EnvironmentFile) or the password in a .pgpass",
                warning=True,
            )
        )
    return results


async def run_checks(settings: Settings, config_path: Path | None = None) -> list[CheckResult]:
    """Every check, in the order an operator would fix them."""
    results = [CheckResult("config", True, "valid")]
    if config_path is not None:
        results.extend(check_config_file(config_path))
    results.extend(check_secret_files(settings))
    results.append(await check_store(settings))
    results.extend(check_spools(settings))
    results.extend(check_transcripts(settings))
    results.extend(await check_x(settings))
    results.extend(await check_email(settings))
    results.append(await asyncio.to_thread(check_model, settings))
    results.append(await asyncio.to_thread(check_gazetteer, settings))
    if settings.x:
        results.append(await asyncio.to_thread(check_relevance, settings))
    results.append(await check_lapor(settings))
    from muara.router.checks import check_rules

    results.append(await check_rules(settings))
    return results
