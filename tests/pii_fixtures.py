"""The personal data the test suite feeds Muara: reporters' names, handles, phones, NIKs, e-mails.

One list for the suite-wide log scan (tests/pii_scan.py): none of these may reach a log line.
Names come from the test helpers and fixtures (factories, mail corpus, X stand-in, CSV rows in
tests) by hand, and from the bundled demo exports and 112 transcripts by reading them, so a new
demo row is covered without editing this file. Staff names (call-center agents, coordinators'
user names) are not reporters' data and are not listed.
"""

from __future__ import annotations

import csv
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parents[1] / "demo"

# Reporters named in tests/*.py (factories, mail_corpus, x_api fixtures, CSV rows of the tests).
TEST_NAMES = (
    "Agus Prasetyo", "Agus Salim", "Ahmad Fauzi", "Andi Firmansyah", "Ani Lestari",
    "Arif Rahman", "Bambang Sutrisno", "Bayu Setiawan", "Budi Hartanto", "Budi Santoso",
    "Dedi Kurniawan", "Desi Ratnasari", "Dewi Anggraini", "Dwi Lestari", "Eko Prasetyo",
    "Eko Saputro", "Fitri Handayani", "Fitriani", "Hadi Susanto", "Hendra Gunawan",
    "Hendro Saputra", "Indah Permatasari", "Joko Santoso", "Joko Susilo", "Lina Marlina",
    "Maya Anggraini", "Nur Aini", "Ratna Dewi", "Ratna Sari", "Rina Kartikasari",
    "Rudi Hartono", "Sari Puspitasari", "Sinta Maharani", "Siti Aminah", "Siti Rahayu",
    "Slamet Riyadi", "Sri Mulyani", "Sri Wahyuni", "Suparmi", "Teguh Wibowo",
    "Tri Wulandari", "Wahyu Hidayat", "Wahyu Nugroho", "Wulan Sari", "Yanti Susilowati",
    "Yuliana Putri", "Agung Wijaya", "Hartono", "Sulastri", "Wiwik Setyowati",
)  # fmt: skip
# X handles of the reporters in the X stand-in's fixtures (tests/test_ingest_x.py, test_x_tweets).
HANDLES = ("budi_sby", "ani_lestari", "warga_lain")
# NIKs (and KK numbers) written into test complaints.
NIKS = ("3174091203850007", "3201012345670001", "3201 0123 4567 0002", "3201.0123.4567.0001")
# Reporters' e-mail addresses (tests/mail_corpus.py and friends); any address is flagged anyway.
EMAILS = ("budi@contoh.id", "siti@contoh.id", "ani@contoh.id", "warga@contoh.id")

# Fixed secrets of the test suite (API tokens, passwords): never logged either (README, Secrets).
SECRETS = (
    "test-bearer-token-0000", "rahasia-sekali-123", "s3cret-token-value", "sim-token",
    "sim-key", "tok-3n7", "key-9q2", "test-token-123", "tok-calls", "tok-export", "kill-token",
    "replica-token", "rotated-token",
)  # fmt: skip

_NAME_COLUMNS = ("caller_name", "contact_name", "Nama Penelepon", "reporter_name")
_TRANSCRIPT_NAME = re.compile(r"^(?:Nama Penelepon|Caller Name)\s*:\s*(.+)$", re.MULTILINE)


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _demo_names() -> set[str]:
    """Reporters' names in the bundled demo exports and transcripts."""
    found: set[str] = set()
    for path in DEMO.glob("*.csv"):
        text = path.read_text(encoding="utf-8")
        delimiter = ";" if text.split("\n", 1)[0].count(";") > 1 else ","
        for row in csv.DictReader(text.splitlines(), delimiter=delimiter):
            found.update(row[c] for c in _NAME_COLUMNS if row.get(c))
    # The demo holds deliberately broken rows and files (they show quarantine): skip those.
    for path in DEMO.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = _json(line)
            found.update(str(row[c]) for c in _NAME_COLUMNS if row.get(c))
    for path in (DEMO / "transcripts").glob("*.json"):
        data = _json(path.read_text(encoding="utf-8"))
        if data.get("caller_name"):
            found.add(str(data["caller_name"]))
    for path in (DEMO / "transcripts").glob("*.txt"):
        found.update(m.strip() for m in _TRANSCRIPT_NAME.findall(path.read_text(encoding="utf-8")))
    return found


@cache
def reporter_names() -> tuple[str, ...]:
    """Every reporter's name the suite uses, longest first (so a full name wins over a part)."""
    names = {name.strip() for name in (*TEST_NAMES, *_demo_names()) if len(name.strip()) >= 4}
    return tuple(sorted(names, key=lambda name: (-len(name), name)))
