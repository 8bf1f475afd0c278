"""A real Dovecot IMAP server on loopback, for the e-mail tests and `bench/imap.py`.

Known traps, handled here: Dovecot refuses uid 0 for mail users (mail belongs to `nobody`),
every folder on the mail path needs the +x bit, and Unix socket paths must stay short (so the
server's files live in a folder of their own under /tmp, not in pytest's deep temp folders).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from muara.ingest.settings import ImapMailbox

HOST = "127.0.0.1"
# The same server on a second loopback address advertises no IDLE: the polling fallback.
NO_IDLE_HOST = "127.0.0.2"
_NO_IDLE_CAPABILITY = (
    "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE UIDPLUS MOVE NAMESPACE UNSELECT CHILDREN"
)
_DH_FILE = Path("/usr/share/dovecot/dh.pem")

_CONFIG = """\
protocols = imap
listen = {host}, {no_idle_host}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
{ssl_dh}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
mailbox_idle_check_interval = 1 secs
first_valid_uid = 1
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
    ssl = yes
  }}
}}
local {no_idle_host} {{
  protocol imap {{
    imap_capability = {no_idle_capability}
  }}
}}
"""


@dataclass(frozen=True, slots=True)
class Account:
    """A mail user of the test server; each test gets its own, so no test sees another's mail."""

    user: str
    password: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Dovecot:
    """One Dovecot process (`dovecot -F`) with plain+STARTTLS, IMAPS and no-IDLE listeners."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="muara-dovecot-"))
        self.root.chmod(0o755)
        self.port = _free_port()
        self.tls_port = _free_port()
        self.ca_file = self.root / "cert.pem"
        self._process: subprocess.Popen[bytes] | None = None
        # Every user shares one password (a static passdb): a new account is just a new name,
        # with no password file to re-read (Dovecot looks at it at most once a second).
        self.password = secrets.token_urlsafe(12)

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until it accepts connections."""
        self._prepare()
        self._spawn(timeout)

    def _prepare(self) -> None:
        nobody = pwd.getpwnam("nobody")
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(mode=0o755)
        os.chown(self.root / "mail", nobody.pw_uid, nobody.pw_gid)
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-keyout", str(self.root / "key.pem"), "-out", str(self.ca_file),
                "-subj", "/CN=localhost",
                "-addext", f"subjectAltName=DNS:localhost,IP:{HOST}",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        (self.root / "dovecot.conf").write_text(
            _CONFIG.format(
                root=self.root,
                host=HOST,
                no_idle_host=NO_IDLE_HOST,
                port=self.port,
                tls_port=self.tls_port,
                uid=nobody.pw_uid,
                gid=nobody.pw_gid,
                ssl_dh=f"ssl_dh = <{_DH_FILE}" if _DH_FILE.exists() else "",
                no_idle_capability=_NO_IDLE_CAPABILITY,
                password=self.password,
            )
        )

    def _spawn(self, timeout: float) -> None:
        dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
        with (self.root / "stderr.log").open("ab") as stderr:
            self._process = subprocess.Popen(
                [dovecot, "-F", "-c", str(self.root / "dovecot.conf")],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # its own process group: `halt` ends its children too
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start:\n{self.log()}")
            try:
                for host, port in ((HOST, self.port), (NO_IDLE_HOST, self.port),
                                   (HOST, self.tls_port)):  # fmt: skip
                    socket.create_connection((host, port), timeout=1).close()
            except OSError:
                if time.monotonic() > deadline:
                    log = self.log()
                    self.stop()
                    raise RuntimeError(f"dovecot did not start in {timeout}s:\n{log}") from None
                time.sleep(0.05)
            else:
                return

    def log(self) -> str:
        """What the server logged (for failure messages)."""
        return "".join(
            path.read_text(errors="replace")
            for path in (self.root / "dovecot.log", self.root / "stderr.log")
            if path.exists()
        )

    def halt(self) -> None:
        """Stop the server but keep its mail, so that `resume` brings it back as it was."""
        self._terminate()

    def crash(self) -> None:
        """Kill the server at once (SIGKILL): connections end without a BYE."""
        process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def resume(self, timeout: float = 20.0) -> None:
        """Start a halted server again on the same ports, with the same mail."""
        self._spawn(timeout)

    def stop(self) -> None:
        """Stop the server and remove its files."""
        self._terminate()
        shutil.rmtree(self.root, ignore_errors=True)

    def _terminate(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        # The group of the process we started (its pid): the server and its login and imap
        # processes, so open connections drop as they would when a real server goes away.
        group = process.pid
        os.killpg(group, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # a child that outlived the master

    def add_account(self) -> Account:
        """A new mail user with an empty mailbox."""
        return Account(f"u{secrets.token_hex(6)}", self.password)

    def client(self, account: Account, *, host: str = HOST) -> IMAPClient:
        """A logged-in plain-text connection (the test's "second connection")."""
        client = IMAPClient(host, self.port, ssl=False, timeout=30)
        client.login(account.user, account.password)
        return client

    def append(self, account: Account, *messages: bytes, folder: str = "INBOX") -> None:
        """Deliver `messages` with APPEND from a connection of its own."""
        with self.client(account) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for message in messages:
                client.append(folder, message)

    def mailbox(self, account: Account, *, name: str = "inbox", **overrides: Any) -> ImapMailbox:
        """Settings of a collector reading `account` over plain IMAP on loopback."""
        values: dict[str, Any] = {
            "name": name,
            "host": HOST,
            "port": self.port,
            "tls": "none",
            "user": account.user,
            "password": account.password,
            "timeout_seconds": 30,
        }
        values.update(overrides)
        return ImapMailbox.model_validate(values)

    def kick(self, account: Account) -> None:
        """Disconnect every session of `account`, as a server restart or an admin would."""
        doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        subprocess.run(
            [doveadm, "-c", str(self.root / "dovecot.conf"), "kick", account.user],
            check=True,
            capture_output=True,
        )

    def maildir(self, account: Account) -> Path:
        """Where `account`'s mail is on disk."""
        return self.root / "mail" / account.user


@contextlib.contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    """A started Dovecot, stopped (and its files removed) on exit."""
    server = Dovecot()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot per test process; tests isolate themselves with `imap_account`."""
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        pytest.fail("dovecot is not installed: apt-get install -y dovecot-imapd (.ci/run does)")
    with running_dovecot() as server:
        yield server


@pytest.fixture
def imap_account(dovecot: Dovecot) -> Account:
    """A fresh mail user with an empty mailbox."""
    return dovecot.add_account()
