"""What `zai-l10n translate` and `status` show: a progress bar, then one line per file and
language with its QA summary (rich)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from service.client.session import Outcome


def progress_bar(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("languages"),
        console=console,
        transient=True,
    )


def qa_cells(event: Mapping[str, Any]) -> tuple[str, str, str]:
    """(segments ok/warning/failed, placeholder errors, glossary hits/misses) of a result."""
    totals = (event.get("qa") or {}).get("totals") or {}
    if not totals:
        return "—", "—", "—"
    segments = f"{totals.get('ok', 0)}/{totals.get('warning', 0)}/{totals.get('failed', 0)}"
    placeholders = f"{totals.get('placeholder_errors', 0)} of {totals.get('placeholders', 0)}"
    glossary = f"{totals.get('glossary_hits', 0)}/{totals.get('glossary_misses', 0)}"
    return segments, placeholders, glossary


def summary(
    outcomes: Iterable[Outcome], labels: Mapping[str, str], written: Mapping[tuple[str, str], str]
) -> Table:
    table = Table(title="Translations", title_justify="left")
    for column in (
        "source",
        "lang",
        "status",
        "segments ok/warn/failed",
        "placeholder errors",
        "glossary hits/misses",
        "result",
    ):
        table.add_column(column)
    for o in sorted(outcomes, key=lambda o: (labels.get(o.request_id, ""), o.target_lang or "")):
        lang = o.target_lang or "all"
        status = "[green]completed[/]" if o.ok else "[red]failed[/]"
        result = written.get((o.request_id, lang), "") if o.ok else o.problem
        table.add_row(
            labels.get(o.request_id, o.request_id), lang, status, *qa_cells(o.event), result
        )
    return table


def job_table(job: Mapping[str, Any]) -> Table:
    """`zai-l10n status`: one row per language of a job (the admin API's JobStatus, as JSON)."""
    table = Table(
        title=f"Job {job['request_id']} of {job['tenant_id']}: {job['state']}",
        title_justify="left",
    )
    for column in (
        "lang",
        "state",
        "segments ok/warn/failed",
        "placeholder errors",
        "glossary hits/misses",
        "error",
    ):
        table.add_column(column)
    for t in job["targets"]:
        result = t.get("result") or {}
        error = (
            f"{result.get('error_code')}: {result.get('message')}"
            if result.get("error_code")
            else ""
        )
        table.add_row(t["target_lang"], t["state"], *qa_cells(result), escape(error))
    return table
