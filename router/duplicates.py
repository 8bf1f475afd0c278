"""Duplicate detection: is a new complaint one we already have, from another channel or person?

Pure: a complaint becomes a `Fingerprint` (who, where, what problem, a MinHash of its words) and
its index keys; `best_match` compares it with the candidates those keys found. Three ways to be
the same complaint, each within its own time window:

- SAME_REPORTER: the same contact (phone, e-mail, @handle, also when written in the text) and a
  related problem. The same person with a *different* problem is a complaint of its own.
- SAME_TEXT: nearly the same words (the e-mail and the tweet a citizen sent about one thing).
  Short texts ("jalan rusak mohon diperbaiki") also need a shared place or reporter.
- SAME_EVENT: the same street or kelurahan and the same problem (a flood reported by 200
  people). Two different problems on the same street share a place but no problem, and differing
  streets, kelurahan or kecamatan never match.

The index (store/duplicate_index.py) keeps the keys in the store, so a look-up is a handful of
primary-key range scans: its cost does not grow with the store, and every replica sees the same
index (an in-process index would miss what other replicas routed, and cost a rebuild at start).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from muara.classify.location import Gazetteer, Place, fold, locate
from muara.classify.text import model_text
from muara.router import minhash


@dataclass(frozen=True, slots=True)
class DuplicateSettings:
    """How close two complaints must be, and how far apart in time, to be one."""

    reporter_window: timedelta = timedelta(days=7)
    text_window: timedelta = timedelta(days=7)
    event_window: timedelta = timedelta(days=3)
    # Estimated Jaccard similarity of the word sets for SAME_TEXT, and for "a related problem".
    text_threshold: float = 0.5
    related_threshold: float = 0.25
    # Texts naming different problems are one complaint only when nearly word for word the same.
    identical_threshold: float = 0.8
    # Fewer distinct content words than this: too generic to match on the text alone.
    min_words: int = 6
    # Index rows read per key, newest first (a mass event or a common text shares a key).
    per_key: int = 20
    # The same for a text band: a band many share is common wording, not a repeat; a repeat
    # shares most bands (and usually the place), so the newest few of each suffice.
    per_band: int = 5
    # Stored complaints compared with each new one at most (best-connected and nearest first).
    max_candidates: int = 12

    @property
    def widest(self) -> timedelta:
        """The longest window: keys older than this are never looked at again."""
        return max(self.reporter_window, self.text_window, self.event_window)


class KeyKind(enum.IntEnum):
    """What an index key stands for."""

    IDENTITY = 1
    PLACE = 2
    BAND = 3


class MatchKind(enum.StrEnum):
    """Why two complaints are one."""

    SAME_REPORTER = "same reporter and problem"
    SAME_TEXT = "same text"
    SAME_EVENT = "same place and problem"


def _lexicon(words: str) -> frozenset[str]:
    return frozenset(words.split())


# fmt: off
# Function words and words every complaint has: they say nothing about the problem.
STOPWORDS = _lexicon("""
    yang dan di ke dari untuk dengan pada ini itu ada sudah belum tidak juga sama dalam oleh
    karena kalau agar supaya saat sejak sampai hingga lagi masih sedang akan bisa harus mau ingin
    saya kami kita kamu anda mereka dia beliau orang warga masyarakat kampung rumah
    tersebut seperti atau tapi tetapi namun serta bahwa jadi maka nya lah kah pun si para
    sekali sangat banyak sedikit semua setiap hari minggu bulan tahun jam pagi siang sore malam
    kemarin tadi sekarang segera cepat mohon tolong harap minta terima kasih bapak ibu pak bu
    lapor laporan melaporkan keluhan mengeluh aduan mengadu masalah kondisi keadaan hal
    tindak lanjut tindaklanjut ditindaklanjuti perhatian bantuan bantu dibantu pemkot pemda
    pemerintah kota kabupaten dinas instansi petugas pihak terkait mana kapan kenapa mengapa
    bagaimana apa siapa berapa tiap kali sering selalu terus hampir baru lama
    url email nik telp
""")
# Words that name a kind of place rather than a problem; the place itself is matched apart.
PLACE_WORDS = _lexicon("""
    jalan jl jln raya gang gg lorong blok nomor no rt rw kelurahan kel desa kecamatan kec
    dusun kompleks komplek perumahan perum depan belakang samping dekat sebelah seberang
    ujung pojok sekitar arah wilayah daerah lokasi area kawasan surabaya
""")
# Words that qualify a problem without naming it ("broken", "bad"): alone they match nothing.
GENERIC = _lexicon("""
    rusak mati parah besar kecil tinggi rendah panjang lebar baik buruk bahaya berbahaya
    ganggu mengganggu terganggu diperbaiki perbaiki perbaikan memperbaiki dibersihkan
    bersihkan sekitarnya
""")
# fmt: on
_NOT_TERMS = STOPWORDS | PLACE_WORDS | GENERIC

# Problems citizens describe in many words; a shared concept is a shared problem. A pattern is a
# word, or two words that must stand side by side ("air mati": not "air" and "mati" anywhere).
CONCEPTS: dict[str, tuple[str, ...]] = {
    "banjir": ("banjir", "genang", "rob", "luap", "meluap"),
    "jalan-rusak": ("lubang", "aspal", "ambles", "amblas", "retak"),
    "penerangan": ("lampu", "pju", "penerangan", "gelap"),
    "sampah": ("sampah", "tps", "tumpuk"),
    "air-bersih": ("pdam", "air mati", "air keruh", "air mengalir", "air kecil", "pipa"),
    "listrik": ("listrik", "pln", "padam"),
    "pohon": ("pohon", "tumbang", "dahan", "ranting"),
    "saluran": ("saluran", "got", "selokan", "drainase", "mampet", "sumbat"),
    "kebakaran": ("bakar", "api", "asap"),
    "lalu-lintas": ("macet", "parkir", "lampu merah"),
    "kebisingan": ("bising", "berisik"),
    "longsor": ("longsor", "tanah gerak"),
    "pungli": ("pungli", "pungut", "suap"),
    "adminduk": ("ktp", "kk", "akta", "dukcapil"),
}

_MENTION_OR_TAG = re.compile(r"[@#]\w+")
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r"[^\W_]+|[^\w\s]")
_STREET_WORDS = frozenset({"jalan", "jl", "jln"})
# Words that end a street's name in Surabaya and elsewhere ("Ketintang Baru", "Darmo Raya").
_STREET_SUFFIXES = frozenset(
    {"baru", "lama", "raya", "utara", "selatan", "timur", "barat", "tengah"}
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\d])(?:\+?62|0)[\s.-]?8(?:[\s.-]?\d){7,11}(?![\d])")
_PREFIXES = ("ber", "ter", "di", "ke", "se")
_SUFFIXES = ("nya", "kan", "an")


@functools.lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light Indonesian stem: enough to fold "tergenang", "genangan" and "genang" together.

    Cached: a region's complaints use a few tens of thousands of words, each stemmed again and
    again on the route stage's hot path."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 4:
            return word[len(prefix) :]
    return word


# The concept table in stems, so "genangan", "tergenang" and "genang" all match "genang".
_CONCEPT_STEMS: dict[str, tuple[str, ...]] = {
    name: tuple(" ".join(stem(word) for word in pattern.split()) for pattern in patterns)
    for name, patterns in CONCEPTS.items()
}
_CONCEPT_WORDS = frozenset(
    word for patterns in _CONCEPT_STEMS.values() for pattern in patterns for word in pattern.split()
)
# The same table by pattern, and the first words of two-word patterns, for `concepts_of`.
_CONCEPTS_OF_PATTERN: dict[str, tuple[str, ...]] = {}
for _name, _patterns in _CONCEPT_STEMS.items():
    for _pattern in _patterns:
        _CONCEPTS_OF_PATTERN[_pattern] = (*_CONCEPTS_OF_PATTERN.get(_pattern, ()), _name)
_PAIR_STARTS = frozenset(pattern.split()[0] for pattern in _CONCEPTS_OF_PATTERN if " " in pattern)


def identity_keys(contact: str | None, text: str) -> frozenset[str]:
    """The reporter's contact and the phone numbers and e-mail addresses written in the text."""
    found: set[str] = set()
    candidates = [contact] if contact else []
    candidates += _EMAIL.findall(text) + _PHONE.findall(text)
    for value in candidates:
        if key := _identity(value):
            found.add(key)
    return frozenset(found)


def _identity(value: str) -> str | None:
    value = value.strip().casefold()
    if not value:
        return None
    if "@" in value and not value.startswith("@"):
        return f"email:{value}"
    if value.startswith("@"):
        return f"x:{value[1:]}"
    digits = re.sub(r"\D", "", value)
    if len(digits) < 8:
        return None
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    elif digits.startswith("8"):
        digits = "62" + digits
    return f"tel:{digits}"


def streets(text: str) -> dict[str, list[str]]:
    """Street names after "jalan"/"jl." in a normalised text, with their words."""
    tokens = _TOKEN.findall(text)
    found: dict[str, list[str]] = {}
    for at, token in enumerate(tokens):
        if token not in _STREET_WORDS:
            continue
        name: list[str] = []
        for part in tokens[at + 1 : at + 8]:
            if part == "." and (not name or len(name[-1]) == 1):
                continue  # "jl. a. yani"
            if part in _STREET_SUFFIXES and name:
                name.append(part)
                continue
            if not part.isalnum() or part.isdigit() or len(name) == 4:
                break
            if part in STOPWORDS or (part in PLACE_WORDS and part != "raya") or _is_problem(part):
                break
            name.append(part)
        if name:
            found["".join(name)] = name
    return found


def _is_problem(word: str) -> bool:
    stemmed = stem(word)
    return stemmed in GENERIC or stemmed in _CONCEPT_WORDS


_LEVELS = ("jl:", "kel:", "kec:")


def _by_level(places: frozenset[str]) -> tuple[frozenset[str], ...]:
    """A complaint's streets, kelurahan and kecamatan apart.

    Not cached: place sets rarely repeat (a street and a kelurahan), and a cache of them kept
    tens of thousands of small sets alive for the garbage collector to walk again and again."""
    return tuple(frozenset(p for p in places if p.startswith(level)) for level in _LEVELS)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a complaint is compared on."""

    complaint_id: int
    received_at: datetime
    signature: minhash.Signature = field(compare=False)
    words: int
    terms: frozenset[str]
    concepts: frozenset[str]
    # "kel:<name>", "kec:<name>", "jl:<name>", folded.
    places: frozenset[str]
    identities: frozenset[str] = frozenset()
    agency: str | None = None
    # The places by level (streets, kelurahan, kecamatan), made once: compared tens of times.
    levels: tuple[frozenset[str], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", _by_level(self.places))

    def strong_places(self) -> frozenset[str]:
        """Places narrow enough to find candidates by: a street or a kelurahan."""
        return self.levels[0] | self.levels[1]


def fingerprint(
    complaint_id: int,
    received_at: datetime,
    text: str,
    *,
    subject: str | None = None,
    contact: str | None = None,
    district: str | None = None,
    subdistrict: str | None = None,
    agency: str | None = None,
    gazetteer: Gazetteer | None = None,
) -> Fingerprint:
    """The fingerprint of one complaint (its text, metadata and the suggested agency)."""
    full = f"{subject}\n{text}" if subject else text
    normal = model_text(_MENTION_OR_TAG.sub(" ", full))
    place = locate(Place(district, subdistrict), normal, gazetteer)
    street_names = streets(normal)
    places = {f"jl:{name}" for name in street_names}
    place_words = {stem(word) for parts in street_names.values() for word in parts}
    for level, name in (("kec", place.district), ("kel", place.subdistrict)):
        if name:
            places.add(f"{level}:{fold(name)}")
            place_words.update(stem(word) for word in _WORD.findall(name.casefold()))
    sequence: list[str] = []
    # The words the text is compared on: a street's name counts, "jalan" and "dekat" do not
    # (two complaints about one street would otherwise look alike whatever they say).
    words: set[str] = set()
    terms: set[str] = set()
    for word in _WORD.findall(normal):
        facts = _word_facts(word)
        if facts is None:
            continue
        stemmed, compared, term = facts
        sequence.append(stemmed)
        if compared:
            words.add(stemmed)
        if term and stemmed not in place_words:
            terms.add(stemmed)
    return Fingerprint(
        complaint_id=complaint_id,
        received_at=received_at,
        signature=minhash.signature(words),
        words=len(words),
        terms=frozenset(terms),
        concepts=concepts_of(sequence),
        places=frozenset(places),
        identities=identity_keys(contact, full),
        agency=agency,
    )


@functools.lru_cache(maxsize=65_536)
def _word_facts(word: str) -> tuple[str, bool, bool] | None:
    """A word of a complaint as `fingerprint` reads it: None if it says nothing (too short, a
    function word, a number), else its stem, whether the text is compared on it (not a word
    naming a kind of place) and whether it may be a problem term. Cached: the same few tens of
    thousands of words come back in every batch."""
    if len(word) < 2 or word in STOPWORDS or word.isdigit():
        return None
    stemmed = stem(word)
    compared = word not in PLACE_WORDS and stemmed not in PLACE_WORDS
    return stemmed, compared, word not in _NOT_TERMS and stemmed not in _NOT_TERMS


def concepts_of(sequence: Sequence[str]) -> frozenset[str]:
    """The problem concepts named in a sequence of stems (words, or adjacent pairs)."""
    found = {name for word in sequence for name in _CONCEPTS_OF_PATTERN.get(word, ())}
    for first, second in itertools.pairwise(sequence):
        if first in _PAIR_STARTS:
            found.update(_CONCEPTS_OF_PATTERN.get(f"{first} {second}", ()))
    return frozenset(found)


class IndexKey(NamedTuple):
    """One look-up key of a complaint in the duplicate index (a tuple: made by the thousand)."""

    kind: KeyKind
    value: int


def _hash(kind: KeyKind, value: str | bytes) -> int:
    data = value.encode("utf-8") if isinstance(value, str) else value
    digest = hashlib.blake2b(bytes([kind]) + data, digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


# The problem part of a place key of a complaint that names no known problem.
ANY_PROBLEM = "*"


@functools.lru_cache(maxsize=65_536)
def _place_key(place: str, concept: str) -> IndexKey:
    return IndexKey(KeyKind.PLACE, _hash(KeyKind.PLACE, f"{place}|{concept}"))


def index_keys(fp: Fingerprint) -> list[IndexKey]:
    """The keys a complaint is found by: who, where and what (street or kelurahan, with each
    problem concept), and its text's bands.

    A place key carries the problem: a busy kelurahan has hundreds of complaints a week about
    everything, and SAME_EVENT needs the same problem, so a look-up by place alone would read
    hundreds of candidates to keep a few. A complaint naming no known problem is keyed by the
    place with ANY_PROBLEM.
    """
    keys = [IndexKey(KeyKind.IDENTITY, _hash(KeyKind.IDENTITY, i)) for i in sorted(fp.identities)]
    for place in sorted(fp.strong_places()):
        keys += [_place_key(place, concept) for concept in sorted(fp.concepts) or [ANY_PROBLEM]]
    keys += [IndexKey(KeyKind.BAND, band) for band in minhash.band_keys(fp.signature)]
    return keys


def lookup_keys(fp: Fingerprint, own: list[IndexKey] | None = None) -> list[IndexKey]:
    """The keys to look a complaint's candidates up by: its own (`own`, if already made), and
    at each of its places the complaints naming no known problem (they may share enough words
    to be the same one)."""
    keys = list(index_keys(fp) if own is None else own)
    if fp.concepts:
        keys += [_place_key(place, ANY_PROBLEM) for place in sorted(fp.strong_places())]
    return keys


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored complaint a key found: its fingerprint, how it was found, and its root."""

    fingerprint: Fingerprint
    via: frozenset[KeyKind]
    root_id: int
    root_received_at: datetime


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    """The complaint a new one duplicates (always a root, never itself a duplicate), and why."""

    of_id: int
    matched_id: int
    kind: MatchKind
    similarity: float

    @property
    def reason(self) -> str:
        """For the decision record: no word of either complaint, only ids and the kind."""
        via = "" if self.matched_id == self.of_id else f" (via #{self.matched_id})"
        return f"duplicate of #{self.of_id}{via}: {self.kind.value}"


def places_conflict(first: frozenset[str], second: frozenset[str]) -> bool:
    """Both name a street, kelurahan or kecamatan, and not the same one: different places."""
    if not first or not second or first == second:
        return False
    return _levels_conflict(_by_level(first), _by_level(second))


def _levels_conflict(first: tuple[frozenset[str], ...], second: tuple[frozenset[str], ...]) -> bool:
    for mine, theirs in zip(first, second, strict=True):
        if mine and theirs and not mine & theirs:
            return True
    return False


def compare(
    query: Fingerprint, other: Fingerprint, via: frozenset[KeyKind], settings: DuplicateSettings
) -> tuple[MatchKind, float] | None:
    """Whether `query` repeats `other`, and how similar their words are."""
    if _levels_conflict(query.levels, other.levels):
        return None
    gap = abs(query.received_at - other.received_at)
    text = minhash.similarity(query.signature, other.signature)
    shared_concepts = query.concepts & other.concepts
    # Both name problems and none is the same: a pothole and a street light are two complaints.
    different = bool(query.concepts and other.concepts and not shared_concepts)
    if different and text < settings.identical_threshold:
        return None
    shared_terms = len(query.terms & other.terms)
    agencies_differ = bool(query.agency and other.agency and query.agency != other.agency)
    related = (
        bool(shared_concepts)
        or text >= settings.related_threshold
        or (shared_terms >= 2 and not agencies_differ)
    )
    same_place = bool(query.strong_places() & other.strong_places())
    if KeyKind.IDENTITY in via and gap <= settings.reporter_window and related:
        return MatchKind.SAME_REPORTER, text
    if text >= settings.text_threshold and gap <= settings.text_window:
        long_enough = min(query.words, other.words) >= settings.min_words
        if long_enough or same_place or KeyKind.IDENTITY in via:
            return MatchKind.SAME_TEXT, text
    same_problem = bool(shared_concepts) or (shared_terms >= 2 and not agencies_differ)
    if same_place and same_problem and gap <= settings.event_window:
        return MatchKind.SAME_EVENT, text
    return None


def best_match(
    query: Fingerprint, candidates: Sequence[Candidate], settings: DuplicateSettings
) -> DuplicateMatch | None:
    """The earliest root among the candidates `query` repeats; None: it is a new complaint."""
    best: tuple[datetime, int, DuplicateMatch] | None = None
    for candidate in candidates:
        if candidate.root_id == query.complaint_id:
            continue
        found = compare(query, candidate.fingerprint, candidate.via, settings)
        if found is None:
            continue
        kind, text = found
        match = DuplicateMatch(candidate.root_id, candidate.fingerprint.complaint_id, kind, text)
        rank = (candidate.root_received_at, candidate.root_id, match)
        if best is None or rank[:2] < best[:2]:
            best = rank
    return None if best is None else best[2]
