"""Is a post a complaint at all? The verdict, and a lexicon of Indonesian cues that explains one.

The X collector decides with the trained relevance model (classify/relevance_model.py); this
module holds what both share (`Kind`, `Verdict` and its discard reasons) and `judge`, rules over
word lists: every verdict it gives can be explained by the words that caused it, which makes it
the reference the seed set's hard cases were written against and a quick check from a shell.
When in doubt it keeps the post: a coordinator reading one post too many costs less than a
complaint nobody sees. Pure: text in, a verdict out.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


def _lexicon(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words that name a problem with a public service (with their common affixed forms).
PROBLEM_WORDS = _lexicon(
    """
    rusak kerusakan berlubang lubang bolong mati padam byarpet macet kemacetan banjir kebanjiran
    tergenang genangan mampet tersumbat buntu bocor bocoran keruh bau busuk pungli pungutan ambles
    amblas longsor roboh tumbang gelap kumuh kotor jorok menumpuk numpuk berserakan liar ilegal
    rawan bahaya berbahaya membahayakan lambat lelet telat terlambat antre antri antrean antrian
    dipersulit ditolak kecewa mengecewakan parah error eror gangguan putus retak jambret begal
    pencurian nyolong macet mogok mangkrak terbengkalai menghambat terhambat polusi bising berisik
    sesak langka mahal kosong habis hilang susah sulit ribet lama nunggak tunggakan diabaikan
    """
)
# Words that ask someone to act or complain outright (not "lapor": it is in #LaporGub).
REQUEST_WORDS = _lexicon(
    """
    tolong tlg mohon mhn minta segera kapan kenapa mengapa kok keluhan mengeluh komplain aduan
    mengadu ditindak ditindaklanjuti tindaklanjuti diperbaiki perbaiki perbaikan dicek ditertibkan
    tertibkan diangkut ditambal dibenahi benahi diurus ditangani tangani diusut usut berantas
    diberantas
    """
)
NEGATIONS = _lexicon(
    """
    tidak tdk gak ga gk nggak ngga enggak engga ndak belum blm tak kurang
    """
)
PRAISE_WORDS = _lexicon(
    """
    makasih makasi trims thanks thx mantap mantul keren hebat salut bagus apresiasi sukses bangga
    gercep semangat terbaik top rapi bersih mulus lancar alhamdulillah
    """
)
PRAISE_PHRASES = ("terima kasih", "trima kasih", "cepat tanggap", "luar biasa", "the best")
PRAISE_EMOJI = ("👍", "🙏", "👏", "❤", "💯", "🔥", "😍", "🥰")
SPAM_WORDS = _lexicon(
    """
    slot gacor maxwin togel toto judi judol casino kasino deposit depo rtp zeus jackpot jp scatter
    promo diskon giveaway followers follower follback followback airdrop crypto kripto cuan
    endorse
    """
)
SPAM_PHRASES = (
    "cek bio",
    "link di bio",
    "link bio",
    "klik link",
    "bonus new member",
    "open order",
    "dm for",
    "wa me",
    "pinjaman cepat",
    "tanpa jaminan",
)
SPAM_HOSTS = ("wa.me", "bit.ly", "s.id/", "t.me/", "linktr.ee")

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SUFFIXES = ("nya", "lah", "kah")


class Kind(enum.StrEnum):
    """What a post is."""

    COMPLAINT = "complaint"
    PRAISE = "praise"
    SPAM = "spam"
    CHATTER = "chatter"
    PROMO = "promo"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The filter's answer and, for anything but a complaint, the discard reason to record."""

    kind: Kind
    # The trained model's calibrated chance that the post is a complaint (None from the lexicon).
    complaint_probability: float | None = None

    @property
    def relevant(self) -> bool:
        """True for a complaint: it goes on to the classifier."""
        return self.kind is Kind.COMPLAINT

    @property
    def discard_reason(self) -> str | None:
        """Why the post is discarded, or None."""
        if self.relevant:
            return None
        why = {
            Kind.PRAISE: "praise",
            Kind.SPAM: "spam",
            Kind.CHATTER: "chatter (no complaint words)",
            Kind.PROMO: "promotion",
        }[self.kind]
        return f"not a complaint: {why}"


def _words(text: str) -> list[str]:
    text = _HASHTAG.sub(lambda m: " " + _CAMEL.sub(" ", m.group(1)) + " ", text)
    words = []
    for word in _WORD.findall(text.casefold()):
        for suffix in _SUFFIXES:
            if len(word) > len(suffix) + 3 and word.endswith(suffix):
                word = word[: -len(suffix)]
                break
        words.append(word)
    return words


def judge(text: str) -> Verdict:
    """Complaint, praise, spam or chatter, from the words of `text` (mentions and links aside)."""
    urls = _URL.findall(text)
    spam = sum(1 for url in urls for host in SPAM_HOSTS if host in url.casefold())
    bare = _MENTION.sub(" ", _URL.sub(" ", text))
    words = _words(bare)
    joined = f" {' '.join(words)} "
    spam += sum(1 for w in words if w in SPAM_WORDS)
    spam += sum(1 for phrase in SPAM_PHRASES if f" {phrase} " in joined)
    spam += len(urls) >= 3
    strong = negations = praise = 0
    for before, word in zip(["", *words], words, strict=False):
        negated = before in NEGATIONS
        if word in REQUEST_WORDS:
            strong += 1
        elif word in PROBLEM_WORDS:
            strong += not negated  # "gak macet lagi" reports no problem
        elif word in PRAISE_WORDS:
            # "kurang bersih", "tidak bagus" is a complaint, not praise.
            strong += negated
            praise += not negated
        elif word in NEGATIONS and word is not words[-1]:
            negations += 1
    praise += sum(1 for phrase in PRAISE_PHRASES if f" {phrase} " in joined)
    praise += sum(1 for emoji in PRAISE_EMOJI if emoji in text)
    # A complaint about gambling or scams names them too: only without complaint words is it spam.
    if spam >= 3 or (spam and not strong):
        return Verdict(Kind.SPAM)
    # "tidak mengecewakan", "gak nyangka secepat ini": a negation alone does not outweigh praise.
    if strong or (negations and not praise):
        return Verdict(Kind.COMPLAINT)
    if praise:
        return Verdict(Kind.PRAISE)
    return Verdict(Kind.CHATTER)
