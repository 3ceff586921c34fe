"""Validation problems found in a glossary upload, and the one exception that carries them.

Parsers collect every problem (up to a cap) instead of stopping at the first, so a user can fix
a file in one pass. `GlossaryInvalid.to_problem_details()` renders RFC 9457 problem+json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, TypedDict, Unpack

PROBLEM_TYPE = "urn:zai-l10n:problem:glossary-invalid"


class Code(StrEnum):
    """Stable problem codes; clients may switch on them (documented in docs/glossaries.md)."""

    FILE_TOO_LARGE = "file_too_large"
    UNSUPPORTED_FORMAT = "unsupported_format"
    BAD_ENCODING = "bad_encoding"
    MALFORMED_CSV = "malformed_csv"
    MALFORMED_JSON = "malformed_json"
    MALFORMED_XML = "malformed_xml"
    MALFORMED_XLSX = "malformed_xlsx"
    UNSAFE_XML = "unsafe_xml"
    UNSAFE_ARCHIVE = "unsafe_archive"
    INVALID_FIELD = "invalid_field"
    MISSING_LANGUAGE = "missing_language"
    UNKNOWN_LANGUAGE = "unknown_language"
    LANGUAGE_MISMATCH = "language_mismatch"
    DUPLICATE_COLUMN = "duplicate_column"
    UNKNOWN_COLUMN = "unknown_column"
    EXTRA_CELL = "extra_cell"
    INVALID_FLAG = "invalid_flag"
    CONFLICTING_FLAGS = "conflicting_flags"
    EMPTY_TERM = "empty_term"
    INVALID_TEXT = "invalid_text"
    MISSING_TRANSLATION = "missing_translation"
    DUPLICATE_TERM = "duplicate_term"
    ENTRY_TOO_LARGE = "entry_too_large"
    TOO_MANY_ENTRIES = "too_many_entries"
    TOO_MANY_COLUMNS = "too_many_columns"
    EMPTY_GLOSSARY = "empty_glossary"
    TOO_MANY_PROBLEMS = "too_many_problems"


class Where(TypedDict, total=False):
    row: int | None
    column: str | None
    field: str | None


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem. `row`/`column`/`field` locate it; their meaning per format is in the docs."""

    code: str
    message: str
    row: int | None = None
    column: str | None = None
    field: str | None = None


class GlossaryInvalid(Exception):
    """The uploaded glossary was rejected; `problems` lists every reason found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(self.detail)

    @property
    def detail(self) -> str:
        count = len(self.problems)
        first = self.problems[0].message if self.problems else "no details"
        return f"{count} problem(s) in the glossary; first: {first}"

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]

    def to_problem_details(self) -> dict[str, Any]:
        return {
            "type": PROBLEM_TYPE,
            "title": "Glossary is invalid",
            "status": 422,
            "detail": self.detail,
            "errors": [asdict(p) for p in self.problems],
        }


class ProblemCollector:
    """Accumulates problems up to `limit`, then records one `too_many_problems` and ignores more."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self.problems: list[Problem] = []

    @property
    def full(self) -> bool:
        return len(self.problems) > self._limit

    def add(
        self,
        code: Code,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        field: str | None = None,
    ) -> None:
        if self.full:
            return
        if len(self.problems) == self._limit:
            msg = f"more than {self._limit} problems; the rest were not reported"
            self.problems.append(Problem(Code.TOO_MANY_PROBLEMS, msg))
            return
        self.problems.append(Problem(code, message, row=row, column=column, field=field))

    @property
    def codes(self) -> set[str]:
        return {p.code for p in self.problems}

    def fail(self, code: Code, message: str, **where: Unpack[Where]) -> GlossaryInvalid:
        """Record a fatal problem and return the exception to raise (parsing cannot go on)."""
        self.add(code, message, **where)
        return GlossaryInvalid(self.sorted())

    def raise_if_any(self) -> None:
        if self.problems:
            raise GlossaryInvalid(self.sorted())

    def sorted(self) -> list[Problem]:
        """File-level problems first, then by row; the overflow marker stays last."""
        return sorted(
            self.problems,
            key=lambda p: (p.code == Code.TOO_MANY_PROBLEMS, p.row is not None, p.row or 0),
        )
