"""`zai-l10n translate` in memory: FastStream's TestKafkaBroker stands in for Kafka, and a fake
worker subscribed to the requests topic answers as the real one does (completed, failed, dead
letter, or nothing). The same code runs against the real broker in tests/integration."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from rich.console import Console

from service import bootstrap
from service.client.inputs import InputError, output_name, read_file
from service.client.translate import BAD_INPUT, FAILED, OK, TranslateOptions, translate
from service.config import Settings
from service.l10n.formats import detect_format, get_format

FILES = Path(__file__).resolve().parents[2] / "data/l10n/files"
SETTINGS = Settings(_env_file=None, topic_requests="req", topic_results="res", topic_dlq="dlq")  # type: ignore[call-arg]


def fake_worker(broker: KafkaBroker, fail: set[str] = frozenset(), mode: str = "answer") -> None:  # type: ignore[assignment]
    @broker.subscriber("req")
    async def work(body: dict[str, Any]) -> None:
        if mode == "silent":
            return
        if mode == "dead-letter":
            raw = base64.b64encode(json.dumps(body).encode()).decode()
            await broker.publish(
                {"reason": "schema", "detail": "target_langs: bad", "original_value_b64": raw},
                "dlq",
            )
            return
        for lang in body["target_langs"]:
            await broker.publish(result(body, lang, failed=lang in fail), "res")


def result(request: dict[str, Any], lang: str, *, failed: bool) -> dict[str, Any]:
    base = {
        "request_id": request["request_id"],
        "tenant_id": request["tenant_id"],
        "target_lang": lang,
    }
    if failed:
        return {
            **base,
            "type": "translation.failed",
            "error_code": "glossary.not_found",
            "message": "the request names a glossary the tenant does not have",
        }
    qa = {
        "totals": {
            "ok": 2,
            "warning": 0,
            "failed": 0,
            "placeholders": 1,
            "placeholder_errors": 0,
            "glossary_hits": 1,
            "glossary_misses": 0,
        }
    }
    event = {**base, "type": "translation.completed", "qa": qa}
    if "file" in request:
        content = base64.b64decode(request["file"]["content_b64"])
        fmt = get_format(request["file"]["format"])
        merged = fmt.merge(
            content, {u.id: f"[{lang}] {u.text}" for u in fmt.extract(content)}, lang
        )
        event["file"] = {
            "filename": request["file"]["filename"],
            "content_b64": base64.b64encode(merged).decode(),
        }
    else:
        event["text"] = f"[{lang}] {request['text']}"
    return event


async def run(options: TranslateOptions, **worker: Any) -> tuple[int, str]:
    broker = bootstrap.faststream_broker(SETTINGS)
    fake_worker(broker, **worker)
    out = io.StringIO()
    async with TestKafkaBroker(broker):
        code = await translate(SETTINGS, options, Console(file=out, width=200), broker=broker)
    return code, out.getvalue()


def options(tmp_path: Path, *paths: Path, **kw: Any) -> TranslateOptions:
    return TranslateOptions(
        paths=list(paths),
        text=kw.pop("text", None),
        tenant="acme",
        targets=kw.pop("targets", ["de", "fr"]),
        out=tmp_path / "out",
        **kw,
    )


async def test_files_come_back_beside_each_other_in_every_language(tmp_path: Path) -> None:
    code, out = await run(options(tmp_path, FILES / "messages.po", FILES / "strings.xml"))
    assert code == OK, out
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["messages.de.po", "messages.fr.po", "strings.de.xml", "strings.fr.xml"]
    po = (tmp_path / "out/messages.de.po").read_bytes()
    assert detect_format("messages.de.po", po) == "po"
    assert b'msgstr "[de] ' in po and b'msgstr "[fr] ' not in po
    assert "completed" in out and "2/0/0" in out


async def test_a_failed_language_is_reported_and_exits_non_zero(tmp_path: Path) -> None:
    code, out = await run(options(tmp_path, FILES / "messages.po"), fail={"fr"})
    assert code == FAILED
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["messages.de.po"]
    assert "glossary.not_found" in out and "does not have" in out


async def test_text_is_printed(tmp_path: Path) -> None:
    code, out = await run(options(tmp_path, text="Your invoice", targets=["de"]))
    assert code == OK and "[de] Your invoice" in out


async def test_a_dead_lettered_request_ends_the_wait_with_its_reason(tmp_path: Path) -> None:
    code, out = await run(options(tmp_path, text="Hi"), mode="dead-letter")
    assert code == FAILED and "rejected (schema): target_langs: bad" in out


async def test_no_answer_times_out_with_a_pointer_to_status(tmp_path: Path) -> None:
    code, out = await run(options(tmp_path, text="Hi", timeout=0.3), mode="silent")
    assert code == FAILED and "timed out" in out and "zai-l10n status cli-" in out


async def test_no_wait_only_publishes(tmp_path: Path) -> None:
    code, out = await run(options(tmp_path, FILES / "messages.po", wait=False))
    assert code == OK and "sent" in out and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.po", None, "cannot read"),
        ("binary.bin", b"\x00\x01\x02garbage", "not a resource file"),
        ("broken.json", b'{"a": ', "not a resource file"),
    ],
)
async def test_unusable_files_fail_before_anything_is_sent(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, out = await run(options(tmp_path, path), mode="silent")
    assert code == BAD_INPUT and message in out and "sent" not in out


async def test_bad_options_name_the_option(tmp_path: Path) -> None:
    code, out = await run(options(tmp_path, text="Hi", targets=["xx"]))
    assert code == BAD_INPUT and "--to: unknown target_langs ['xx']" in out
    code, out = await run(options(tmp_path))
    assert code == BAD_INPUT and "nothing to translate" in out


def test_output_names() -> None:
    assert output_name("messages.po", "de") == "messages.de.po"
    assert output_name("strings.xml", "fr") == "strings.fr.xml"
    assert output_name("Makefile", "ja") == "Makefile.ja"
    with pytest.raises(InputError):
        read_file(FILES)  # a folder
