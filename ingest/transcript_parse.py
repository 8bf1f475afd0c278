"""A 112 call transcript file → a `Transcript`: JSON, or plain text with a header block; pure.

Both formats carry the call's metadata and its speaker turns as the 112 center's speech-to-text
wrote them. A file that cannot be read raises `TranscriptError`, whose reason names fields and
turn numbers, never what anybody said or who they are.

JSON:   {"call_id", "started_at", "caller_number", "caller_name", "category", "dispatched_to",
         "duration_seconds", "operator", "location": {"district", "subdistrict", "address"},
         "turns": [{"speaker": "operator" | "caller", "text", "at"}]}
Text:   `Key: value` header lines (Indonesian or English names), a blank line, then turns such as
        `[00:03] Penelepon: …`; a line that starts no turn continues the one before it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from muara.ingest.rows import (
    DATE_FORMATS_HINT,
    EMPTY_FILE,
    INVALID_DATE,
    INVALID_ENCODING,
    INVALID_FIELD,
    MAX_PLACE_CHARS,
    MAX_SOURCE_ID_CHARS,
    MISSING_FIELD,
    UTF8_BOM,
    encoding_problem,
    looks_binary,
    parse_received_at,
)

NOT_TRANSCRIPT = "NotTranscript"
UNKNOWN_SPEAKER = "UnknownSpeaker"

Speaker = Literal["caller", "operator"]
# How speech-to-text systems and operators label the two sides of a call.
SPEAKERS: dict[str, Speaker] = {
    "caller": "caller",
    "penelepon": "caller",
    "pelapor": "caller",
    "customer": "caller",
    "warga": "caller",
    "operator": "operator",
    "petugas": "operator",
    "agent": "operator",
    "agen": "operator",
    "call taker": "operator",
}
# Header names of the text format → the field they fill.
HEADER_NAMES = {
    "id panggilan": "call_id",
    "call id": "call_id",
    "waktu": "started_at",
    "waktu panggilan": "started_at",
    "started at": "started_at",
    "nomor penelepon": "caller_number",
    "no telepon": "caller_number",
    "caller number": "caller_number",
    "nama penelepon": "caller_name",
    "caller name": "caller_name",
    "kategori": "category",
    "category": "category",
    "diteruskan ke": "dispatched_to",
    "dispatched to": "dispatched_to",
    "kecamatan": "district",
    "district": "district",
    "kelurahan": "subdistrict",
    "subdistrict": "subdistrict",
    "alamat": "address",
    "address": "address",
    "durasi": "duration_seconds",
    "duration": "duration_seconds",
    "operator": "operator",
}
_HEADER_LINE = re.compile(r"(?P<key>[A-Za-z][A-Za-z .]{0,40}?)\s*:\s*(?P<value>.*)")
_TURN_LINE = re.compile(
    r"\s*(?:\[(?P<at>[\d:.]{1,12})\]\s*)?(?P<who>[A-Za-z][A-Za-z .]{0,30}?)\s*:\s?(?P<text>.*)"
)
_DURATION = re.compile(r"(?:(?P<m>\d{1,3}):(?P<s>\d{2})|(?P<secs>\d{1,6})(?:\s*(?:detik|s|sec))?)")


class TranscriptError(ValueError):
    """A transcript that cannot be read; the reason is free of personal data."""

    def __init__(self, error_class: str, reason: str) -> None:
        super().__init__(reason)
        self.error_class = error_class
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Turn:
    """One stretch of speech by one side of the call."""

    speaker: Speaker
    text: str
    at: str | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    """A 112 call as the center recorded it."""

    call_id: str
    started_at: datetime
    turns: tuple[Turn, ...]
    caller_number: str | None = None
    caller_name: str | None = None
    category: str | None = None
    dispatched_to: tuple[str, ...] = ()
    district: str | None = None
    subdistrict: str | None = None
    address: str | None = None
    duration_seconds: int | None = None
    operator: str | None = None


def _text(value: Any, field: str) -> str | None:
    """A metadata value as stripped text (numbers allowed), None when absent or blank."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise TranscriptError(INVALID_FIELD, f"field '{field}' is not text")
    if problem := encoding_problem(value):
        raise TranscriptError(INVALID_ENCODING, f"field '{field}' {problem}")
    return value.strip() or None


def _duration(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        if match["secs"] is not None:
            return int(match["secs"])
        return int(match["m"]) * 60 + int(match["s"])
    raise TranscriptError(INVALID_FIELD, "field 'duration_seconds' is not a number of seconds")


def _dispatched(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        units = [_text(unit, "dispatched_to") for unit in value]
    else:
        units = [part.strip() for part in (_text(value, "dispatched_to") or "").split(",")]
    return tuple(unit for unit in units if unit)


def _speaker(label: Any, number: int) -> Speaker:
    if isinstance(label, str) and (found := SPEAKERS.get(label.strip().casefold())):
        return found
    # The label may be a person's name: it is not repeated.
    raise TranscriptError(
        UNKNOWN_SPEAKER,
        f"turn {number} has a speaker label that is neither the caller nor the operator "
        f"(known labels: {', '.join(sorted(SPEAKERS))})",
    )


def _build(fields: dict[str, Any], turns: tuple[Turn, ...], zone_name: str) -> Transcript:
    """Check the metadata common to both formats and make the transcript."""
    call_id = _text(fields.get("call_id"), "call_id")
    if call_id is None:
        raise TranscriptError(MISSING_FIELD, "field 'call_id' is missing")
    if len(call_id) > MAX_SOURCE_ID_CHARS:
        raise TranscriptError(INVALID_FIELD, f"field 'call_id' is over {MAX_SOURCE_ID_CHARS} chars")
    when = _text(fields.get("started_at"), "started_at")
    if when is None:
        raise TranscriptError(MISSING_FIELD, "field 'started_at' is missing")
    started_at = parse_received_at(when, zone_name)
    if started_at is None:
        reason = f"field 'started_at' is not a date ({DATE_FORMATS_HINT})"
        raise TranscriptError(INVALID_DATE, reason)
    place = {name: _text(fields.get(name), name) for name in ("district", "subdistrict")}
    for name, value in place.items():
        if value is not None and len(value) > MAX_PLACE_CHARS:
            raise TranscriptError(INVALID_FIELD, f"field '{name}' is over {MAX_PLACE_CHARS} chars")
    return Transcript(
        call_id=call_id,
        started_at=started_at,
        turns=turns,
        caller_number=_text(fields.get("caller_number"), "caller_number"),
        caller_name=_text(fields.get("caller_name"), "caller_name"),
        category=_text(fields.get("category"), "category"),
        dispatched_to=_dispatched(fields.get("dispatched_to")),
        district=place["district"],
        subdistrict=place["subdistrict"],
        address=_text(fields.get("address"), "address"),
        duration_seconds=_duration(fields.get("duration_seconds")),
        operator=_text(fields.get("operator"), "operator"),
    )


def _decode(data: bytes, kind: str) -> str:
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    if not data.strip():
        raise TranscriptError(EMPTY_FILE, "the file is empty")
    if looks_binary(data):
        raise TranscriptError(NOT_TRANSCRIPT, f"the file is not {kind} text (binary content)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TranscriptError(INVALID_ENCODING, "the file is not valid UTF-8") from err


def read_json(data: bytes, zone_name: str) -> Transcript:
    """A JSON transcript; `TranscriptError` names what is wrong with it."""
    text = _decode(data, "JSON")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        reason = f"the file is not valid JSON ({err.msg}, line {err.lineno})"
        raise TranscriptError(NOT_TRANSCRIPT, reason) from err
    except RecursionError as err:
        raise TranscriptError(NOT_TRANSCRIPT, "the file is nested too deeply") from err
    if not isinstance(doc, dict):
        raise TranscriptError(NOT_TRANSCRIPT, "the file holds no JSON object")
    raw_turns = doc.get("turns", [])
    if not isinstance(raw_turns, list):
        raise TranscriptError(INVALID_FIELD, "field 'turns' is not a list")
    turns = []
    for number, item in enumerate(raw_turns, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("text", ""), str):
            raise TranscriptError(INVALID_FIELD, f"turn {number} is not a speaker and a text")
        said = item.get("text", "")
        if problem := encoding_problem(said):
            raise TranscriptError(INVALID_ENCODING, f"turn {number} {problem}")
        at = item.get("at")
        turns.append(
            Turn(_speaker(item.get("speaker"), number), said.strip(), str(at) if at else None)
        )
    fields = dict(doc)
    location = doc.get("location")
    if isinstance(location, dict):
        for name in ("district", "subdistrict", "address"):
            fields.setdefault(name, location.get(name))
    elif location is not None:
        raise TranscriptError(INVALID_FIELD, "field 'location' is not an object")
    return _build(fields, tuple(turns), zone_name)


def read_text(data: bytes, zone_name: str) -> Transcript:
    """A plain-text transcript with a header block; `TranscriptError` names what is wrong."""
    lines = _decode(data, "transcript").splitlines()
    fields: dict[str, Any] = {}
    index = 0
    while index < len(lines) and lines[index].strip():
        match = _HEADER_LINE.fullmatch(lines[index].strip())
        if match is None:
            raise TranscriptError(
                NOT_TRANSCRIPT,
                f"line {index + 1} of the header block is not 'Name: value' (the header ends at "
                "the first blank line)",
            )
        name = HEADER_NAMES.get(" ".join(match["key"].casefold().split()))
        if name is not None:  # other header lines stay in the raw input only
            fields.setdefault(name, match["value"])
        index += 1
    if not fields:
        raise TranscriptError(NOT_TRANSCRIPT, "the file has no header block")
    turns: list[tuple[Speaker, list[str], str | None]] = []
    for number, line in enumerate(lines[index:], start=index + 1):
        if not line.strip():
            continue
        match = _TURN_LINE.fullmatch(line)
        who = SPEAKERS.get(" ".join(match["who"].casefold().split())) if match else None
        if match is not None and who is not None:
            turns.append((who, [match["text"].strip()], match["at"]))
        elif turns:
            turns[-1][1].append(line.strip())
        else:
            raise TranscriptError(
                UNKNOWN_SPEAKER,
                f"line {number}: the conversation does not start with a turn of the caller or "
                f"the operator (labels: {', '.join(sorted(SPEAKERS))})",
            )
    return _build(
        fields,
        tuple(Turn(who, " ".join(part for part in said if part), at) for who, said, at in turns),
        zone_name,
    )
