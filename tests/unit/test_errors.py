"""One vocabulary of failure codes: the enum, the Z.ai client's codes and docs/events.md agree."""

from __future__ import annotations

import re
from pathlib import Path

from service.errors import FailureCode, Misconfigured
from service.zai import errors as zai_errors

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def _subclasses(cls: type) -> set[type]:
    out = set(cls.__subclasses__())
    for sub in list(out):
        out |= _subclasses(sub)
    return out


def test_every_upstream_error_code_is_a_failure_code() -> None:
    codes = {c.error_code for c in _subclasses(zai_errors.ZaiError) | {zai_errors.ZaiError}}
    assert codes <= {c.value for c in FailureCode}


def test_every_misconfiguration_has_its_own_code() -> None:
    classes = _subclasses(Misconfigured)
    assert len({c.code for c in classes}) == len(classes) >= 5


def test_docs_list_exactly_the_failure_codes() -> None:
    section = DOCS.read_text().split("### Failure codes", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", section, re.MULTILINE))
    assert documented == {c.value for c in FailureCode}


def test_an_unknown_upstream_code_maps_to_the_generic_one() -> None:
    assert FailureCode.of("zai.rate_limited") is FailureCode.zai_rate_limited
    assert FailureCode.of("zai.something_new") is FailureCode.zai_error


def test_a_service_error_defaults_to_its_docstring() -> None:
    from service.errors import CredentialInvalid

    assert CredentialInvalid().message.startswith("The tenant's stored Z.ai key")
