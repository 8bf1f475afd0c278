"""What can go wrong with a mailbox, in our words: library errors are translated here, at the
boundary, so callers (and logs) see a class and a message free of personal data."""

from __future__ import annotations


class MailboxError(Exception):
    """A mailbox could not be read this time; the next poll tries again."""


class MailboxUnavailableError(MailboxError):
    """The server could not be reached, or the connection broke (network, TLS, timeout)."""


class MailboxLoginError(MailboxError):
    """The server refused the user name or password."""


class MailboxFolderError(MailboxError):
    """The configured folder (or the move_to folder) cannot be used."""


class MailboxProtocolError(MailboxError):
    """The server answered something the IMAP client could not use."""
