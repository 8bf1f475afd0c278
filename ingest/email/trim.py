"""Trimming quoted reply history and signatures from a mail body: the complaint is what the
citizen wrote now, not the thread below it (the full text stays in the raw input).

Hand-written rather than a library: the reply-parser packages on PyPI know English clients
only, and Indonesian mail says "Pada … menulis:" and "Dikirim dari iPhone saya".
"""

from __future__ import annotations

import re

# A line that introduces the quoted message in a reply (Gmail, Apple Mail, Thunderbird in
# English, Indonesian and a few neighbours' languages). Long headers wrap, so the same
# patterns are tried on a line joined with the next one.
_REPLY_HEADER = re.compile(
    r"^(On\s.+\swrote:"
    r"|Pada\s.+\s(menulis|wrote):"
    r"|Le\s.+\sa\s+écrit\s?:"
    r"|Am\s.+\sschrieb\s.+:"
    r"|El\s.+\sescribió:"
    r")\s*$",
    re.IGNORECASE,
)
# Outlook's separators.
_ORIGINAL_MESSAGE = re.compile(
    r"^-{2,}\s*(Original Message|Pesan Asli|Pesan Awal|Pesan Sebelumnya)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^_{10,}\s*$")
_HEADER_FROM = re.compile(r"^\*?(From|Dari|Von|De)\s*:\*?\s", re.IGNORECASE)
_HEADER_OTHER = re.compile(
    r"^\*?(Sent|Date|Terkirim|Dikirim|Tanggal|To|Kepada|Subject|Subjek|Perihal|Cc)\s*:",
    re.IGNORECASE,
)
_SIGNATURE_DELIMITER = re.compile(r"^--\s?$")
# Footers mobile clients add; only recognised near the end of the text.
_CLIENT_FOOTER = re.compile(
    r"^(Sent from (my|Yahoo|Mail|Outlook)\b.*"
    r"|Sent via\s.+"
    r"|Get Outlook for\s.+"
    r"|(Dikirim|Kirim|Terkirim) (dari|melalui|via) (iPhone|iPad|ponsel|perangkat|HP|Yahoo|Outlook"
    r"|Mail|Email|Samsung|Galaxy|Xiaomi|Redmi|Oppo|Vivo|Huawei|Android|aplikasi|smartphone)\b.*"
    r")$",
    re.IGNORECASE,
)
_FOOTER_WINDOW = 3
_FOOTER_MAX_CHARS = 60
_FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|tr|terusan|wg)\s*:", re.IGNORECASE)


def is_forward(subject: str | None) -> bool:
    """True for a forwarded message: its quoted part is the content, not history."""
    return bool(subject and _FORWARD_SUBJECT.match(subject))


def trim_reply(text: str, *, keep_quotes: bool = False) -> str:
    """The new part of a mail body: without quoted history (unless `keep_quotes`), signature
    and client footers. Returns "" when nothing but quotes and signature is left."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not keep_quotes:
        lines = lines[: _history_start(lines)]
        lines = [line for line in lines if not line.lstrip().startswith(">")]
    lines = _without_signature(lines)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in lines)).strip()


def _history_start(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        joined = f"{stripped} {lines[i + 1].strip()}" if i + 1 < len(lines) else stripped
        if _REPLY_HEADER.match(stripped) or _REPLY_HEADER.match(joined):
            return i
        if _ORIGINAL_MESSAGE.match(stripped):
            return i
        if _HEADER_FROM.match(stripped) and _header_block_follows(lines, i + 1):
            return i - 1 if i > 0 and _RULE.match(lines[i - 1].strip()) else i
    return len(lines)


def _header_block_follows(lines: list[str], start: int) -> bool:
    """An Outlook header block: `From:` followed by `Sent:`/`To:`/`Subject:` lines."""
    following = [line.strip() for line in lines[start : start + 4] if line.strip()]
    return sum(1 for line in following if _HEADER_OTHER.match(line)) >= 2


def _without_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if _SIGNATURE_DELIMITER.match(line) and any(part.strip() for part in lines[:i]):
            lines = lines[:i]
            break
    content = [i for i, line in enumerate(lines) if line.strip()]
    for i in content[-_FOOTER_WINDOW:]:
        footer = lines[i].strip()
        if len(footer) <= _FOOTER_MAX_CHARS and _CLIENT_FOOTER.match(footer):
            return lines[:i]
    return lines
