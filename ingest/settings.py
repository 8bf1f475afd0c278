"""The sources' sections, a block each: `[[spool]]`, `[[transcripts]]`, `[[x]]`, `[[email]]`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from muara.section import Section, secret_from


class CsvColumns(Section):
    """Which CSV column holds which complaint field (a vendor's export layout)."""

    source_id: str = Field("call_id", description="Unique id of the call in the vendor's system")
    received_at: str = Field("started_at", description="When the call started (ISO 8601)")
    text: str = Field("summary", description="The agent's summary of the complaint")
    reporter_name: str | None = Field("caller_name", description="Caller's name, if recorded")
    reporter_contact: str | None = Field("caller_number", description="Caller's phone number")
    agent: str | None = Field(None, description="The agent who took the call, if recorded")
    category: str | None = Field("category", description="The call center's own category")
    district: str | None = Field("district", description="Kecamatan, if recorded")
    subdistrict: str | None = Field("subdistrict", description="Kelurahan, if recorded")


# Column layouts of two common kinds of call-center export, picked with `preset = "…"`; columns
# set explicitly next to a preset override its names. JSON Lines exports use the same names as keys.
COLUMN_PRESETS: dict[str, tuple[dict[str, str | None], str]] = {
    # A local call-center application's spreadsheet export: Indonesian headers, `;`-separated
    # (Excel's list separator in the id-ID locale), DD/MM/YYYY HH:MM times.
    "indonesian": (
        {
            "source_id": "No Tiket",
            "received_at": "Waktu Panggilan",
            "text": "Keterangan",
            "reporter_name": "Nama Penelepon",
            "reporter_contact": "No Telepon",
            "agent": "Agen",
            "category": "Kategori",
            "district": "Kecamatan",
            "subdistrict": "Kelurahan",
        },
        ";",
    ),
    # A help-desk/CRM ticket export (CSV or JSON Lines): snake_case English keys, ISO 8601 times.
    "helpdesk": (
        {
            "source_id": "ticket_id",
            "received_at": "created_at",
            "text": "description",
            "reporter_name": "contact_name",
            "reporter_contact": "contact_phone",
            "agent": "assignee",
            "category": "category",
            "district": "district",
            "subdistrict": "village",
        },
        ",",
    ),
}


class SpoolSource(Section):
    """A folder a call-center system drops CSV or JSON Lines exports into."""

    name: str = Field(description="Unique name of this source (used in metrics and status)")
    path: Path = Field(description="Folder holding inbox/, done/ and quarantine/")
    channel: str = Field("callcenter", description="Channel the complaints are recorded under")
    preset: Literal["indonesian", "helpdesk"] | None = Field(
        None, description="A vendor layout (COLUMN_PRESETS); `columns` set here override it"
    )
    columns: CsvColumns = Field(default_factory=CsvColumns, description="Column mapping")
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field delimiter")
    timezone: str = Field(
        "Asia/Jakarta", description="Time zone of timestamps that carry no offset"
    )
    poll_seconds: float = Field(5.0, gt=0, description="How often the inbox is scanned")
    max_file_bytes: int = Field(
        20 * 1024 * 1024, gt=0, description="Larger files are quarantined whole, unread"
    )
    stable_seconds: float = Field(
        1.0, ge=0, description="A file must keep its size this long before it is read"
    )

    @model_validator(mode="after")
    def _apply_preset(self) -> SpoolSource:
        if self.preset is None:
            return self
        columns, delimiter = COLUMN_PRESETS[self.preset]
        explicit = {name: getattr(self.columns, name) for name in self.columns.model_fields_set}
        self.columns = CsvColumns.model_validate({**columns, **explicit})
        if "delimiter" not in self.model_fields_set:
            self.delimiter = delimiter
        return self


class TranscriptSource(Section):
    """A folder the 112 center's speech-to-text drops call transcripts into (JSON or text)."""

    name: str = Field(description="Unique name of this source (used in metrics and status)")
    path: Path = Field(description="Folder holding inbox/, done/ and quarantine/")
    channel: str = Field("112", description="Channel the complaints are recorded under")
    timezone: str = Field(
        "Asia/Jakarta", description="Time zone of timestamps that carry no offset"
    )
    poll_seconds: float = Field(5.0, gt=0, description="How often the inbox is scanned")
    max_file_bytes: int = Field(
        1024 * 1024, gt=0, description="Larger files are quarantined whole, unread"
    )
    stable_seconds: float = Field(
        1.0, ge=0, description="A file must keep its size this long before it is read"
    )


class XSource(Section):
    """An X (Twitter) feed read with the API v2: mentions of accounts and recent-search queries."""

    name: str = Field(description="Unique name of this source (used in metrics and cursors)")
    channel: str = Field("x", description="Channel the complaints are recorded under")
    bearer_token: SecretStr | None = Field(
        None, description="App bearer token (never in the TOML: use bearer_token_env or _file)"
    )
    bearer_token_file: Path | None = Field(None, description="File holding the bearer token")
    bearer_token_env: str = Field(
        "MUARA_X_BEARER_TOKEN", description="Environment variable holding the bearer token"
    )
    account_ids: list[str] = Field(
        default_factory=list, description="Numeric ids of the accounts whose mentions are read"
    )
    queries: list[str] = Field(
        default_factory=list, description="Recent-search queries, e.g. '#LaporGub -is:retweet'"
    )
    poll_seconds: float = Field(60.0, gt=0, description="How often each feed is read")
    page_size: int = Field(100, ge=10, le=100, description="Posts asked for per page")
    backfill_pages: int = Field(
        1, ge=1, description="Pages read on a feed's first poll; older posts are not ingested"
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one API call")
    max_rate_limit_wait: float = Field(
        960.0, gt=0, description="Longest sleep on a 429 (X windows are 15 minutes)"
    )
    connect_to: str | None = Field(
        None, description="host:port to connect to for api.twitter.com (egress proxy, tests)"
    )
    ca_file: Path | None = Field(
        None, description="Extra CA bundle to trust for the X API (a TLS-inspecting proxy)"
    )

    @model_validator(mode="after")
    def _check(self) -> XSource:
        if not self.account_ids and not self.queries:
            raise ValueError(f"x source '{self.name}': give account_ids, queries or both")
        if bad := [a for a in self.account_ids if not a.isdigit()]:
            raise ValueError(
                f"x source '{self.name}': account_ids must be numeric user ids, not "
                f"{', '.join(map(repr, bad))}"
            )
        if self.connect_to is not None:
            host, _, port = self.connect_to.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"x source '{self.name}': connect_to must be host:port")
        token = os.environ.get(self.bearer_token_env)
        if self.bearer_token is None and self.bearer_token_file is None and token:
            self.bearer_token = SecretStr(token)
        self.bearer_token = secret_from(
            self.bearer_token, self.bearer_token_file, f"x '{self.name}'.bearer_token_file"
        )
        return self


class ImapMailbox(Section):
    """A mailbox citizens write to, read over IMAP; one `[[email]]` block per mailbox."""

    name: str = Field(description="Unique name of this source (used in metrics, cursors, status)")
    channel: str = Field("email", description="Channel the complaints are recorded under")
    host: str = Field(description="IMAP server host name")
    port: int | None = Field(
        None, ge=1, le=65535, description="IMAP port; default 993 (tls = implicit) or 143"
    )
    tls: Literal["implicit", "starttls", "none"] = Field(
        "implicit", description="implicit (IMAPS), starttls, or none (loopback hosts only)"
    )
    tls_ca_file: Path | None = Field(
        None, description="CA certificate(s) to trust instead of the system's (self-signed server)"
    )
    user: str = Field(description="Login name of the mailbox")
    password: SecretStr | None = Field(
        None, description="Never in the TOML: use password_env or password_file"
    )
    password_env: str | None = Field(None, description="Environment variable holding the password")
    password_file: Path | None = Field(None, description="File holding the password")
    folder: str = Field("INBOX", description="Folder read for new mail")
    after_store: Literal["seen", "move"] = Field(
        "seen", description="Once a message is stored: flag it \\Seen, or move it to move_to"
    )
    move_to: str | None = Field(
        None, description="Folder stored messages move to (after_store = 'move'); made if missing"
    )
    idle: bool = Field(True, description="Use IMAP IDLE (push) when the server offers it")
    idle_seconds: float = Field(
        300.0, ge=10, le=1740, description="Re-issue IDLE this often (RFC 2177: within 29 min)"
    )
    poll_seconds: float = Field(60.0, gt=0, description="Poll interval when the server has no IDLE")
    batch_size: int = Field(100, ge=1, le=1000, description="Messages fetched and stored per round")
    max_message_bytes: int = Field(
        10 * 1024 * 1024,
        ge=64 * 1024,
        description="Content kept per message; attachments past it are dropped, noted on the "
        "complaint",
    )
    timeout_seconds: float = Field(60.0, gt=0, description="Network timeout of one IMAP command")

    @model_validator(mode="after")
    def _check(self) -> ImapMailbox:
        where = f"email '{self.name}'"
        if self.tls == "none" and self.host not in _LOOPBACK_HOSTS:
            raise ValueError(f"{where}: tls = 'none' is allowed for loopback hosts only")
        if (self.after_store == "move") != (self.move_to is not None):
            raise ValueError(f"{where}: move_to is needed with after_store = 'move', and only then")
        if self.move_to is not None and self.move_to == self.folder:
            raise ValueError(f"{where}: move_to must differ from folder")
        from_env = os.environ.get(self.password_env) if self.password_env else None
        if self.password is None and self.password_file is None and from_env:
            self.password = SecretStr(from_env)
        self.password = secret_from(self.password, self.password_file, f"{where}.password_file")
        if self.password is None:
            raise ValueError(
                f"{where}: no password: set password_env to a variable that holds it, "
                "or password_file"
            )
        return self


_LOOPBACK_HOSTS = frozenset({"localhost", "::1"} | {f"127.0.0.{n}" for n in range(1, 255)})


def shared_call_channels(sources: list[SpoolSource | TranscriptSource]) -> list[str]:
    """Why these call sources cannot share their channels, one line per shared channel.

    A call is stored once per (channel, call id): that is what makes re-reading a file harmless.
    Two call systems number their calls independently, so on one channel the second system's
    call 1042 would be taken for the first's and silently dropped.
    """
    by_channel: dict[str, list[str]] = {}
    for source in sources:
        by_channel.setdefault(source.channel, []).append(source.name)
    return [
        f"sources {', '.join(repr(name) for name in names)} all record under channel "
        f"{channel!r}: a call id both systems use would be taken for one complaint and the "
        "later call lost; give each source its own `channel`"
        for channel, names in sorted(by_channel.items())
        if len(names) > 1
    ]
