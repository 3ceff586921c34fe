"""Reading a /metrics page (Prometheus text format) in drills."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(page: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample called `name` (e.g. `zai_l10n_dead_lettered_total`): (labels, value)."""
    return [
        (dict(s.labels), s.value)
        for family in text_string_to_metric_families(page)
        for s in family.samples
        if s.name == name
    ]


def total(page: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for got, v in samples(page, name) if labels.items() <= got.items())
