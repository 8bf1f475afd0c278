"""Which parser reads a call-center export: CSV or JSON Lines, told apart by the file's suffix."""

from __future__ import annotations

from muara.ingest.csv_rows import parse_csv
from muara.ingest.jsonl_rows import parse_jsonl
from muara.ingest.rows import ParsedFile
from muara.ingest.settings import SpoolSource

CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")


class CallLogParser:
    """Parses the CSV and JSON Lines files of one spool source (`muara.ingest.spool.FileParser`)."""

    def __init__(self, source: SpoolSource) -> None:
        self.source = source

    def accepts(self, file_name: str) -> bool:
        """A CSV or JSON Lines export (`*.part`/`*.tmp` uploads are neither)."""
        return file_name.lower().endswith(CSV_SUFFIXES + JSONL_SUFFIXES)

    def parse(self, data: bytes, *, file_name: str, file_digest: str) -> ParsedFile:
        """Parse one export; never raises on bad input."""
        parse = parse_jsonl if file_name.lower().endswith(JSONL_SUFFIXES) else parse_csv
        return parse(data, file_name=file_name, file_digest=file_digest, source=self.source)
