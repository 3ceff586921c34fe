"""CPU per agent call of the HTTP stacks the Z.ai client could use, side by side.

    .venv/bin/python benchmarks/http_client.py [--calls 3000] [--concurrency 64]

Starts the simulator (zero latency, its own process) and makes N `POST /agents` calls at the
given concurrency with each stack in turn, each in a fresh process so that one's pools and
caches do not help another: httpx with its default transport (httpcore over anyio), httpx over
our `AiohttpTransport`, aiohttp alone, and the Z.ai client itself (which uses the second), each on
asyncio's loop and on uvloop. Prints calls/s and the process's CPU milliseconds per call
(`time.process_time`), the figure that decided service/zai/transport.py.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STACKS = ("httpx", "httpx+aiohttp", "aiohttp", "zai-client")
AUTH = {"Authorization": "Bearer simulator.local-key"}


def body(i: int) -> dict[str, Any]:
    return {
        "agent_id": "general_translation",
        "stream": False,
        "messages": [{"role": "user", "content": [{"type": "text", "text": f"Hello {i}"}]}],
        "custom_variables": {"source_lang": "en", "target_lang": "de"},
    }


async def measure(base: str, stack: str, calls: int, concurrency: int) -> str:
    one, close = await _client(base, stack, concurrency)
    gate = asyncio.Semaphore(concurrency)

    async def gated(i: int) -> None:
        async with gate:
            await one(i)

    await asyncio.gather(*(gated(i) for i in range(200)))  # warm: connections, caches
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(gated(i) for i in range(calls)))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    await close()
    return f"{calls / seconds:7.0f} calls/s {1000 * cpu / calls:6.2f} CPU ms/call"


async def _client(base: str, stack: str, concurrency: int) -> tuple[Any, Any]:
    import httpx

    from service.zai import TranslateRequest, ZaiClient
    from service.zai.transport import AiohttpTransport

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    url = f"{base}/api/v1/agents"
    if stack == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        async def post(i: int) -> None:
            async with session.post(url, json=body(i), headers=AUTH) as reply:
                await reply.json()

        return post, session.close
    if stack == "zai-client":
        zai = ZaiClient(
            "k", agents_base_url=f"{base}/api/v1", files_base_url=base, max_concurrency=concurrency
        )

        async def translate(i: int) -> None:
            request = TranslateRequest(text=f"Hello {i}", target_lang="de", source_lang="en")
            await zai.submit(request)

        return translate, zai.aclose
    transport = AiohttpTransport(limits) if stack == "httpx+aiohttp" else None
    client = httpx.AsyncClient(limits=limits, transport=transport)

    async def send(i: int) -> None:
        (await client.post(url, json=body(i), headers=AUTH)).json()

    return send, client.aclose


def child(args: argparse.Namespace) -> None:
    work = measure(args.base, args.stack, args.calls, args.concurrency)
    if args.loop == "uvloop":
        import uvloop

        print(uvloop.run(work))
    else:
        print(asyncio.run(work))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--calls", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--base", help=argparse.SUPPRESS)
    p.add_argument("--stack", help=argparse.SUPPRESS)
    p.add_argument("--loop", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.stack:
        child(args)
        return
    from benchmarks.suite.infra import simulator

    with simulator() as sim:
        for stack in STACKS:
            for loop in ("asyncio", "uvloop"):
                cmd = [sys.executable, __file__, "--base", sim.base, "--stack", stack]
                cmd += ["--loop", loop, "--calls", str(args.calls)]
                cmd += ["--concurrency", str(args.concurrency)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                print(f"{stack:14} {loop:8} {out.strip()}")


if __name__ == "__main__":
    main()
