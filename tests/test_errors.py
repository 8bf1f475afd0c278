"""What logs may say about an error: the class and the OS or SQLite code, never the message."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from muara.errors import error_summary


def test_an_os_error_names_its_code() -> None:
    err = OSError(errno.ENOSPC, "No space left on device", "/srv/spool/inbox/Budi.csv")
    assert error_summary(err) == "OSError: ENOSPC, No space left on device"


def test_a_wrapped_os_error_is_found_through_the_chain() -> None:
    try:
        try:
            raise FileNotFoundError(errno.ENOENT, "gone")
        except FileNotFoundError as inner:
            raise RuntimeError("Budi Santoso 0812-0000-1001") from inner
    except RuntimeError as outer:
        assert error_summary(outer) == "RuntimeError: ENOENT, No such file or directory"


def test_a_sqlite_error_names_its_result_code_not_the_statement() -> None:
    engine = create_engine("sqlite://")
    with pytest.raises(OperationalError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE name = 'Budi'"))
    assert isinstance(caught.value.orig, sqlite3.OperationalError)
    assert error_summary(caught.value) == "OperationalError: SQLITE_ERROR"


def test_other_errors_are_their_class_only() -> None:
    assert error_summary(ValueError("0812-0000-1001 is not a date")) == "ValueError"
    assert error_summary(OSError("no errno")) == "OSError"
