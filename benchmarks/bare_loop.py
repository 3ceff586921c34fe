"""The baseline of the overhead scenario: a bare aiokafka → httpx → aiokafka loop, no database.

    python benchmarks/bare_loop.py BOOTSTRAP REQUESTS_TOPIC RESULTS_TOPIC AGENTS_URL IN_FLIGHT STACK

It does the least a translation service must: read a request, call the agent, publish the
reply; with the same in-flight limit as the worker and nothing else (no durability, no checks,
no memory). Runs until SIGTERM. The benchmark reads its CPU time from /proc like the worker's.

STACK `worker`: the worker's own HTTP stack and event loop (httpx over `AiohttpTransport`,
uvloop), so the ratio measures what the service adds, not which HTTP library each side uses.
STACK `httpx`: plain httpx (its default httpcore transport) on asyncio's loop, the baseline
as issue 11 measured it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import httpx
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from service.zai.transport import AiohttpTransport


async def main(
    bootstrap: str, requests: str, results: str, agents: str, in_flight: int, stack: str
) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    consumer = AIOKafkaConsumer(
        requests, bootstrap_servers=bootstrap, group_id="bare-loop", auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    gate = asyncio.Semaphore(in_flight)
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    transport = AiohttpTransport(limits) if stack == "worker" else None
    async with httpx.AsyncClient(transport=transport, limits=limits, timeout=120) as http:

        async def handle(value: bytes) -> None:
            try:
                req = json.loads(value)
                lang = req["target_langs"][0]
                body = {
                    "agent_id": "general_translation",
                    "stream": False,
                    "messages": [
                        {"role": "user", "content": [{"type": "text", "text": req["text"]}]}
                    ],
                    "custom_variables": {"source_lang": "en", "target_lang": lang},
                }
                reply = (await http.post(f"{agents}/agents", json=body, headers=AUTH)).json()
                text = reply["choices"][0]["messages"][0]["content"]["text"]
                event = {"request_id": req["request_id"], "target_lang": lang, "text": text}
                await producer.send(results, json.dumps(event).encode())
            finally:
                gate.release()

        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=200)
            for records in batch.values():
                for record in records:
                    await gate.acquire()
                    task = asyncio.create_task(handle(record.value or b"{}"))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks, return_exceptions=True)
    await producer.stop()
    await consumer.stop()


AUTH = {"Authorization": "Bearer simulator.local-key"}

if __name__ == "__main__":
    bootstrap, requests_topic, results_topic, agents_url, limit, stack = sys.argv[1:7]
    work = main(bootstrap, requests_topic, results_topic, agents_url, int(limit), stack)
    if stack == "worker":
        uvloop.run(work)
    else:
        asyncio.run(work)
