"""Size limits for glossary uploads (defaults documented in docs/glossaries.md)."""

from __future__ import annotations

from dataclasses import dataclass

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class GlossaryLimits:
    max_file_bytes: int = 10 * _MIB
    max_entries: int = 50_000
    # UTF-8 bytes of term + all translations + note: room for ~40 languages of short terms.
    max_entry_bytes: int = 2_000
    # Rows read from CSV/TSV/XLSX, header and blank rows included.
    max_rows: int = 100_000
    max_columns: int = 64
    max_problems: int = 100
    # XLSX is a zip: bound what openpyxl may inflate before it opens anything.
    max_uncompressed_bytes: int = 100 * _MIB
    max_compression_ratio: float = 100.0
    max_archive_members: int = 1_000
