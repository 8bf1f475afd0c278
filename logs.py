"""Logging set-up: human-readable by default, JSON lines on request, personal data masked.

Muara's own messages carry ids and counts only; the scrubbing filter is the second line of
defence for a message from a library that quotes its input (DESIGN.md invariant 6).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from muara.classify.text import mask_personal_data

HANDLER_NAME = "muara"


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


def configure_logging(level: str, fmt: str) -> None:
    """Send logs to stderr in `fmt` ("text" or "json") at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(PersonalDataFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    # Replace only our own handler: an embedding program's (or pytest's) handlers stay.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != HANDLER_NAME] + [handler]
    root.setLevel(level)
    # Third-party chatter that would drown ours at INFO.
    # SQLAlchemy logs statements with their parameters (complaint text, reporters) from INFO:
    # only `store.echo` turns that on, never log_level (DESIGN.md invariant 6).
    for noisy in ("aiohttp.access", "alembic.runtime.migration", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # These print SQL parameters at DEBUG: never below INFO, whatever log_level says.
    for leaky in ("aiosqlite", "asyncpg"):
        logging.getLogger(leaky).setLevel(max(logging.INFO, logging.getLevelName(level)))
