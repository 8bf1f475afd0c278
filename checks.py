"""`muara check-config`: validate the settings, then actually connect to each part they name."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import aiohttp
from sqlalchemy.exc import SQLAlchemyError

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


async def run_checks(settings: Settings) -> list[CheckResult]:
    """Every check, in the order an operator would fix them."""
    results = [CheckResult("config", True, "valid")]
    results.append(await check_store(settings))
    results.extend(check_spools(settings))
    results.extend(check_transcripts(settings))
    results.extend(await check_x(settings))
    results.extend(await check_email(settings))
    results.append(await asyncio.to_thread(check_model, settings))
    results.append(await check_lapor(settings))
    return results
