"""The SP4N-LAPOR! v3 HTTP client: each failure becomes an error the outbox can act on safely.

What aiohttp lets us tell apart (aiohttp >= 3.10):

- Connection refused, DNS failure, TLS handshake failure (`ClientConnectorError` and subclasses)
  and a connect timeout (`ConnectionTimeoutError`, including the wait for a free pooled connection)
  happen before a byte of the request is written: `LaporNotSent`.
- A connect timeout is only recognisable as such because `connect` is set shorter than `total`:
  when the *total* timer fires, aiohttp raises a bare `TimeoutError` whatever phase it was in. So a
  total timeout is always treated as "after send" (`LaporOutcomeUnknown`), which is the safe side.
- Everything after the connection is up (read timeout, reset, server disconnect, truncated body)
  may have reached LAPOR!: `LaporOutcomeUnknown` for the filing. This includes a pooled keep-alive
  connection that the server had already closed: the request then never arrived, but aiohttp cannot
  say so, and it does not retry a POST by itself.
- A cancelled call (daemon shutdown) raises `CancelledError` untouched: the caller must treat an
  interrupted filing as outcome unknown too.

Reads (institutions, status) are safe to repeat: a failure after send there is `LaporUnavailable`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from muara.config import ConfigError
from muara.exporters.lapor.errors import (
    LaporAuthError,
    LaporError,
    LaporNotSent,
    LaporOutcomeUnknown,
    LaporRejected,
    LaporUnavailable,
)
from muara.exporters.lapor.models import AttachmentFile, Institution, LookupHit
from muara.exporters.settings import LaporSettings

log = logging.getLogger(__name__)

INSTITUTIONS_PAGE_SIZE = 1000
CONNECT_TIMEOUT_MAX = 10.0
MESSAGE_MAX = 200
# Answers in which the server says it did not process the request, whatever the method.
_NOT_PROCESSED = frozenset({408, 429, 503})


def _utcnow() -> datetime:
    return datetime.now(UTC)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait, from a `Retry-After` of delta-seconds or an HTTP-date; None if unusable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110: an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def server_message(raw: bytes) -> str:
    """LAPOR!'s own short message from an error body, without echoing anything else it sent."""
    try:
        data = json.loads(raw)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    message = data.get("message")
    text = message if isinstance(message, str) else ""
    errors = data.get("errors")
    if isinstance(errors, dict) and errors:
        text = f"{text} ({', '.join(sorted(str(field) for field in errors))})".strip()
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def complaint_id_from(data: Any) -> str | None:
    """LAPOR!'s id of a new complaint, from the current or an older response shape."""
    for path in (
        ("complaint_id",),
        ("data", "complaint_id"),
        ("results", "complaint", "id"),
        ("data", "results", "complaint", "id"),
    ):
        node = data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, int) and not isinstance(node, bool):
            return str(node)
        if isinstance(node, str) and node.strip():
            return node.strip()
    return None


def _results_data(data: Any) -> Any:
    results = data.get("results") if isinstance(data, dict) else None
    return results.get("data") if isinstance(results, dict) else None


def _institution(entry: Any) -> Institution | None:
    if not isinstance(entry, dict):
        return None
    raw_id, name = entry.get("id"), entry.get("name")
    if isinstance(raw_id, str) and raw_id.strip().isdigit():
        raw_id = int(raw_id)
    if isinstance(raw_id, bool) or not isinstance(raw_id, int) or not isinstance(name, str):
        return None
    return Institution(id=raw_id, name=name.strip())


class LaporClient:
    """Calls LAPOR! v3 with both auth headers on the caller's session (which the caller closes)."""

    def __init__(
        self,
        settings: LaporSettings,
        session: aiohttp.ClientSession,
        *,
        connect_timeout: float | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._settings = settings
        self._session = session
        self._base = _base_url(settings.base_url)
        self._headers = _auth_headers(settings)
        self._clock = clock
        total = settings.timeout_seconds
        connect = (
            min(total / 2, CONNECT_TIMEOUT_MAX) if connect_timeout is None else connect_timeout
        )
        if not 0 < connect < total:
            raise ValueError("connect_timeout must be positive and shorter than the total timeout")
        # `connect` also bounds the wait for a free pooled connection: still nothing sent.
        self._timeout = aiohttp.ClientTimeout(total=total, connect=connect, sock_connect=connect)

    async def file_complaint(self, body: Mapping[str, Any]) -> str:
        """File one complaint; LAPOR!'s id of it. Never retry on `LaporOutcomeUnknown`."""
        path = self._settings.file_path
        status, data = await self._call("POST", path, body=body, unsafe=True)
        lapor_id = complaint_id_from(data)
        if lapor_id is None:
            raise LaporOutcomeUnknown(
                f"POST {path}: HTTP {status} without a complaint id", status=status
            )
        return lapor_id

    async def list_institutions(self) -> list[Institution]:
        """LAPOR!'s institutions master list (the ids a filing may be disposed to)."""
        path = self._settings.institutions_path
        status, data = await self._call(
            "GET", path, params={"page_size": str(INSTITUTIONS_PAGE_SIZE)}
        )
        rows = _results_data(data)
        if not isinstance(rows, list):
            raise LaporUnavailable(status, None, f"GET {path}: no results.data list")
        found = [inst for inst in map(_institution, rows) if inst is not None]
        if len(found) < len(rows):
            log.warning("LAPOR! institutions: skipped %d malformed rows", len(rows) - len(found))
        if len(rows) >= INSTITUTIONS_PAGE_SIZE:
            log.warning(
                "LAPOR! institutions: a full page of %d rows; the list may be cut", len(rows)
            )
        return found

    async def complaint_status(self, lapor_id: str) -> dict[str, Any]:
        """LAPOR!'s detail of one complaint (`status_code`, `status_name`, `data_logs`, …)."""
        path = _with_id(self._settings.status_path, lapor_id)
        status, data = await self._call("GET", path)
        detail = _results_data(data)
        if not isinstance(detail, dict):
            raise LaporUnavailable(status, None, f"GET {path}: no results.data object")
        return detail

    async def followups(self, lapor_id: str) -> list[dict[str, Any]]:
        """The follow-up history of one complaint (`created_at` as `d-m-Y H:i:s`, WIB)."""
        path = _with_id(self._settings.followups_path, lapor_id)
        status, data = await self._call("GET", path)
        rows = _results_data(data)
        if not isinstance(rows, list):
            raise LaporUnavailable(status, None, f"GET {path}: no results.data list")
        return [row for row in rows if isinstance(row, dict)]

    async def list_templates(self) -> list[dict[str, Any]]:
        """LAPOR!'s reply templates master list."""
        path = self._settings.templates_path
        status, data = await self._call(
            "GET", path, params={"page_size": str(INSTITUTIONS_PAGE_SIZE)}
        )
        rows = _results_data(data)
        if not isinstance(rows, list):
            raise LaporUnavailable(status, None, f"GET {path}: no results.data list")
        return [row for row in rows if isinstance(row, dict)]

    async def upload_attachments(self, files: Sequence[AttachmentFile]) -> list[int]:
        """Upload files for a filing; the ids its `attachments` field names.

        Not an exactly-once call: an upload repeated after an unknown outcome leaves an unused
        file in LAPOR!, never a second complaint, so its failures are all retryable.
        """
        path = self._settings.upload_path
        form = aiohttp.FormData()
        for item in files:
            form.add_field(
                "attachments[]",
                item.content,
                filename=item.filename,
                content_type=item.content_type,
            )
        status, data = await self._call("POST", path, form=form)
        results = data.get("results") if isinstance(data, dict) else None
        docs = results.get("docs") if isinstance(results, dict) else None
        rows = docs if isinstance(docs, list) else []
        ids = [doc["id"] for doc in rows if isinstance(doc, dict) and _is_int(doc.get("id"))]
        if len(ids) != len(files):
            raise LaporUnavailable(status, None, f"POST {path}: no id for every file")
        return [int(ident) for ident in ids]

    async def find_by_reference(self, reference: str) -> list[LookupHit]:
        """Complaints tagged with our reference (`#MUARA-<id>`): how an unknown outcome is settled.

        The search may match loosely; only rows whose tags carry exactly our tag count.
        """
        path = self._settings.lookup_path
        status, data = await self._call(
            "GET", path, params={self._settings.lookup_param: reference}
        )
        rows = _results_data(data)
        if not isinstance(rows, list):
            raise LaporUnavailable(status, None, f"GET {path}: no results.data list")
        tag = f"#{reference}"
        hits = []
        for row in rows:
            if not isinstance(row, dict) or tag not in str(row.get("tags_raw") or "").split():
                continue
            lapor_id = complaint_id_from({"complaint_id": row.get("id")})
            if lapor_id is None:
                raise LaporUnavailable(status, None, f"GET {path}: a matching row without an id")
            disposition = row.get("disposition_id")
            hits.append(LookupHit(lapor_id, disposition if _is_int(disposition) else None))
        return hits

    async def forward(self, lapor_id: str, institution_id: int, description: str) -> None:
        """Forward a filed complaint to another institution ("not our authority").

        Like a filing, never resend on `LaporOutcomeUnknown`: read the complaint's disposition.
        """
        path = _with_id(self._settings.forward_path, lapor_id)
        body = {
            "is_request": 1,
            "reason": institution_id,
            "reason_description": description,
            "not_authority": 1,
        }
        await self._call("POST", path, body=body, unsafe=True)

    async def add_followup(self, fields: Mapping[str, str | int]) -> None:
        """Add a follow-up (multipart: `complaint_id`, `content`, `institution_from_id`, …)."""
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, str(value))
        await self._call("POST", self._settings.followup_add_path, form=form, unsafe=True)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        form: aiohttp.FormData | None = None,
        unsafe: bool = False,
    ) -> tuple[int, Any]:
        """One request; its status and parsed JSON, or the error that says what may happen next."""
        what = f"{method} {path}"
        started = time.monotonic()
        try:
            async with self._session.request(
                method,
                self._base + path,
                json=body,
                data=form,
                params=params,
                headers=self._headers,
                timeout=self._timeout,
                # A redirect means a wrong base URL, and following it would hand our `token`
                # header to whichever host it names.
                allow_redirects=False,
                raise_for_status=False,
            ) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as err:
            raise LaporNotSent(f"{what}: could not connect ({type(err).__name__})") from err
        except (TimeoutError, aiohttp.ClientError) as err:
            reason = f"{what}: no answer after sending ({type(err).__name__})"
            if unsafe:
                raise LaporOutcomeUnknown(reason) from err
            raise LaporUnavailable(None, None, reason) from err
        log.debug("LAPOR! %s: HTTP %d in %.0f ms", what, status, (time.monotonic() - started) * 1e3)
        return status, self._interpret(what, status, raw, retry_after, unsafe=unsafe)

    def _interpret(
        self, what: str, status: int, raw: bytes, retry_after: str | None, *, unsafe: bool
    ) -> Any:
        """The parsed body of a 2xx; otherwise the error its status stands for."""
        if 200 <= status < 300:
            try:
                return json.loads(raw)
            except ValueError as err:
                reason = f"{what}: HTTP {status} with a body that is not JSON"
                if unsafe:
                    raise LaporOutcomeUnknown(reason, status=status) from err
                raise LaporUnavailable(status, None, reason) from err
        raise self._status_error(what, status, server_message(raw), retry_after, unsafe=unsafe)

    def _status_error(
        self, what: str, status: int, message: str, retry_after: str | None, *, unsafe: bool
    ) -> LaporError:
        if status in (401, 403):
            return LaporAuthError(status, message)
        if status in _NOT_PROCESSED:
            return LaporUnavailable(status, parse_retry_after(retry_after, self._clock()), message)
        if 400 <= status < 500:
            return LaporRejected(status, message)
        if unsafe:
            # A 500/502/504 (or a redirect) to a POST does not say the complaint was not stored:
            # the application may have committed before failing, or behind a proxy that gave up.
            detail = f"{what}: HTTP {status}" + (f": {message}" if message else "")
            return LaporOutcomeUnknown(detail, status=status)
        if status >= 500:
            return LaporUnavailable(status, parse_retry_after(retry_after, self._clock()), message)
        return LaporRejected(status, message or "unexpected status (is lapor.base_url right?)")


def _with_id(template: str, lapor_id: str) -> str:
    return template.replace("{id}", quote(lapor_id, safe=""))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _base_url(value: str | None) -> str:
    if not value:
        raise ConfigError("lapor.base_url: not set")
    url = URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError("lapor.base_url: must be an absolute http(s) URL")
    return value.rstrip("/")


def _auth_headers(settings: LaporSettings) -> dict[str, str]:
    if settings.token is None:
        raise ConfigError("lapor.token: not set (MUARA_LAPOR__TOKEN or lapor.token_file)")
    if settings.key is None:
        raise ConfigError("lapor.key: not set (MUARA_LAPOR__KEY or lapor.key_file)")
    if settings.auth_header.strip().lower() in ("", "token"):
        raise ConfigError("lapor.auth_header: must be a header name other than 'token'")
    token = settings.token.get_secret_value()
    key = settings.key.get_secret_value()
    scheme = settings.auth_scheme.strip()
    headers = {
        settings.auth_header: f"{scheme} {token}" if scheme else token,
        "token": key,
        "Accept": "application/json",
    }
    for name, value in headers.items():
        if any(ch in value for ch in "\r\n\0"):
            raise ConfigError(f"lapor: the {name!r} header value holds a line break")
    return headers
