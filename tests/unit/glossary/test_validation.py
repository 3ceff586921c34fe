from __future__ import annotations

import pytest

from service.glossary.limits import GlossaryLimits
from service.glossary.problems import GlossaryInvalid, Problem

from .conftest import DATA, only, parse, problems


def where(problem: Problem) -> tuple[str, int | None, str | None, str | None]:
    return problem.code, problem.row, problem.column, problem.field


def test_empty_term_names_row_and_column() -> None:
    found = problems(b"en,de\ndashboard,Ubersicht\n,Rechnung\n")
    assert where(only(found, "empty_term")) == ("empty_term", 3, "A", "term")


def test_missing_translation() -> None:
    found = problems(b"en,de,fr\ninvoice,,\n")
    assert where(only(found, "missing_translation")) == ("missing_translation", 2, "A", "term")


def test_conflicting_duplicate_names_both_rows() -> None:
    found = problems(b"en,de,fr\ninvoice,Rechnung,facture\nx,y,z\ninvoice,Faktura,facture\n")
    problem = only(found, "duplicate_term")
    assert where(problem) == ("duplicate_term", 4, "B", "translations.de")
    assert "row 2" in problem.message and "Rechnung" in problem.message


def test_duplicate_with_different_flags_conflicts() -> None:
    found = problems(b"en,de,forbidden\nfree,gratis,\nfree,gratis,yes\n")
    assert where(only(found, "duplicate_term")) == ("duplicate_term", 3, "C", "forbidden")


def test_unknown_language_in_header() -> None:
    found = problems(b"en,de,jp\nx,y,z\n")
    problem = only(found, "unknown_language")
    assert where(problem) == ("unknown_language", 1, "C", None)


def test_region_code_is_rejected_with_a_hint() -> None:
    problem = only(problems(b"en,de-DE\nx,y\n"), "unknown_language")
    assert "did you mean 'de'" in problem.message


def test_unknown_caller_language() -> None:
    found = problems(b"a,b\n", source_lang="english", target_lang="de")
    assert where(only(found, "unknown_language")) == ("unknown_language", None, None, "source_lang")


def test_auto_is_not_a_glossary_source_language() -> None:
    assert only(problems(b"a,b\n", source_lang="auto", target_lang="de"), "unknown_language")


def test_unknown_column() -> None:
    found = problems(b"en,de,comment_text\nx,y,z\n")
    assert where(only(found, "unknown_column")) == ("unknown_column", 1, "C", None)


def test_duplicate_column() -> None:
    found = problems(b"en,de,DE\nx,y,z\n")
    assert where(only(found, "duplicate_column")) == ("duplicate_column", 1, "C", "translations.de")


def test_extra_cell_in_headerless_file() -> None:
    found = problems(b"a,b\nc,d,e\n", source_lang="en", target_lang="de")
    assert where(only(found, "extra_cell")) == ("extra_cell", 2, "C", None)


def test_headerless_without_languages_is_missing_language() -> None:
    assert where(only(problems(b"IT,Informatik\n"), "missing_language"))[:2] == (
        "missing_language",
        1,
    )


def test_source_language_mismatch() -> None:
    found = problems(b"en,de\nx,y\n", source_lang="fr")
    assert where(only(found, "language_mismatch")) == ("language_mismatch", 1, "A", None)


def test_translation_into_the_source_language_is_rejected() -> None:
    content = b'{"source_lang": "en", "entries": [{"term": "a", "translations": {"en": "b"}}]}'
    found = problems(content, "g.json")
    assert where(only(found, "language_mismatch")) == (
        "language_mismatch",
        1,
        None,
        "translations.en",
    )


def test_invalid_flag_value() -> None:
    found = problems(b"en,de,forbidden\nx,y,maybe\n")
    assert where(only(found, "invalid_flag")) == ("invalid_flag", 2, "C", "forbidden")


def test_do_not_translate_and_forbidden_conflict() -> None:
    found = problems(b"en,do_not_translate,forbidden\nAcme,yes,yes\n")
    assert where(only(found, "conflicting_flags")) == ("conflicting_flags", 2, "C", "forbidden")


def test_do_not_translate_with_a_different_translation_conflicts() -> None:
    found = problems(b"en,de,do_not_translate\nAcme,Akme,yes\n")
    assert where(only(found, "conflicting_flags")) == (
        "conflicting_flags",
        2,
        "B",
        "translations.de",
    )


def test_do_not_translate_may_repeat_the_term() -> None:
    assert parse(b"en,de,do_not_translate\nAcme,Acme,yes\n").entries[0].do_not_translate


def test_oversized_entry() -> None:
    content = f"en,de\nbig,{'x' * 3000}\n".encode()
    assert where(only(problems(content), "entry_too_large")) == ("entry_too_large", 2, "A", "term")


def test_too_many_entries() -> None:
    limits = GlossaryLimits(max_entries=3)
    content = b"en,de\na,1\nb,2\nc,3\nd,4\ne,5\n"
    assert where(only(problems(content, limits=limits), "too_many_entries"))[:2] == (
        "too_many_entries",
        5,
    )


def test_exactly_max_entries_is_fine() -> None:
    assert (
        len(parse(b"en,de\na,1\nb,2\nc,3\n\n\n", limits=GlossaryLimits(max_entries=3)).entries) == 3
    )


def test_too_many_rows_counts_blank_rows() -> None:
    content = b"en,de\n" + b",\n" * 20 + b"a,b\n"
    assert only(problems(content, limits=GlossaryLimits(max_rows=10)), "too_many_entries").row == 11


def test_too_many_columns() -> None:
    content = ("en," + ",".join(["de"] * 10) + "\n").encode()
    assert (
        only(problems(content, limits=GlossaryLimits(max_columns=5)), "too_many_columns").row == 1
    )


def test_file_too_large() -> None:
    found = problems(b"en,de\n" + b"a,b\n" * 100, limits=GlossaryLimits(max_file_bytes=100))
    assert [p.code for p in found] == ["file_too_large"]


def test_empty_glossary() -> None:
    assert [p.code for p in problems(b"en,de\n\n")] == ["empty_glossary"]


def test_unsupported_format() -> None:
    assert [p.code for p in problems(b"%PDF-1.7", "terms.pdf")] == ["unsupported_format"]


def test_all_problems_are_collected_and_sorted_by_row() -> None:
    content = b"en,de,forbidden\n,x,\ny,,\nz,w,perhaps\n"
    assert [(p.code, p.row) for p in problems(content)] == [
        ("empty_term", 2),
        ("missing_translation", 3),
        ("invalid_flag", 4),
    ]


def test_problem_count_is_capped() -> None:
    content = b"en,de\n" + b",x\n" * 50
    found = problems(content, limits=GlossaryLimits(max_problems=5))
    assert len(found) == 6
    assert found[-1].code == "too_many_problems"


def test_problem_details_is_rfc9457_with_errors() -> None:
    with pytest.raises(GlossaryInvalid) as caught:
        parse(b"en,de\n,x\n")
    details = caught.value.to_problem_details()
    assert details["status"] == 422
    assert {"type", "title", "detail"} <= details.keys()
    assert details["errors"] == [
        {
            "code": "empty_term",
            "message": "the source term is empty",
            "row": 2,
            "column": "A",
            "field": "term",
        }
    ]


# JSON-specific


def test_json_wrong_types_name_the_field_path() -> None:
    content = (
        b'{"source_lang": "en", "entries": [{"term": 1},'
        b' {"term": "a", "translations": {"de": "b"}, "forbiden": true}]}'
    )
    found = problems(content, "g.json")
    assert [(p.code, p.row, p.field) for p in found] == [
        ("invalid_field", 1, "entries[0].term"),
        ("invalid_field", 2, "entries[1].forbiden"),
    ]


def test_json_wrong_top_level_shape() -> None:
    found = problems(b'[{"term": "a"}]', "g.json")
    assert {p.code for p in found} == {"invalid_field", "malformed_json"}


def test_json_unknown_translation_language() -> None:
    content = (
        b'{"source_lang": "en", "entries": [{"term": "a", "translations": {"xx": "b", "de": "c"}}]}'
    )
    assert where(only(problems(content, "g.json"), "unknown_language")) == (
        "unknown_language",
        1,
        None,
        "translations.xx",
    )


def test_json_missing_source_language() -> None:
    content = b'{"entries": [{"term": "a", "translations": {"de": "b"}}]}'
    assert only(problems(content, "g.json"), "missing_language")


def test_malformed_json_names_the_line() -> None:
    found = problems((DATA / "malformed.json").read_bytes(), "malformed.json")
    assert where(only(found, "malformed_json"))[:2] == ("malformed_json", 3)


def test_deeply_nested_json() -> None:
    assert only(problems(b"[" * 100_000 + b"]" * 100_000, "g.json"), "malformed_json")


# TBX-specific


def test_tbx_without_source_language() -> None:
    content = b"<martif><text><body/></text></martif>"
    assert only(problems(content, "g.tbx"), "missing_language")


def test_tbx_root_region_code_is_rejected_with_a_hint() -> None:
    content = b'<martif xml:lang="en-US"><text><body/></text></martif>'
    assert "did you mean 'en'" in only(problems(content, "g.tbx"), "unknown_language").message


def test_tbx_entry_without_source_term() -> None:
    content = b"""<martif xml:lang="en"><text><body>
    <termEntry><langSet xml:lang="de"><tig><term>Rechnung</term></tig></langSet></termEntry>
    </body></text></martif>"""
    assert where(only(problems(content, "g.tbx"), "empty_term")) == ("empty_term", 1, None, "term")


def test_tbx_unknown_language_names_the_entry() -> None:
    content = b"""<martif xml:lang="en"><text><body>
    <termEntry><langSet xml:lang="en"><tig><term>a</term></tig></langSet>
    <langSet xml:lang="de"><tig><term>b</term></tig></langSet></termEntry>
    <termEntry><langSet xml:lang="en"><tig><term>c</term></tig></langSet>
    <langSet xml:lang="klingon"><tig><term>d</term></tig></langSet></termEntry>
    </body></text></martif>"""
    found = problems(content, "g.tbx")
    assert where(found[0]) == ("unknown_language", 2, None, "langSet[klingon]")


def test_tbx_wrong_root() -> None:
    assert only(problems(b"<html><body/></html>", "g.xml"), "malformed_xml")


def test_malformed_tbx_names_the_line() -> None:
    found = problems((DATA / "malformed.tbx").read_bytes(), "malformed.tbx")
    assert where(only(found, "malformed_xml"))[:2] == ("malformed_xml", 4)


# CSV-specific


def test_unterminated_quote_is_malformed_csv() -> None:
    found = problems((DATA / "unterminated-quote.csv").read_bytes(), "unterminated-quote.csv")
    assert only(found, "malformed_csv").row == 2


def test_nul_byte_in_csv() -> None:
    found = problems(b"en,de\na\x00b,c\n")
    assert where(only(found, "invalid_text")) == ("invalid_text", 2, "A", "term")


def test_tbx_lang_set_without_language() -> None:
    content = b"""<martif xml:lang="en"><text><body><termEntry>
    <langSet xml:lang="en"><tig><term>a</term></tig></langSet>
    <langSet><tig><term>b</term></tig></langSet></termEntry></body></text></martif>"""
    assert where(only(problems(content, "g.tbx"), "missing_language")) == (
        "missing_language",
        1,
        None,
        "langSet[]",
    )


def test_tbx_language_twice_in_one_entry() -> None:
    content = b"""<martif xml:lang="en"><text><body><termEntry>
    <langSet xml:lang="en"><tig><term>a</term></tig></langSet>
    <langSet xml:lang="de"><tig><term>b</term></tig></langSet>
    <langSet xml:lang="DE"><tig><term>c</term></tig></langSet></termEntry></body></text></martif>"""
    assert only(problems(content, "g.tbx"), "duplicate_column").field == "langSet[DE]"


def test_json_language_twice_after_normalization() -> None:
    content = (
        b'{"source_lang": "en", "entries": [{"term": "a", "translations": {"de": "b", "DE": "c"}}]}'
    )
    assert only(problems(content, "g.json"), "duplicate_column").field == "translations.DE"


def test_json_source_language_mismatch_and_unknown() -> None:
    body = b'{"source_lang": "%s", "entries": [{"term": "a", "translations": {"fr": "b"}}]}'
    assert only(problems(body % b"de", "g.json", source_lang="en"), "language_mismatch")
    assert only(problems(body % b"xx", "g.json"), "unknown_language").field == "source_lang"
