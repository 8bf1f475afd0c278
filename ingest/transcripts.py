"""112 call transcripts → complaints: the caller's words are the complaint, the file its raw input.

Many 112 calls are complaints about public services; those become complaints like any other.
Emergencies (fire, accident, crime, medical) were dispatched by 112 already: the complaint carries
`extra["emergency"]` and the router's emergency rule keeps it out of LAPOR!. Prank and empty calls
are discarded here, with the reason kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from muara.domain import NewComplaint, RawInput, Reporter
from muara.ingest.rows import ParsedFile, file_error, zone
from muara.ingest.settings import TranscriptSource
from muara.ingest.spool import CHUNK_ROWS, SpoolCollector
from muara.ingest.transcript_parse import Transcript, TranscriptError, read_json, read_text

JSON_SUFFIXES = (".json",)
TEXT_SUFFIXES = (".txt",)
EMERGENCY_KINDS = ("fire", "accident", "crime", "medical")

# The 112 center's own call categories (Indonesian and English), normalised.
_EMERGENCY_CATEGORIES = {
    "fire": ("kebakaran", "fire"),
    "accident": ("kecelakaan", "kecelakaan lalu lintas", "laka lantas", "lakalantas", "accident"),
    "crime": (
        "kriminal",
        "kriminalitas",
        "kejahatan",
        "pencurian",
        "perampokan",
        "penganiayaan",
        "kekerasan",
        "tawuran",
        "crime",
    ),
    "medical": ("medis", "darurat medis", "kegawatdaruratan medis", "ambulans", "medical"),
}
_PRANK_CATEGORIES = frozenset(
    {
        "prank",
        "prank call",
        "iseng",
        "telepon iseng",
        "panggilan iseng",
        "ghost call",
        "salah sambung",
        "panggilan kosong",
        "silent call",
        "tes",
        "test call",
    }
)
_KIND_OF_CATEGORY = {
    category: kind for kind, names in _EMERGENCY_CATEGORIES.items() for category in names
}
# What a caller says on a silent or ghost call; words beyond these make it a real call.
_FILLERS = frozenset(
    {
        *("halo", "hallo", "helo", "hello", "alo", "ya", "iya", "yah", "ha", "hah", "hmm", "hm"),
        *("eh", "em", "emm", "ee", "eee", "oh", "pak", "bu", "mas", "mbak", "tes", "test"),
    }
)
_NOTES = re.compile(r"\[[^\]]*\]|\([^)]*\)")  # speech-to-text notes: [tidak jelas], (hening)
_WORD = re.compile(r"[^\W\d_]+|\d+")


def _normal(category: str | None) -> str:
    return " ".join((category or "").casefold().replace("-", " ").replace("_", " ").split())


def emergency_kind(category: str | None) -> str | None:
    """The emergency the 112 center filed the call under, or None for any other call."""
    return _KIND_OF_CATEGORY.get(_normal(category))


def caller_said_something(caller_text: str) -> bool:
    """False for silent calls: nothing but greetings, fillers and speech-to-text notes."""
    words = _WORD.findall(_NOTES.sub(" ", caller_text).casefold())
    return any(word not in _FILLERS for word in words)


def discard_reason(transcript: Transcript, caller_text: str) -> str | None:
    """Why a call is no complaint at all (prank, empty), or None."""
    if _normal(transcript.category) in _PRANK_CATEGORIES:
        return f"112: prank call (category {transcript.category!r})"
    if not caller_said_something(caller_text):
        return "112: empty call (the caller said nothing)"
    return None


def to_complaint(transcript: Transcript, channel: str, file_name: str) -> NewComplaint:
    """The caller's turns as the complaint text; the call's metadata as its context."""
    caller_text = "\n".join(t.text for t in transcript.turns if t.speaker == "caller" and t.text)
    extra: dict[str, object] = {
        "transcript_file": file_name,
        "caller_turns": sum(1 for t in transcript.turns if t.speaker == "caller"),
        "operator_turns": sum(1 for t in transcript.turns if t.speaker == "operator"),
    }
    optional = {
        "call_category": transcript.category,
        "emergency": emergency_kind(transcript.category),
        "dispatched_to": list(transcript.dispatched_to) or None,
        "address": transcript.address,
        "duration_seconds": transcript.duration_seconds,
        "operator": transcript.operator,
    }
    extra.update({key: value for key, value in optional.items() if value is not None})
    return NewComplaint(
        channel=channel,
        source_id=transcript.call_id,
        received_at=transcript.started_at,
        text=caller_text,
        reporter=Reporter(name=transcript.caller_name, contact=transcript.caller_number),
        district=transcript.district,
        subdistrict=transcript.subdistrict,
        extra=extra,
        discard_reason=discard_reason(transcript, caller_text),
    )


class TranscriptParser:
    """Reads the JSON and text transcripts of one 112 folder (`muara.ingest.spool.FileParser`)."""

    def __init__(self, source: TranscriptSource) -> None:
        zone(source.timezone)
        self.source = source

    def accepts(self, file_name: str) -> bool:
        """A JSON or text transcript."""
        return file_name.lower().endswith(JSON_SUFFIXES + TEXT_SUFFIXES)

    def parse(self, data: bytes, *, file_name: str, file_digest: str) -> ParsedFile:
        """One transcript → one complaint (maybe discarded), or a whole-file error."""
        is_json = file_name.lower().endswith(JSON_SUFFIXES)
        read: Callable[[bytes, str], Transcript] = read_json if is_json else read_text
        try:
            transcript = read(data, self.source.timezone)
        except TranscriptError as err:
            return file_error(err.error_class, f"{file_name}: {err.reason}")
        complaint = to_complaint(transcript, self.source.channel, file_name)
        raw = RawInput(
            channel=self.source.channel,
            source_ref=f"{self.source.name}:{transcript.call_id}",
            content=data,
            content_type="application/json" if is_json else "text/plain; charset=utf-8",
        )
        return ParsedFile(rows=[(complaint, raw)])


def transcript_collector(
    source: TranscriptSource,
    *,
    clock: Callable[[], datetime] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> SpoolCollector:
    """The collector of a 112 transcript folder: the spool mechanics with the transcript parser."""
    parser = TranscriptParser(source)
    return SpoolCollector(source, parser=parser, clock=clock, chunk_rows=chunk_rows)
