"""The e-mail channel: IMAP mailboxes citizens write to (see `collector.EmailCollector`)."""

from muara.ingest.email.collector import EmailCollector

__all__ = ["EmailCollector"]
