"""The latency-hiding baseline: a plain FastStream subscriber with default settings.

    python benchmarks/faststream_baseline.py BOOTSTRAP REQUESTS_TOPIC RESULTS_TOPIC AGENTS_URL

One handler as FastStream's getting-started docs write it: take a request, call the agent
(httpx), publish the reply. Every subscriber setting is FastStream's default (one message at a
time); only `auto_offset_reset="earliest"` is set, so that nothing published while the group
was joining is skipped. Runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import httpx
from faststream.kafka import KafkaBroker

AUTH = {"Authorization": "Bearer simulator.local-key"}


async def main(bootstrap: str, requests: str, results: str, agents: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    broker = KafkaBroker(bootstrap)
    async with httpx.AsyncClient(timeout=120) as http:

        @broker.subscriber(requests, group_id="faststream-baseline", auto_offset_reset="earliest")
        async def handle(body: dict[str, Any]) -> None:
            lang = body["target_langs"][0]
            call = {
                "agent_id": "general_translation",
                "stream": False,
                "messages": [{"role": "user", "content": [{"type": "text", "text": body["text"]}]}],
                "custom_variables": {"source_lang": "en", "target_lang": lang},
            }
            reply = (await http.post(f"{agents}/agents", json=call, headers=AUTH)).json()
            text = reply["choices"][0]["messages"][0]["content"]["text"]
            event = {"request_id": body["request_id"], "target_lang": lang, "text": text}
            await broker.publish(event, topic=results)

        async with broker:
            await broker.start()
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
