"""Throughput of the Z.ai simulator's agents route at zero latency.

Starts `python -m service.sim` (one uvicorn process) on a free port, then drives
`POST /api/v1/agents` with `wrk` (Lua POST script) when installed, else with keep-alive
asyncio clients in several processes. Prints requests per second and checks the
simulator's own counters agree. Usage:

    .venv/bin/python benchmarks/sim_throughput.py [--seconds 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BODY = json.dumps(
    {
        "agent_id": "general_translation",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Open the valve."}]}],
        "custom_variables": {"source_lang": "en", "target_lang": "de"},
    }
)
HEADERS = {"Authorization": "Bearer bench.key", "Content-Type": "application/json"}
WRK_SCRIPT = f"""
wrk.method = "POST"
wrk.body = {json.dumps(BODY)}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench.key"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_simulator(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "service.sim", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_sim/health", timeout=0.5).raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("simulator did not start")


def run_wrk(url: str, seconds: int, connections: int) -> tuple[float, int, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        script.name,
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    Path(script.name).unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    total = int(re.search(r"(\d+) requests in", output)[1])  # type: ignore[index]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise RuntimeError(f"{non_2xx[1]} error replies:\n{output}")
    return rate, total, " ".join([*command[:-3], "<post.lua>", url]) + "\n" + output


async def _client(port: int, deadline: float) -> int:
    """One keep-alive connection sending requests back to back; returns replies received."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
    request = (
        f"POST /api/v1/agents HTTP/1.1\r\nHost: sim\r\n{head}Content-Length: {len(BODY)}\r\n\r\n"
        f"{BODY}"
    ).encode()
    done = 0
    while time.monotonic() < deadline:
        writer.write(request)
        header = await reader.readuntil(b"\r\n\r\n")
        if not header.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(header.decode())
        length = int(re.search(rb"content-length: (\d+)", header.lower())[1])  # type: ignore[index]
        await reader.readexactly(length)
        done += 1
    writer.close()
    return done


def _load_process(
    port: int, connections: int, seconds: int, queue: multiprocessing.Queue[int]
) -> None:
    async def main() -> int:
        deadline = time.monotonic() + seconds
        return sum(await asyncio.gather(*(_client(port, deadline) for _ in range(connections))))

    queue.put(asyncio.run(main()))


def run_python(
    port: int, seconds: int, connections: int, processes: int = 2
) -> tuple[float, int, str]:
    queue: multiprocessing.Queue[int] = multiprocessing.Queue()
    per_process = max(1, connections // processes)
    workers = [
        multiprocessing.Process(target=_load_process, args=(port, per_process, seconds, queue))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    total = sum(queue.get() for _ in workers)
    for worker in workers:
        worker.join()
    return (
        total / seconds,
        total,
        f"python asyncio load: {processes} processes x {per_process} conns",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--python-load", action="store_true", help="ignore wrk even if installed")
    args = parser.parse_args()
    port = free_port()
    simulator = start_simulator(port)
    try:
        httpx.post(
            f"http://127.0.0.1:{port}/api/v1/agents", content=BODY, headers=HEADERS
        ).raise_for_status()
        if shutil.which("wrk") and not args.python_load:
            rate, total, detail = run_wrk(
                f"http://127.0.0.1:{port}/api/v1/agents", args.seconds, args.connections
            )
        else:
            rate, total, detail = run_python(port, args.seconds, args.connections)
        counted = httpx.get(f"http://127.0.0.1:{port}/_sim/counters").json()["calls"]["agents"]
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    in_flight = counted - 1 - total  # requests still open when the load generator stopped
    print(detail)
    print(f"agent calls: {total} in {args.seconds}s -> {rate:,.0f} calls/s")
    print(f"simulator counted {counted - 1} (+{in_flight} in flight at the cut-off)")


if __name__ == "__main__":
    main()
