"""Turning a MIME part's bytes into text whatever its charset label says, without crashing."""

from __future__ import annotations

import codecs

# Labels that in practice mean windows-1252: mail clients write "iso-8859-1" (or nothing at all)
# over text typed in Windows, whose curly quotes and dashes sit in 0x80-0x9F (the HTML standard
# decodes these labels as windows-1252 for the same reason).
_LATIN1_LABELS = frozenset({"iso-8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii"})
_ALIASES = {
    # Labels seen in the wild that Python's codec registry does not know.
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}


def codec_for(label: str | None) -> str | None:
    """Python's codec name for a charset label, or None when the label names no known codec."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        codec = codecs.lookup(name).name
        b"a".decode(
            codec, "replace"
        )  # refuses bytes-to-bytes codecs ("base64", "hex") named as charsets
    except LookupError:
        return None
    return codec


def decode_text(data: bytes, declared: str | None) -> tuple[str, str]:
    """Decode `data`; returns the text and the codec actually used.

    The declared charset is trusted while the bytes are valid in it. Otherwise: UTF-8 when the
    bytes are valid UTF-8 (mislabelled or unlabelled modern mail), else windows-1252 with
    replacement characters for the few bytes it leaves undefined.
    """
    label = (declared or "").strip().strip("\"'").lower()
    codec = None if label in _LATIN1_LABELS else codec_for(label)
    if codec is not None:
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:
            pass
    elif data.isascii():
        return data.decode("ascii"), "ascii"
    if _is_utf8(data):
        return data.decode("utf-8"), "utf-8"
    return data.decode("cp1252", errors="replace"), "cp1252"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def clean(text: str) -> str:
    """Text the store can keep: 8-bit bytes smuggled in as surrogates (headers sent unencoded)
    decoded for real, and NUL characters, which PostgreSQL refuses, removed."""
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        data = text.encode("utf-8", "surrogateescape")
        text = decode_text(data, None)[0]
    text = text.encode("utf-8", "replace").decode("utf-8")  # any other lone surrogate
    return text.replace("\x00", "")
