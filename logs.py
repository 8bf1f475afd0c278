"""Logging set-up: human-readable by default, JSON lines on request, personal data masked.

Muara's own messages carry ids and counts only; the scrubbing filter is the second line of
defence for a message from a library that quotes its input (DESIGN.md invariant 6). Libraries
that log protocol lines or request parameters at DEBUG are capped here whatever `log_level`
says: those lines carry whole complaints, and the filter cannot mask a name.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from muara.classify.text import mask_personal_data

HANDLER_NAME = "muara"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# Third-party chatter that would drown ours: never below WARNING.
# SQLAlchemy logs statements with their parameters (complaint text, reporters) from INFO: only
# `store.echo` turns that on, never log_level. alembic and aiohttp.access are merely loud;
# matplotlib's font manager writes hundreds of DEBUG lines per `muara evaluate --png`.
NOISY_LOGGERS = (
    "aiohttp.access",
    "alembic.runtime.migration",
    "sqlalchemy.engine",
    "matplotlib",
    "PIL",
)
# These print what goes over the wire at DEBUG: never below INFO.
# aiosqlite and asyncpg: SQL with its parameters. imapclient: every IMAP command and response
# line, i.e. whole messages and the LOGIN line. urllib3/requests_oauthlib/oauthlib (tweepy's
# transport): request URLs with search queries, and bodies. aiohttp.client: request URLs.
# asyncio: slow-callback warnings quote the callback's arguments (parsed messages) at DEBUG.
LEAKY_LOGGERS = (
    "aiosqlite",
    "asyncpg",
    "imapclient",
    "urllib3",
    "requests_oauthlib",
    "oauthlib",
    "tweepy",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.server",
    "aiohttp.web",
)


class PersonalDataFilter(logging.Filter):
    """Masks e-mail addresses, NIK and phone numbers in every record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_personal_data(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            # Exception text may quote input; keep the class and the traceback's code lines.
            record.exc_text = mask_personal_data(
                logging.Formatter().formatException(record.exc_info)
            )
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def make_formatter(fmt: str) -> logging.Formatter:
    """The formatter of `fmt` ("text" or "json"); the test suite's log scan uses it too."""
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def cap_library_loggers(level: str | int) -> dict[str, int]:
    """Keep noisy and leaky libraries above DEBUG whatever `level` is; returns the old levels."""
    numeric = level if isinstance(level, int) else logging.getLevelName(level)
    before: dict[str, int] = {}
    for names, floor in ((NOISY_LOGGERS, logging.WARNING), (LEAKY_LOGGERS, logging.INFO)):
        for name in names:
            logger = logging.getLogger(name)
            before[name] = logger.level
            logger.setLevel(max(floor, numeric))
    return before


def configure_logging(level: str, fmt: str) -> None:
    """Send logs to stderr in `fmt` ("text" or "json") at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(PersonalDataFilter())
    handler.setFormatter(make_formatter(fmt))
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    # Replace only our own handler: an embedding program's (or pytest's) handlers stay.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != HANDLER_NAME] + [handler]
    root.setLevel(level)
    cap_library_loggers(level)
