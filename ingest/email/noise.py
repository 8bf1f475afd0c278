"""Recognising mail that no citizen wrote: auto-replies, bounces, bulk and list mail, receipts
and calendar traffic. Answering any of it could start a mail loop; it is stored as DISCARDED
with the reason (and Muara never sends mail to a sender in the first place).

Reasons are fixed phrases naming headers and their standard values: never the sender's words.
"""

from __future__ import annotations

import re
from email.message import Message

from muara.ingest.email.mime import decode_words

_KEYWORD = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}|")
# RFC 3834 section 5: anything but "no" is automatic.
_AUTO_SUBMITTED = "Auto-Submitted"
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})
# Headers some responders set instead of (or besides) Auto-Submitted.
_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply")
_DAEMON_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)
# Subjects out-of-office responders use (Outlook, Gmail, Thunderbird; English and Indonesian).
_OUT_OF_OFFICE_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?(reply|response)|autoreply|auto:|out of (the )?office"
    r"|balasan otomatis|jawaban otomatis|pesan otomatis|di luar kantor|sedang cuti"
    r"|abwesenheitsnotiz|réponse automatique)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(ed|able)|delivery status notification|mail delivery failed"
    r"|returned mail|delivery failure|failure notice|pesan tidak terkirim)",
    re.IGNORECASE,
)


def noise_reason(message: Message, sender: str | None) -> str | None:
    """Why `message` is not a citizen's complaint, or None when it may be one."""
    auto = _token(message.get(_AUTO_SUBMITTED))
    if auto and auto != "no":
        return f"automatic message (Auto-Submitted: {auto})"
    precedence = _token(message.get("Precedence"))
    if precedence in _BULK_PRECEDENCE:
        return f"bulk mail (Precedence: {precedence})"
    if message.get("List-Id") is not None:
        return "mailing-list mail (List-Id)"
    for header in _AUTOREPLY_HEADERS:
        value = _token(message.get(header))
        if value and value not in {"no", "false", "0"}:
            return f"automatic reply ({header})"
    report = _report_type(message)
    if report == "delivery-status":
        return "delivery status notification (bounce)"
    if report == "disposition-notification":
        return "read receipt (disposition notification)"
    if any(part.get_content_type() == "message/delivery-status" for part in message.walk()):
        return "delivery status notification (bounce)"
    if message.get("Return-Path", "").strip() == "<>":
        return "automatic message (null return path)"
    if sender and _DAEMON_SENDERS.match(sender):
        return "delivery status notification (sent by a mailer daemon)"
    subject = decode_words(str(message.get("Subject", "")))
    if _OUT_OF_OFFICE_SUBJECT.match(subject):
        return "out-of-office reply (subject)"
    if _BOUNCE_SUBJECT.match(subject) and message.get_content_type().startswith("multipart/"):
        return "delivery status notification (bounce subject)"
    if method := _calendar_method(message):
        return f"calendar message (text/calendar method={method})"
    return None


def _token(value: object) -> str:
    """The first word of a header value, lowercased ("auto-replied; owner-email=…" -> …);
    anything but a plain keyword is "other" (the reason is kept; the sender wrote the value)."""
    if value is None:
        return ""
    token = re.split(r"[\s;]", str(value).strip(), maxsplit=1)[0].lower()
    return token if _KEYWORD.fullmatch(token) else "other"


def _report_type(message: Message) -> str | None:
    if message.get_content_type() != "multipart/report":
        return None
    value = message.get_param("report-type")
    return str(value).lower() if isinstance(value, str) else "unknown"


def _calendar_method(message: Message) -> str | None:
    """The METHOD of an inline calendar part: an invitation or a reply to one, not a complaint
    (a complaint with an .ics attached keeps it as an attachment)."""
    for part in message.walk():
        if part.get_content_type() != "text/calendar":
            continue
        if part.get_content_disposition() == "attachment":
            continue
        method = part.get_param("method")
        if isinstance(method, str) and method:
            token = _token(method)
            return token.upper() if token != "other" else "OTHER"
    return None
