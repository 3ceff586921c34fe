"""A real single-node Apache Kafka 4.x broker (KRaft, broker+controller) without Docker.

The broker jars come from Maven Central via `mvn dependency:copy-dependencies` on
deploy/local/kafka/pom.xml and are cached per version; the broker runs as a plain `java` process.

    python -m devstack.kafka start [--port N] [--dir D]
    python -m devstack.kafka stop --dir D
    python -m devstack.kafka jars
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

KAFKA_VERSION = "4.1.1"
HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[1]
POM = REPO_ROOT / "deploy" / "local" / "kafka" / "pom.xml"
MARKER = ".complete"
STATE_FILE = "devstack.json"
PID_FILE = "kafka.pid"
LOG_FILE = "kafka.log"
MAIN_CLASS = "kafka.Kafka"


# --- pure decisions ---------------------------------------------------------------------------


def cache_root() -> Path:
    """Where resolved jars live: $ZAI_L10N_CACHE or ~/.cache/zai-l10n."""
    env = os.environ.get("ZAI_L10N_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "zai-l10n"


def jars_dir(version: str, cache_dir: Path | None = None) -> Path:
    return (cache_dir or cache_root()) / f"kafka-{version}" / "libs"


def free_port(exclude: Sequence[int] = ()) -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (the kernel picks it)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port: int = sock.getsockname()[1]
        if port not in exclude:
            return port


def new_cluster_id() -> str:
    """A Kafka Uuid string: 16 random bytes, base64url without padding (22 chars)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def render_server_properties(port: int, controller_port: int, log_dir: Path) -> str:
    """server.properties of a combined broker+controller tuned for fast single-node tests."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.recovery.threads.per.data.dir": "1",
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "auto.create.topics.enable": "true",
        # One node: every internal topic has a single replica; few partitions start faster.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Default 3 s delay before the first rebalance only slows tests down.
        "group.initial.rebalance.delay.ms": "0",
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def render_log4j2_properties() -> str:
    """Log4j 2 config: everything to stdout, which start_kafka redirects to kafka.log."""
    return (
        "status = warn\n"
        # Keep logging through Kafka's own controlled shutdown (Log4j's hook would stop it first).
        "shutdownHook = disable\n"
        "appender.out.type = Console\n"
        "appender.out.name = STDOUT\n"
        "appender.out.layout.type = PatternLayout\n"
        "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.out.ref = STDOUT\n"
        "logger.state.name = state.change.logger\n"
        "logger.state.level = WARN\n"
    )


def parse_properties(text: str) -> dict[str, str]:
    """Minimal key=value parser (enough for files rendered above)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


# Start-up over peak throughput: C1-only JIT and the serial GC cut broker start on 2 cores by
# ~1.5 s (measured, see docs/devstack.md). Replace with ZAI_L10N_KAFKA_JVM_OPTS for benchmarks.
FAST_START_JVM_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def java_command(libs: Path, *args: str, heap: str = "512m") -> list[str]:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else "java"
    jvm_opts = os.environ.get("ZAI_L10N_KAFKA_JVM_OPTS", FAST_START_JVM_OPTS).split()
    return [java, f"-Xmx{heap}", *jvm_opts, "-Djava.awt.headless=true", "-cp", f"{libs}/*", *args]


def failure_excerpt(log_text: str, errors: int = 10, lines: int = 20) -> str:
    """First ERROR lines (the cause; shutdown noise follows them) plus the last lines."""
    all_lines = log_text.splitlines()
    causes = [line for line in all_lines if " ERROR " in line or " FATAL " in line][:errors]
    parts = [*causes, "...", *all_lines[-lines:]] if causes else all_lines[-lines:]
    return "\n".join(parts)


def tail(path: Path) -> str:
    try:
        return failure_excerpt(path.read_text(errors="replace"))
    except OSError:
        return "(no log)"


# --- jars --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise jar resolution between concurrent processes sharing one cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _resolve_with_maven(version: str, out_dir: Path) -> None:
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (`mvn`) is not on PATH: apt-get install -y maven")
    cmd = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(POM),
        f"-Dkafka.version={version}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={out_dir}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise RuntimeError(f"maven could not resolve Kafka {version}:\n{output}")


def ensure_jars(version: str = KAFKA_VERSION, cache_dir: Path | None = None) -> Path:
    """The folder holding the broker's jars; runs Maven only when the cache is not complete."""
    libs = jars_dir(version, cache_dir)
    if (libs / MARKER).exists():
        return libs
    with _file_lock(libs.parent / ".lock"):
        if (libs / MARKER).exists():  # another process finished while we waited
            return libs
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
        try:
            _resolve_with_maven(version, staging)
            if not (staging / f"kafka_2.13-{version}.jar").exists():
                raise RuntimeError(f"maven ran but kafka_2.13-{version}.jar is missing")
            (staging / MARKER).write_text(version + "\n")
            shutil.rmtree(libs, ignore_errors=True)
            staging.rename(libs)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return libs


# --- broker process ----------------------------------------------------------------------------


def _is_kafka_process(pid: int) -> bool:
    """Guards against signalling a recycled pid."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return MAIN_CLASS.encode() in cmdline


def _wait_gone(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    if proc is not None:
        try:
            proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_kafka_process(pid):
            return True
        time.sleep(0.1)
    return False


def terminate(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM (controlled shutdown), then SIGKILL if the broker does not exit in time."""
    if proc is None and not _is_kafka_process(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, proc, timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, proc, 10.0)


@dataclass
class LocalKafka:
    bootstrap_servers: str
    data_dir: Path
    pid: int
    owns_dir: bool = False
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def stop(self, timeout: float = 30.0) -> None:
        terminate(self.pid, self._proc, timeout)
        (self.data_dir / PID_FILE).unlink(missing_ok=True)
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    @property
    def port(self) -> int:
        return int(self.bootstrap_servers.rsplit(":", 1)[1])

    def pause(self, timeout: float = 30.0) -> None:
        """Stop the broker but keep its data dir (an outage drill); resume() starts it again."""
        terminate(self.pid, self._proc, timeout)
        (self.data_dir / PID_FILE).unlink(missing_ok=True)

    def resume(self, timeout: float = 120.0) -> None:
        """Start the paused broker again on the same port and data dir: its topics, committed
        offsets and idempotent-producer state are kept, as when a real broker restarts."""
        again = start_kafka(self.port, data_dir=self.data_dir, timeout=timeout)
        self.pid, self._proc = again.pid, again._proc


async def _probe(bootstrap_servers: str) -> bool:
    """True when the broker answers a metadata request and lists itself."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    try:
        await admin.start()
        cluster: dict[str, Any] = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def _probe_sync(bootstrap_servers: str) -> bool:
    """Runs the async probe in its own thread so callers may already be inside an event loop."""
    result: list[bool] = []
    worker = threading.Thread(target=lambda: result.append(asyncio.run(_probe(bootstrap_servers))))
    worker.start()
    worker.join()
    return bool(result and result[0])


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1.0):
        return True
    return False


def wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    """Polls until the broker answers metadata; raises with the log tail if it dies or stalls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Kafka exited with code {proc.returncode}:\n{tail(log)}")
        if _port_open(port) and _probe_sync(f"{HOST}:{port}"):
            return
        time.sleep(0.2)
    raise TimeoutError(f"Kafka did not answer on {HOST}:{port} within {timeout:.0f}s:\n{tail(log)}")


def _previous_controller_port(data_dir: Path) -> int | None:
    """A reused, already formatted dir keeps its controller endpoint (the quorum recorded it)."""
    props_file = data_dir / "server.properties"
    if not (data_dir / "data" / "meta.properties").exists() or not props_file.exists():
        return None
    quorum = parse_properties(props_file.read_text()).get("controller.quorum.bootstrap.servers")
    return int(quorum.rsplit(":", 1)[1]) if quorum else None


def _format_storage(libs: Path, props: Path, log: Path) -> None:
    """Formats a fresh dir as a one-voter dynamic quorum; a formatted dir keeps its cluster id."""
    if (props.parent / "data" / "meta.properties").exists():
        return
    cmd = java_command(libs, "kafka.tools.StorageTool", "format", "--standalone")
    # `--cluster-id=` form: a base64url id may start with "-", which argparse reads as an option.
    cmd += [f"--cluster-id={new_cluster_id()}", "-c", str(props)]
    with log.open("ab") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"kafka storage format failed:\n{tail(log)}")


def _write_configs(data_dir: Path, port: int, controller_port: int) -> Path:
    props = data_dir / "server.properties"
    props.write_text(render_server_properties(port, controller_port, data_dir / "data"))
    (data_dir / "log4j2.properties").write_text(render_log4j2_properties())
    return props


def _spawn_broker(libs: Path, data_dir: Path, props: Path, log: Path) -> subprocess.Popen[bytes]:
    cmd = java_command(
        libs,
        f"-Dlog4j2.configurationFile={data_dir / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={data_dir / 'logs'}",
        MAIN_CLASS,
        str(props),
    )
    with log.open("ab") as out:
        # Own session: survives the CLI that started it and ignores the terminal's Ctrl-C.
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_kafka(
    port: int | None = None,
    *,
    data_dir: Path | None = None,
    version: str = KAFKA_VERSION,
    timeout: float = 120.0,
) -> LocalKafka:
    """Starts a broker and returns once it answers metadata requests."""
    libs = ensure_jars(version)
    owns_dir = data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="zai-kafka-")) if data_dir is None else data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    controller_port = _previous_controller_port(data_dir) or free_port(exclude=[port])
    log = data_dir / LOG_FILE
    try:
        props = _write_configs(data_dir, port, controller_port)
        _format_storage(libs, props, log)
        proc = _spawn_broker(libs, data_dir, props, log)
    except BaseException:
        if owns_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        raise
    kafka = LocalKafka(f"{HOST}:{port}", data_dir, proc.pid, owns_dir, proc)
    (data_dir / PID_FILE).write_text(f"{proc.pid}\n")
    try:
        wait_ready(proc, port, log, timeout)
    except BaseException:
        kafka.stop(timeout=10.0)
        raise
    return kafka


# --- CLI ---------------------------------------------------------------------------------------


def _save_state(kafka: LocalKafka) -> None:
    state = {"bootstrap_servers": kafka.bootstrap_servers, "pid": kafka.pid}
    state["owns_dir"] = kafka.owns_dir
    (kafka.data_dir / STATE_FILE).write_text(json.dumps(state) + "\n")


def _load_state(data_dir: Path) -> LocalKafka:
    state = json.loads((data_dir / STATE_FILE).read_text())
    return LocalKafka(state["bootstrap_servers"], data_dir, state["pid"], state["owns_dir"])


def _cmd_start(args: argparse.Namespace) -> int:
    data_dir = Path(args.dir).resolve() if args.dir else None
    kafka = start_kafka(args.port, data_dir=data_dir, version=args.version, timeout=args.timeout)
    _save_state(kafka)
    print(f"KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap_servers}")  # noqa: T201
    print(f"KAFKA_DIR={kafka.data_dir}")  # noqa: T201
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    data_dir = Path(args.dir).resolve()
    if not (data_dir / STATE_FILE).exists():
        print(f"no broker state in {data_dir}", file=sys.stderr)  # noqa: T201
        return 1
    kafka = _load_state(data_dir)
    kafka.stop(timeout=args.timeout)
    if data_dir.exists():
        (data_dir / STATE_FILE).unlink(missing_ok=True)
    return 0


def _cmd_jars(args: argparse.Namespace) -> int:
    print(ensure_jars(args.version))  # noqa: T201
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.kafka", description=__doc__)
    parser.add_argument("--version", default=KAFKA_VERSION, help="Kafka version (Maven)")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a broker in the background")
    start.add_argument("--port", type=int, default=None, help="PLAINTEXT port (default: free)")
    start.add_argument("--dir", default=None, help="data dir (default: new temp dir)")
    start.add_argument("--timeout", type=float, default=120.0)
    start.set_defaults(func=_cmd_start)
    stop = sub.add_parser("stop", help="stop the broker started with --dir D")
    stop.add_argument("--dir", required=True)
    stop.add_argument("--timeout", type=float, default=30.0)
    stop.set_defaults(func=_cmd_stop)
    sub.add_parser("jars", help="only resolve and cache the jars").set_defaults(func=_cmd_jars)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
