"""`muara check-config` for a mailbox: connect, log in, select the folder, say what was found."""

from __future__ import annotations

import asyncio

from muara.ingest.email.errors import MailboxError
from muara.ingest.email.imap import ImapSession
from muara.ingest.settings import ImapMailbox


def _check(mailbox: ImapMailbox) -> tuple[bool, str]:
    where = f"{mailbox.host}:{mailbox.port or (993 if mailbox.tls == 'implicit' else 143)}"
    try:
        session = ImapSession.open(mailbox)
        try:
            state = session.select()
            push = "IDLE" if session.has_idle else "no IDLE: polled"
        finally:
            session.close()
    except MailboxError as err:
        return False, f"{where}: {err}"
    return True, f"{where}: folder {mailbox.folder!r}, {state.exists} message(s), {push}"


async def check_mailbox(mailbox: ImapMailbox) -> tuple[bool, str]:
    """Whether the mailbox can be read, and what was found (no personal data)."""
    return await asyncio.to_thread(_check, mailbox)
