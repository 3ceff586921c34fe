"""economy: what the upload cache, translation memory and packing save in agent calls.

10,000 segments (70 % distinct, 30 % repeats of a distinct one of the same tenant), 10 per
request, over 3 tenants, each with a default glossary of 12 terms for en→de and en→fr; every
request asks for both languages. Run twice against fresh databases and simulator counters:
with packing off (one agent call per segment: the baseline) and on. Bounds, from the corpus:
uploads = distinct (glossary version, pair) and agent calls ≤ distinct (segment, pair,
glossary version); packing should cut the calls further. Memory hits, tokens, and the packing
success rate (from the worker's `zai_l10n_packing_total{outcome}` when it has that metric,
else from the segments marked `packing_failed` in the QA reports).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
from typing import Any

from matplotlib.figure import Figure
from rich.progress import Progress

from benchmarks.suite.infra import Infra, Simulator, simulator
from benchmarks.suite.load import Drain, Measured, drain, workers
from benchmarks.suite.report import Result, Target, console
from tests.support.worker import Stack

TERMS = {
    "invoice": ("Rechnung", "facture"),
    "dashboard": ("Übersicht", "tableau de bord"),
    "billing": ("Abrechnung", "facturation"),
    "subscription": ("Abonnement", "abonnement"),
    "workspace": ("Arbeitsbereich", "espace de travail"),
    "account": ("Konto", "compte"),
    "report": ("Bericht", "rapport"),
    "checkout": ("Kasse", "caisse"),
    "shipment": ("Sendung", "expédition"),
    "warehouse": ("Lager", "entrepôt"),
    "refund": ("Erstattung", "remboursement"),
    "password": ("Passwort", "mot de passe"),
    "profile": ("Profil", "profil"),
    "order": ("Bestellung", "commande"),
    "customer": ("Kunde", "client"),
    "payment": ("Zahlung", "paiement"),
    "team": ("Team", "équipe"),
    "project": ("Projekt", "projet"),
}
TEMPLATES = (
    "Open the {a} settings for entry {n}.",
    "Your {a} was updated on day {n}.",
    "Download the {a} summary for week {n}.",
    "Share the {a} with your {b} before step {n}.",
    "The {a} for item {n} is ready for review.",
    "We could not find {a} number {n} in your {b}.",
)
TENANTS = ("acme", "globex", "initech")
LANGS = ("de", "fr")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--segments", type=int, default=10_000, help="segments in all (10000)")
    p.add_argument("--repeats", type=float, default=0.3, help="share of repeats (0.3)")
    p.add_argument("--per-request", type=int, default=10, help="segments per request (10)")


def corpus(args: argparse.Namespace, run: str) -> tuple[list[dict[str, Any]], int]:
    """The requests, and the number of distinct (tenant, text) pairs among their segments."""
    rng = random.Random(11)
    distinct = round(args.segments * (1 - args.repeats))
    per_tenant: dict[str, list[str]] = {t: [] for t in TENANTS}
    for n in range(distinct):
        tenant = TENANTS[n % len(TENANTS)]
        a, b = rng.sample(sorted(_terms(tenant)), 2)
        per_tenant[tenant].append(rng.choice(TEMPLATES).format(a=a, b=b, n=n))
    texts = {t: list(v) for t, v in per_tenant.items()}
    for n in range(args.segments - distinct):
        tenant = TENANTS[n % len(TENANTS)]
        texts[tenant].append(rng.choice(per_tenant[tenant]))
    requests: list[dict[str, Any]] = []
    for tenant, mine in texts.items():
        rng.shuffle(mine)
        for i in range(0, len(mine), args.per_request):
            chunk = mine[i : i + args.per_request]
            requests.append(_request(f"{run}-{tenant}-{i}", tenant, chunk))
    rng.shuffle(requests)
    return requests, distinct


def _request(rid: str, tenant: str, texts: list[str]) -> dict[str, Any]:
    return {
        "request_id": rid,
        "tenant_id": tenant,
        "source_lang": "en",
        "target_langs": list(LANGS),
        "segments": [{"id": f"s{k}", "text": t} for k, t in enumerate(texts)],
    }


def _terms(tenant: str) -> list[str]:
    """Twelve of the terms, a different selection per tenant."""
    names = sorted(TERMS)
    start = TENANTS.index(tenant) * 3
    return (names[start:] + names[:start])[:12]


def _glossary_csv(tenant: str) -> bytes:
    lines = ["en,de,fr"] + [f"{t},{TERMS[t][0]},{TERMS[t][1]}" for t in _terms(tenant)]
    return ("\n".join(lines) + "\n").encode()


async def seed_glossaries(db_url: str) -> None:
    """Each tenant's default glossary, written as the admin API would."""
    from service.glossary.limits import GlossaryLimits
    from service.glossary.parse import parse_glossary
    from service.store import glossaries
    from service.store.db import create_engine, session_factory

    engine = create_engine(db_url)
    try:
        for tenant in TENANTS:
            doc = parse_glossary(
                _glossary_csv(tenant),
                filename="terms.csv",
                content_type=None,
                source_lang=None,
                target_lang=None,
                limits=GlossaryLimits(),
            )
            async with session_factory(engine)() as s:
                await glossaries.save(
                    s, tenant_id=tenant, name="terms", doc=doc, author="bench", is_default=True
                )
                await s.commit()
    finally:
        await engine.dispose()


def run(args: argparse.Namespace, env: Infra) -> Result:
    measured: dict[str, dict[str, Any]] = {}
    with simulator() as sim, Progress(console=console) as progress:
        for name, packing in (("packing off (baseline)", False), ("packing on", True)):
            measured[name] = _run(args, env, sim, progress, packing)
    return _result(args, measured)


def _run(
    args: argparse.Namespace, env: Infra, sim: Simulator, progress: Progress, packing: bool
) -> dict[str, Any]:
    sim.reset()
    stack = Stack(env.bootstrap, env.database("economy"), sim.agents, sim.files)
    settings = {"TRANSLATION_PACKING": str(packing).lower(), "ZAI_MAX_CONCURRENCY": "64"}
    with workers(stack, 1, TOPIC_PARTITIONS="1", **settings) as [w]:
        asyncio.run(seed_glossaries(stack.database_url))
        requests, distinct = corpus(args, stack.run)
        d = asyncio.run(
            drain(
                env.bootstrap,
                stack,
                requests,
                Measured.of([w]),
                progress,
                name="packing " + ("on" if packing else "off"),
                languages=len(LANGS),
                keep_events=True,
            )
        )
        return _figures(d, sim.counters(), w.metrics(), distinct)


def _figures(d: Drain, counters: dict[str, Any], metrics: str, distinct: int) -> dict[str, Any]:
    usage = [e.get("usage") or {} for e in d.events]
    hits = sum(u.get("memory_hits", 0) for u in usage)
    tokens = sum(u.get("total_tokens", 0) for u in usage)
    segments = [s for e in d.events for s in (e.get("qa") or {}).get("segments", [])]
    fallback = sum(1 for s in segments if "packing_failed" in s.get("codes", []))
    upstream = len(segments) - hits
    return {
        "agent_calls": counters["calls"]["agents"],
        "uploads": counters["calls"]["files_upload"],
        "segment_languages": len(segments),
        "memory_hits": hits,
        "tokens": tokens,
        "tokens_per_translated_segment": tokens / max(upstream, 1),
        "packing": _packing(metrics, fallback, upstream),
        "failed": sum(1 for e in d.events if e.get("type") == "translation.failed"),
        "seconds": d.seconds,
        "bound_calls": distinct * len(LANGS),
        "bound_uploads": len(TENANTS) * len(LANGS),
    }


def _packing(metrics: str, fallback_segments: int, upstream: int) -> dict[str, Any]:
    """Packed calls whose markers came back, over all packed calls."""
    found = dict(re.findall(r'^zai_l10n_packing_total\{outcome="(\w+)"\} (\S+)$', metrics, re.M))
    if found:
        ok, split = float(found.get("packed_ok", 0)), float(found.get("split", 0))
        rate = ok / (ok + split) if ok + split else None
        return {"source": "zai_l10n_packing_total", "rate": rate, "outcomes": found}
    rate = 1 - fallback_segments / upstream if upstream else None
    return {"source": "QA codes (packing_failed segments)", "rate": rate}


def _result(args: argparse.Namespace, runs: dict[str, dict[str, Any]]) -> Result:
    off, on = runs["packing off (baseline)"], runs["packing on"]
    targets = []
    for name, f in runs.items():
        uploads, calls = f["bound_uploads"], f["bound_calls"]
        targets += [
            Target(
                f"uploads = distinct (glossary version, pair) = {uploads} ({name})",
                f["uploads"],
                f["uploads"] == uploads,
            ),
            Target(
                f"agent calls ≤ distinct (segment, pair, version) = {calls:,} ({name})",
                f["agent_calls"],
                f["agent_calls"] <= calls,
            ),
        ]
    saved = 1 - on["agent_calls"] / off["agent_calls"]
    notes = [
        f"{args.segments:,} segments ({args.repeats:.0%} repeats), {args.per_request} per "
        f"request, {len(TENANTS)} tenants, languages {', '.join(LANGS)}",
        f"packing cuts agent calls by a further {saved:.1%} "
        f"({off['agent_calls']:,} → {on['agent_calls']:,})",
        f"tokens: {off['tokens']:,} with packing off, {on['tokens']:,} on (the simulator counts "
        "words, packing instructions included); tokens saved by memory = hits × tokens per "
        "translated segment",
        f"packing success rate: {_pct(on['packing']['rate'])} (from {on['packing']['source']})",
    ]
    rows = [_row(name, f) for name, f in runs.items()]
    return Result("economy", rows, targets, notes, data=runs, plot=lambda fig: _plot(fig, runs))


def _row(name: str, f: dict[str, Any]) -> dict[str, Any]:
    return {
        "run": name,
        "agent_calls": f["agent_calls"],
        "bound_calls": f["bound_calls"],
        "uploads": f["uploads"],
        "memory_hits": f["memory_hits"],
        "tokens": f["tokens"],
        "tokens_saved_by_memory": round(f["memory_hits"] * f["tokens_per_translated_segment"]),
        "packing_success": _pct(f["packing"]["rate"]) if "on" in name else "",
        "failed_events": f["failed"],
        "seconds": round(f["seconds"], 1),
    }


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def _plot(fig: Figure, runs: dict[str, dict[str, Any]]) -> None:
    ax = fig.add_subplot()
    f0 = next(iter(runs.values()))
    bars = {
        "segment × language": f0["segment_languages"],
        "bound: distinct\n(segment, pair, version)": f0["bound_calls"],
        **{f"agent calls,\n{name}": f["agent_calls"] for name, f in runs.items()},
    }
    drawn = ax.bar(range(len(bars)), list(bars.values()), color=["grey", "black", "C0", "C1"])
    ax.bar_label(drawn, fmt="{:,.0f}", fontsize=8)
    ax.set_xticks(range(len(bars)), list(bars), fontsize=8)
    ax.set_ylabel("count")
    ax.set_title("Economy: agent calls against their bound")
