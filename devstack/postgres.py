"""A private, throw-away PostgreSQL cluster on 127.0.0.1 without Docker.

Uses Debian's server binaries (/usr/lib/postgresql/<major>/bin), installing the `postgresql`
package when they are missing. initdb refuses to run as root, so as root every server command runs
as the `postgres` system user. If DATABASE_URL is set, that database is used instead.

    python -m devstack.postgres start [--dir D]
    python -m devstack.postgres stop --dir D
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
DB_NAME = "zai_l10n"
SUPERUSER = "postgres"
OS_USER = "postgres"
PG_ROOT = Path("/usr/lib/postgresql")
STATE_FILE = "devstack.json"
LOG_FILE = "postgres.log"


# --- pure decisions ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def database_url(port: int, dbname: str = DB_NAME, host: str = HOST) -> str:
    """Async SQLAlchemy URL (trust auth on loopback, so no password)."""
    return f"postgresql+asyncpg://{SUPERUSER}@{host}:{port}/{dbname}"


def as_async_url(url: str) -> str | None:
    """A PostgreSQL URL with the asyncpg driver, or None when `url` is not PostgreSQL."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("postgres", "postgresql"):
        return None
    return f"postgresql+asyncpg://{rest}"


def env_database_url() -> str | None:
    """DATABASE_URL when it points at PostgreSQL (a SQLite URL there is for other uses)."""
    return as_async_url(os.environ.get("DATABASE_URL", ""))


def render_postgresql_conf(port: int, socket_dir: Path) -> str:
    """Appended to postgresql.conf: loopback only, private socket dir, durability off for speed."""
    return (
        "\n# zai-l10n devstack\n"
        f"listen_addresses = '{HOST}'\n"
        f"port = {port}\n"
        f"unix_socket_directories = '{socket_dir}'\n"
        "fsync = off\n"
        "synchronous_commit = off\n"
        "full_page_writes = off\n"
        "max_connections = 200\n"
    )


def pick_bindir(candidates: Sequence[Path]) -> Path | None:
    """The newest major version's bin dir that has both initdb and pg_ctl."""
    usable = [d for d in candidates if (d / "initdb").exists() and (d / "pg_ctl").exists()]
    return max(usable, key=lambda d: int(d.parent.name), default=None)


def as_server_user(cmd: Sequence[str], is_root: bool) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *cmd] if is_root else list(cmd)


# --- process I/O -------------------------------------------------------------------------------


def _is_root() -> bool:
    return os.geteuid() == 0


def _candidates() -> list[Path]:
    return [p / "bin" for p in PG_ROOT.glob("*") if p.name.isdigit()]


def _install_server() -> None:
    if not _is_root():
        raise RuntimeError("PostgreSQL server binaries missing: apt-get install -y postgresql")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


def find_bindir() -> Path:
    bindir = pick_bindir(_candidates())
    if bindir is None:
        _install_server()
        bindir = pick_bindir(_candidates())
    if bindir is None:
        raise RuntimeError(f"no initdb/pg_ctl under {PG_ROOT} even after installing postgresql")
    return bindir


def _run(cmd: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd inside the cluster dir: the postgres user cannot enter root's cwd.
    result = subprocess.run(
        as_server_user(cmd, _is_root()), cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}{result.stderr}")
    return result


def _prepare_dir(base: Path) -> None:
    base.mkdir(parents=True, exist_ok=True)
    if _is_root():
        shutil.chown(base, OS_USER, OS_USER)


@dataclass
class LocalPostgres:
    url: str
    data_dir: Path
    owns_dir: bool = True
    external: bool = False

    def stop(self) -> None:
        if self.external:
            return
        pgdata = self.data_dir / "data"
        if (pgdata / "postmaster.pid").exists():
            pg_ctl = str(find_bindir() / "pg_ctl")
            _run([pg_ctl, "-D", str(pgdata), "stop", "-m", "fast", "-w"], self.data_dir)
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def pause(self) -> None:
        """Stop the server but keep its data dir (an outage drill); resume() restarts it."""
        if self.external:
            raise RuntimeError("an external database cannot be paused")
        pg_ctl = str(find_bindir() / "pg_ctl")
        # Fast mode: clients are disconnected at once, as when a database server goes away.
        _run([pg_ctl, "-D", str(self.data_dir / "data"), "stop", "-m", "fast", "-w"], self.data_dir)

    def resume(self, timeout: float = 60.0) -> None:
        """Start the paused cluster again: same data, same port (it is in postgresql.conf)."""
        if self.external:
            raise RuntimeError("an external database cannot be resumed")
        _pg_start(find_bindir(), self.data_dir, timeout)


def _initdb(bindir: Path, base: Path) -> None:
    pgdata = base / "data"
    if (pgdata / "PG_VERSION").exists():
        return
    cmd = [str(bindir / "initdb"), "-D", str(pgdata), "-U", SUPERUSER, "-A", "trust"]
    _run([*cmd, "-E", "UTF8", "--locale=C", "--no-sync"], base)


def _configure(base: Path, port: int) -> None:
    conf = base / "data" / "postgresql.conf"
    with conf.open("a") as handle:  # later settings win, so re-appending on restart is fine
        handle.write(render_postgresql_conf(port, base))


def _pg_start(bindir: Path, base: Path, timeout: float) -> None:
    pg_ctl = str(bindir / "pg_ctl")
    log = base / LOG_FILE
    cmd = [pg_ctl, "-D", str(base / "data"), "-l", str(log), "-w", "-t", str(int(timeout))]
    try:
        _run([*cmd, "start"], base)
    except RuntimeError as exc:
        log_text = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise RuntimeError(f"{exc}\n{log_text}") from exc


def _createdb(bindir: Path, base: Path, port: int) -> None:
    cmd = [str(bindir / "createdb"), "-h", HOST, "-p", str(port), "-U", SUPERUSER, DB_NAME]
    try:
        _run(cmd, base)
    except RuntimeError as exc:
        if "already exists" not in str(exc):
            raise


def start_postgres(*, timeout: float = 60.0, data_dir: Path | None = None) -> LocalPostgres:
    """DATABASE_URL if set, else a fresh cluster in a temp dir (or in data_dir) on a free port."""
    if url := env_database_url():
        return LocalPostgres(url, Path(), owns_dir=False, external=True)
    bindir = find_bindir()
    owns_dir = data_dir is None
    # /tmp, not $TMPDIR: the postgres user must be able to traverse the parents.
    base = Path(tempfile.mkdtemp(prefix="zai-pg-", dir="/tmp")) if data_dir is None else data_dir
    _prepare_dir(base)
    port = free_port()
    pg = LocalPostgres(database_url(port), base, owns_dir)
    try:
        _initdb(bindir, base)
        _configure(base, port)
        _pg_start(bindir, base, timeout)
        _createdb(bindir, base, port)
    except BaseException:
        pg.stop()
        raise
    return pg


# --- CLI ---------------------------------------------------------------------------------------


def _cmd_start(args: argparse.Namespace) -> int:
    data_dir = Path(args.dir).resolve() if args.dir else None
    pg = start_postgres(timeout=args.timeout, data_dir=data_dir)
    if not pg.external:
        state = {"url": pg.url, "owns_dir": pg.owns_dir}
        (pg.data_dir / STATE_FILE).write_text(json.dumps(state) + "\n")
        print(f"POSTGRES_DIR={pg.data_dir}")  # noqa: T201
    print(f"DATABASE_URL={pg.url}")  # noqa: T201
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    base = Path(args.dir).resolve()
    if not (base / STATE_FILE).exists():
        print(f"no cluster state in {base}", file=sys.stderr)  # noqa: T201
        return 1
    state = json.loads((base / STATE_FILE).read_text())
    LocalPostgres(state["url"], base, state["owns_dir"]).stop()
    if base.exists():
        (base / STATE_FILE).unlink(missing_ok=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.postgres", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a private cluster in the background")
    start.add_argument("--dir", default=None, help="cluster dir (default: new temp dir)")
    start.add_argument("--timeout", type=float, default=60.0)
    start.set_defaults(func=_cmd_start)
    stop = sub.add_parser("stop", help="stop the cluster in --dir D")
    stop.add_argument("--dir", required=True)
    stop.set_defaults(func=_cmd_stop)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
