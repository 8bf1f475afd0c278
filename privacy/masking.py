"""Pure masking of one reporter's personal data in a complaint's texts and metadata.

The patterns are the classifier's (NIK, phone, e-mail: `muara.classify.text`) and the duplicate
index's notion of "the same contact" (`muara.router.duplicates`), so what the log filter hides,
what the duplicate index links and what is forgotten are one and the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from muara.classify.text import _EMAIL, _PHONE, GREETINGS, mask_personal_data
from muara.router.duplicates import _identity

NAME_MASK = "[nama]"
HANDLE_MASK = "[akun]"
FILE_MASK = "lampiran"

# Keys of `extra` kept by anonymisation: the context statistics need, none naming a person.
# Everything else goes (X profile URLs, quoted tweets and their authors, 112 addresses, keys a
# newer collector adds that nobody reviewed yet). Free text in kept values is masked as well.
KEPT_EXTRA = frozenset(
    {
        "category", "call_category", "emergency", "dispatched_to", "duration_seconds",
        "caller_turns", "operator_turns", "lang", "date_header", "mime_defects", "truncated",
        "text_truncated", "tweet_id", "conversation_id", "edit_history_tweet_ids", "place",
        "agent", "operator",
    }
)  # fmt: skip
# Words of a name that are titles, not the person: "Bapak", "Hj.", "Ir." stay readable.
_TITLES = frozenset(
    {"bapak", "ibu", "saudara", "saudari", "haji", "hajjah", "hj", "dr", "ir", "drs", "sdr"}
)
_NAME_WORD = re.compile(r"[^\W\d_]{3,}")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")


def contact_identity(contact: str) -> str | None:
    """One form of a contact however written ("tel:62812…", "email:…", "x:handle"), or None.

    A bare X handle ("budi_sby") is taken as one; `+62 812-…`, `0812…` and `62812…` are one phone.
    """
    value = contact.strip()
    if re.fullmatch(r"[A-Za-z0-9_]{1,15}", value) and not value.isdigit():
        value = "@" + value
    return _identity(value)


def contact_kind(identity: str) -> str:
    """ "phone", "e-mail" or "X handle": what a report may say of a contact without showing it."""
    return {"tel": "phone", "email": "e-mail", "x": "X handle"}[identity.split(":", 1)[0]]


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    words: set[str] = set()
    for name in names:
        words.add(" ".join(name.split()))
        words.update(
            word
            for word in _NAME_WORD.findall(name)
            if word.casefold() not in _TITLES and word.casefold() not in GREETINGS
        )
    words.discard("")
    if not words:
        return None
    alternatives = sorted(words, key=len, reverse=True)  # a full name before its parts
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in alternatives) + r")(?!\w)", re.IGNORECASE
    )


class Masker:
    """Masks one reporter's name and handle, and every NIK, phone and e-mail, in their texts."""

    def __init__(self, names: Iterable[str | None] = (), handles: Iterable[str] = ()) -> None:
        self._names = _name_pattern(n for n in names if n)
        wanted = sorted({h.lstrip("@") for h in handles if h.lstrip("@")}, key=len, reverse=True)
        self._handles = (
            re.compile(
                r"(?<![\w@])@?(?:" + "|".join(re.escape(h) for h in wanted) + r")(?!\w)",
                re.IGNORECASE,
            )
            if wanted
            else None
        )

    def text(self, text: str) -> str:
        """The text with the reporter's name and handle and all NIK/phone/e-mail masked."""
        text = mask_personal_data(text)
        if self._handles is not None:
            text = self._handles.sub(HANDLE_MASK, text)
        if self._names is not None:
            text = self._names.sub(NAME_MASK, text)
        return text

    def optional(self, text: str | None) -> str | None:
        """`text` for a nullable column."""
        return None if text is None else self.text(text)

    def extra(self, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        """Only the kept keys of `extra`, their strings masked."""
        return {k: self._value(v) for k, v in (extra or {}).items() if k in KEPT_EXTRA}

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self._value(item) for item in value]
        if isinstance(value, dict):
            return {key: self._value(item) for key, item in value.items()}
        return value


def masker_for(name: str | None, contact: str | None) -> Masker:
    """The masker of one complaint's reporter."""
    identity = contact_identity(contact) if contact else None
    handles = [identity[2:]] if identity and identity.startswith("x:") else []
    return Masker([name], handles)


def mask_attachments(attachments: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Attachment metadata without file names (a scan of an ID card is called "KTP_Budi.jpg")."""
    masked = []
    for number, item in enumerate(attachments or (), start=1):
        entry = dict(item)
        if isinstance(entry.get("filename"), str):
            extension = _EXTENSION.search(entry["filename"])
            entry["filename"] = f"{FILE_MASK}-{number}{extension.group() if extension else ''}"
        masked.append(entry)
    return masked


def mask_occurrences(text: str, identity: str) -> tuple[str, int]:
    """`text` with every way of writing one phone number or e-mail address masked; how many."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if _identity(match.group()) != identity:
            return match.group()
        count += 1
        return "[email]" if identity.startswith("email:") else "[telepon]"

    pattern = _EMAIL if identity.startswith("email:") else _PHONE
    return pattern.sub(replace, text), count


# The separators a phone number may be written with (classify/text.py's pattern), deleted.
_SEPARATORS = str.maketrans("", "", " .-()+")


def could_mention(text: str, identity: str) -> bool:
    """A cheap necessary condition: the address or handle in the folded text, or the number's
    digits after its country or trunk prefix in the text with phone separators removed."""
    kind, _, value = identity.partition(":")
    if kind != "tel":
        return value in text.casefold()
    return value[2:] in text.translate(_SEPARATORS)


def mentions(text: str | None, identity: str) -> bool:
    """True when `text` writes the phone number or e-mail address `identity` somewhere."""
    if not text or not could_mention(text, identity):
        return False
    return mask_occurrences(text, identity)[1] > 0
