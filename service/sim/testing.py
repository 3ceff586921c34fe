"""Run the simulators (Z.ai, Truto) in background threads over real TCP; drive their control
APIs.

Used by the pytest fixtures (tests/fixtures/simulator.py), the demo and benchmarks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from service.sim.config import SimConfig
from service.sim.server import SimApp, free_socket, make_server
from service.sim.truto import TrutoSimApp
from service.sim.truto_model import TrutoSimConfig
from service.sim.truto_state import TrutoState


class SimulatorHandle:
    """Addresses of a running simulator plus synchronous helpers for `/_sim/*`."""

    def __init__(self, base_url: str, app: SimApp | None = None) -> None:
        self.base_url = base_url
        self.agents_base = f"{base_url}/api/v1"
        self.files_base = f"{base_url}/api/paas/v4"
        self.app = app  # set when in-process: direct access to app.state for debugging
        self._http = httpx.Client(base_url=base_url, timeout=10.0)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_sim/counters")
        return result

    def agent_calls_by_target(self) -> dict[str, int]:
        """Agents calls received per requested target language (faulted calls included)."""
        result: dict[str, int] = self.counters()["agents_by_target"]
        return result

    def reset(self) -> None:
        self._call("POST", "/_sim/reset")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change runtime config fields (see SimConfig); returns the effective config."""
        result: dict[str, Any] = self._call("POST", "/_sim/config", changes)
        return result

    def script(
        self,
        route: str,
        faults: Sequence[str] = (),
        *,
        rates: dict[str, float] | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Faults for the next calls of `route` ("ok" = none), then random ones by `rates`."""
        body = {"route": route, "script": list(faults), "rates": rates or {}, "seed": seed}
        result: dict[str, Any] = self._call("POST", "/_sim/faults", body)
        return result

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/_sim/clock", {"advance_seconds": seconds})
        return result

    def requests(self, route: str | None = None) -> list[dict[str, Any]]:
        """Recent request bodies the simulator received (keys appear hashed)."""
        path = "/_sim/requests" + (f"?route={route}" if route else "")
        result: list[dict[str, Any]] = self._call("GET", path)
        return result

    def calls(self, route: str | None = None) -> list[dict[str, Any]]:
        """Z.ai calls in arrival order with the fault each drew ("ok" for none)."""
        path = "/_sim/calls" + (f"?route={route}" if route else "")
        result: list[dict[str, Any]] = self._call("GET", path)
        return result

    def files(self) -> list[dict[str, Any]]:
        """Every stored, unexpired file with its parsed glossary terms."""
        result: list[dict[str, Any]] = self._call("GET", "/_sim/files")
        return result

    def close(self) -> None:
        self._http.close()


class TrutoSimHandle:
    """A running Truto simulator plus synchronous helpers for `/_truto/*`."""

    def __init__(self, base_url: str, app: TrutoSimApp | None = None) -> None:
        self.base_url = base_url
        self.app = app
        self._http = httpx.Client(base_url=base_url, timeout=10.0)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_truto/counters")
        return result

    def reset(self) -> None:
        self._call("POST", "/_truto/reset")

    def configure(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/_truto/config", changes)
        return result

    def add_account(self, account_id: str, zai_key: str, **flags: bool) -> dict[str, Any]:
        """Link an integrated account to a Z.ai key (`sandbox=`, `blocked=` optional)."""
        body = {"id": account_id, "zai_key": zai_key, **flags}
        result: dict[str, Any] = self._call("POST", "/_truto/accounts", body)
        return result

    def reconnect(self, account_id: str, zai_key: str | None = None) -> dict[str, Any]:
        body = {"zai_key": zai_key} if zai_key else {}
        result: dict[str, Any] = self._call(
            "POST", f"/_truto/accounts/{account_id}/reconnect", body
        )
        return result

    def script(self, faults: Sequence[str]) -> dict[str, Any]:
        """Faults for the next proxy calls: ok, 502, 504, remote_401, blocked."""
        result: dict[str, Any] = self._call("POST", "/_truto/faults", {"script": list(faults)})
        return result

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/_truto/requests")
        return result

    def close(self) -> None:
        self._http.close()


@contextmanager
def _serving(app: Any, host: str, start_timeout: float, lifespan: str) -> Iterator[str]:
    """Serve `app` on a free port in a daemon thread; yields its base URL; stops on exit."""
    sock = free_socket(host)
    server = make_server(app, host, lifespan="on" if lifespan == "on" else "off")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{type(app).__name__} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def running_simulator(
    config: SimConfig | None = None, host: str = "127.0.0.1", start_timeout: float = 10.0
) -> Iterator[SimulatorHandle]:
    """Serve a fresh simulator on a free port in a daemon thread; stop it on exit."""
    app = SimApp(config or SimConfig())
    with _serving(app, host, start_timeout, "off") as url:
        handle = SimulatorHandle(url, app)
        try:
            yield handle
        finally:
            handle.close()


@contextmanager
def running_truto_simulator(
    zai_base_url: str,
    config: TrutoSimConfig | None = None,
    host: str = "127.0.0.1",
    start_timeout: float = 10.0,
) -> Iterator[TrutoSimHandle]:
    """Serve a Truto simulator in front of the Z.ai simulator at `zai_base_url`."""
    base = (config or TrutoSimConfig()).model_copy(update={"zai_base_url": zai_base_url})
    app = TrutoSimApp(TrutoState(base))
    with _serving(app, host, start_timeout, "on") as url:
        handle = TrutoSimHandle(url, app)
        try:
            yield handle
        finally:
            handle.close()
