"""Text normalisation for Indonesian complaints, and masking of personal data.

Pure functions only. `normalise` folds spelling and masks personal data; `model_text` adds what
the model's features need on top (informal words spelled out, greetings dropped);
`mask_personal_data` keeps the rest of a text readable for logs while hiding what DESIGN.md
invariant 6 protects.
"""

from __future__ import annotations

import re
import unicodedata

# Bumped whenever `normalise` changes its output, so a model trained on the old output is known
# stale (the model records it; the starter model is retrained when it differs).
NORMALISER_VERSION = 2

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


# Every NIK and phone number has at least 8 digits, at most two separators apart; most texts
# have no such run, and skipping the two patterns then saves a third of the time to prepare one.
_DIGIT_RUN = re.compile(r"\d(?:[ .()+-]{0,2}\d){7}")


def _mask(text: str, *, email: str, nik: str, phone: str) -> str:
    # Order matters: an e-mail address may hold digits, and a NIK must not be read as a phone.
    if "@" in text:
        text = _EMAIL.sub(email, text)
    if _DIGIT_RUN.search(text):
        text = _NIK.sub(nik, text)
        text = _PHONE.sub(phone, text)
    return text


def mask_personal_data(text: str) -> str:
    """Hide e-mail addresses, NIK and phone numbers so a text may be logged or shown safely."""
    return _mask(text, email=EMAIL_MASK, nik=NIK_MASK, phone=PHONE_MASK)


def _folded_and_masked(text: str) -> str:
    # NFKC first: it turns full-width and styled characters (even some digits) into plain ones.
    text = unicodedata.normalize("NFKC", text).lower()
    if "://" in text or "www." in text:
        text = _URL.sub(f" {URL_TOKEN} ", text)
    return _mask(text, email=f" {EMAIL_TOKEN} ", nik=f" {NIK_TOKEN} ", phone=f" {PHONE_TOKEN} ")


def normalise(text: str) -> str:
    """Fold the ways citizens write the same thing into one, so the model sees the words alike."""
    text = _REPEATED_LETTER.sub(r"\1", _folded_and_masked(text))
    return _WHITESPACE.sub(" ", text).strip()


# Informal spellings, abbreviations and Javanese words citizens use for the same Indonesian word.
# Spelled out so the word features of "tdk", "gak" and "ndak" add up as "tidak".
# fmt: off
INFORMAL_WORDS: dict[str, str] = {
    # negation
    "tdk": "tidak", "gak": "tidak", "ga": "tidak", "gk": "tidak", "nggak": "tidak",
    "ngga": "tidak", "enggak": "tidak", "ndak": "tidak", "ora": "tidak", "gag": "tidak",
    # time and aspect
    "sdh": "sudah", "udh": "sudah", "udah": "sudah", "dah": "sudah", "wis": "sudah",
    "uwis": "sudah", "blm": "belum", "durung": "belum", "skrg": "sekarang", "skr": "sekarang",
    "sblm": "sebelum", "msh": "masih", "masi": "masih", "sdg": "sedang", "lg": "lagi",
    "tgl": "tanggal", "thn": "tahun", "th": "tahun", "bln": "bulan", "hr": "hari",
    # places
    "jln": "jalan", "jl": "jalan", "gg": "gang", "kel": "kelurahan", "kec": "kecamatan",
    "kab": "kabupaten", "prov": "provinsi", "sby": "surabaya",
    # function words
    "yg": "yang", "dgn": "dengan", "dg": "dengan", "utk": "untuk", "untk": "untuk",
    "krn": "karena", "karna": "karena", "dr": "dari", "dri": "dari", "kl": "kalau",
    "klo": "kalau", "kalo": "kalau", "jg": "juga", "sm": "sama", "dlm": "dalam",
    "spt": "seperti", "tsb": "tersebut", "tp": "tapi", "tpi": "tapi", "pdhl": "padahal",
    "sampe": "sampai", "bs": "bisa", "hrs": "harus", "bkn": "bukan", "lbh": "lebih",
    "ttg": "tentang", "dn": "dan", "n": "dan", "d": "di",
    # people
    "sy": "saya", "sya": "saya", "aq": "saya", "aku": "saya", "kmi": "kami", "org": "orang",
    "ortu": "orangtua", "warga2": "warga",
    # amount and emphasis
    "byk": "banyak", "bgt": "sekali", "banget": "sekali", "pol": "sekali",
    # requests
    "tlg": "tolong", "sgr": "segera", "mhn": "mohon", "pingin": "ingin", "pengen": "ingin",
}
# fmt: on

# Greetings and courtesy that open and close almost every complaint: they carry no signal about
# the agency, only noise for the word features.
_GREETING_WORDS = """
    assalamualaikum assalamu alaikum assalammualaikum wr wb warahmatullahi wabarakatuh
    warrohmatullah wabarokatuh selamat pagi siang sore malam mohon bapak ibu bpk pak bu admin
    min mimin yth kepada terima kasih makasih trims tks halo hallo permisi maaf izin ijin
    tolong dong ya mas mbak kak matur nuwun suwun maturnuwun sewu salam sehat
"""
GREETINGS = frozenset(_GREETING_WORDS.split())
_WORD_OR_MARK = re.compile(r"\w+|[^\w\s]")


# Each informal word's spelling, and "" for a greeting (also one an informal word spells out).
_REWRITES: dict[str, str] = {word: "" for word in GREETINGS} | {
    word: "" if spelled in GREETINGS else spelled for word, spelled in INFORMAL_WORDS.items()
}
# What each word a text was cut into becomes in the model's text; words repeat, so each distinct
# one is worked out once. Bounded: past the limit it starts afresh.
_MODEL_WORDS: dict[str, str] = {}
_MAX_MODEL_WORDS = 200_000


def _model_word(word: str) -> str:
    spelled = _REPEATED_LETTER.sub(r"\1", word)
    spelled = _REWRITES.get(spelled, spelled)
    if len(_MODEL_WORDS) >= _MAX_MODEL_WORDS:
        _MODEL_WORDS.clear()
    _MODEL_WORDS[word] = spelled
    return spelled


def model_text(text: str) -> str:
    """What the model's features read: normalised, informal words spelled out, greetings gone.

    The same as cutting `normalise(text)` into words and marks and rewriting each, but the cut
    comes first: a run of one letter never crosses a word's edge, so folding it word by word
    gives the same words, and each distinct word is folded and rewritten only once.
    """
    known = _MODEL_WORDS.get
    spelled_words = []
    for word in _WORD_OR_MARK.findall(_folded_and_masked(text)):
        spelled = known(word)
        if spelled is None:
            spelled = _model_word(word)
        if spelled:
            spelled_words.append(spelled)
    return " ".join(spelled_words)
