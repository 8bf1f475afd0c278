"""Text normalisation for Indonesian complaints, and masking of personal data.

Pure functions only. `normalise` prepares text for the model's features; `mask_personal_data`
keeps the rest of a text readable for logs while hiding what DESIGN.md invariant 6 protects.
"""

from __future__ import annotations

import re
import unicodedata

# Bumped whenever `normalise` changes its output, so a model trained on the old output is known
# stale (the model records it; the starter model is retrained when it differs).
NORMALISER_VERSION = 1

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# NIK (and KK numbers, which have the same shape): 16 digits, written solid or in groups
# ("3201 0123 4567 0001", "3201.0123..."). Longer runs are masked too: they contain 16 digits.
_NIK = re.compile(r"(?<!\d)\d(?:[ .-]?\d){15,}(?!\d)")
_PHONE = re.compile(
    r"""
    (?<!\d)
    (?:
        (?:\+62|62|0)[ .-]?8\d(?:[ .-]?\d){6,12}              # mobile: 08.., 628.., +62 8..
      | \+62[ .-]?\(?[2-9]\d{0,2}\)?(?:[ .-]?\d){5,8}          # landline with country code
      | \(?0[2-79]\d{1,2}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}         # landline: (021) 555-1234
    )
    (?!\d)
    """,
    re.VERBOSE,
)
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1{2,}")
_WHITESPACE = re.compile(r"\s+")

# Placeholders in the model's text: one distinct word token each, unlike any Indonesian word.
URL_TOKEN = "__url__"
EMAIL_TOKEN = "__email__"
NIK_TOKEN = "__nik__"
PHONE_TOKEN = "__telp__"

# Placeholders in text meant for people (logs, error messages).
EMAIL_MASK = "[email]"
NIK_MASK = "[nik]"
PHONE_MASK = "[telepon]"


def _mask(text: str, *, email: str, nik: str, phone: str) -> str:
    # Order matters: an e-mail address may hold digits, and a NIK must not be read as a phone.
    text = _EMAIL.sub(email, text)
    text = _NIK.sub(nik, text)
    return _PHONE.sub(phone, text)


def mask_personal_data(text: str) -> str:
    """Hide e-mail addresses, NIK and phone numbers so a text may be logged or shown safely."""
    return _mask(text, email=EMAIL_MASK, nik=NIK_MASK, phone=PHONE_MASK)


def normalise(text: str) -> str:
    """Fold the ways citizens write the same thing into one, so the model sees the words alike."""
    # NFKC first: it turns full-width and styled characters (even some digits) into plain ones.
    text = unicodedata.normalize("NFKC", text).lower()
    text = _URL.sub(f" {URL_TOKEN} ", text)
    text = _mask(text, email=f" {EMAIL_TOKEN} ", nik=f" {NIK_TOKEN} ", phone=f" {PHONE_TOKEN} ")
    text = _REPEATED_LETTER.sub(r"\1", text)
    return _WHITESPACE.sub(" ", text).strip()
