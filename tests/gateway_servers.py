"""Real servers for the gateway's tests: a throwaway Postgres and Redis, each on a free
loopback port and always stopped, and the gateway's own venv (.venv-gateway, locks/gateway.txt)
to run LiteLLM and components/gateway in.

Postgres and Redis come from Debian (`make test` installs them: scripts/ensure-test-tools).
Outside CI a missing one skips the tests that need it, with the reason; under CI (CI=true, as
GitHub sets it) it fails them, so a runner without the tools can never pass silently.

    with postgres() as pg, redis() as rd:
        url = pg.database("gw")                    # a fresh database, its URL
        done = gateway_run(["-m", "components.gateway.provision", ...],
                           {"GATEWAY_DATABASE_URL": url})
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

# Every wait here is bounded: a server that is not up by then fails the test with its log.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


INSTALLED_BY_MAKE_TEST = "`make test` installs it (scripts/ensure-test-tools)"


def missing(what: str, fix: str = INSTALLED_BY_MAKE_TEST) -> None:
    """Skip (outside CI) or fail (under CI) a test whose real server cannot run here."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"{what}; CI must have it: {fix}")
    pytest.skip(f"{what}; {fix}")


def free_port() -> int:
    """A loopback port nobody listens on now (the server binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(ready: Callable[[], bool], process: subprocess.Popen, what: str, log: Path,
               timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}:\n{_tail(log)}")
        if ready():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not ready after {timeout} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal the process we started (its own pid, never a name) and reap it."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --- Postgres ---------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The newest Debian Postgres's server binaries (Debian keeps them off PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


@dataclass(frozen=True)
class Postgres:
    port: int
    bin: Path

    def url(self, database: str = "postgres") -> str:
        # --auth=trust on loopback: the test cluster has no password to leak.
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def database(self, name: str) -> str:
        """Create a fresh database and return its URL."""
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql; its unaligned, tuples-only output."""
        done = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-d", self.url(database), "-c", statement],
            capture_output=True, text=True, timeout=30,
        )
        assert done.returncode == 0, f"psql {statement!r}: {done.stderr}"
        return done.stdout


@contextmanager
def postgres() -> Iterator[Postgres]:
    """A Postgres cluster of its own on a free loopback port, durability off (a test's data
    needs no fsync), stopped and deleted on exit. As root, initdb and the server run as the
    `postgres` user the Debian package creates (initdb refuses root); setpriv execs in place,
    so the pid held here is the postmaster's and a signal reaches it."""
    bindir = postgres_bin()
    if bindir is None:
        missing("Postgres is not installed (no /usr/lib/postgresql/*/bin/initdb)")
    as_user: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="gw-pg-"))
    try:
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                missing("setpriv (util-linux) is needed to run Postgres as `postgres` when root")
            as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
            shutil.chown(workdir, "postgres")
        log = workdir / "postgres.log"
        subprocess.run(
            [*as_user, str(bindir / "initdb"), "-D", str(workdir / "data"), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True, capture_output=True, timeout=60,
        )
        port = free_port()
        with open(log, "wb") as out:
            server = subprocess.Popen(
                [*as_user, str(bindir / "postgres"), "-D", str(workdir / "data"), "-p", str(port),
                 "-c", "listen_addresses=127.0.0.1", "-k", str(workdir), "-c", "fsync=off",
                 "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        try:
            ready = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
            wait_until(lambda: subprocess.run(ready, timeout=5).returncode == 0, server,
                       "postgres", log)
            yield Postgres(port=port, bin=bindir)
        finally:
            stop(server, signal.SIGINT)  # SIGINT: Postgres's fast shutdown
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- Redis ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redis:
    port: int
    host: str = "127.0.0.1"


@contextmanager
def redis() -> Iterator[Redis]:
    """A Redis of its own on a free loopback port that writes nothing to disk (LiteLLM keeps
    only limit counters there), stopped on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server is not installed (Debian package redis-server)")
    workdir = Path(tempfile.mkdtemp(prefix="gw-redis-"))
    log = workdir / "redis.log"
    port = free_port()
    try:
        with open(log, "wb") as out:
            server = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(workdir)],
                stdout=out, stderr=subprocess.STDOUT,
            )
        try:
            wait_until(lambda: _ping(port), server, "redis-server", log)
            yield Redis(port=port)
        finally:
            stop(server)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# --- the gateway's venv -----------------------------------------------------------------


def gateway_python() -> Path:
    """The python of .venv-gateway (`make test-gateway` passes its path as GATEWAY_PYTHON)."""
    path = Path(os.environ.get("GATEWAY_PYTHON") or ROOT / ".venv-gateway" / "bin" / "python")
    if not path.exists():
        missing(f"no gateway venv at {path}",
                "`make install` builds it from locks/gateway.txt (.venv-gateway)")
    return path


def gateway_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment the gateway's container has, for a run on this machine: our package
    importable, and LiteLLM kept off the network (its cost map and other lookups come from
    the wheel: litellm==1.106.12 litellm_core_utils/get_model_cost_map.py:383,646)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "GATEWAY_"))}
    env.update({
        "PYTHONPATH": str(ROOT),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOCAL_BLOG_POSTS": "true",
        "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "true",
        "DISABLE_TELEMETRY": "True",
        "NO_PROXY": "127.0.0.1,localhost",
    })
    env.update(extra)
    return env


def gateway_run(args: list[str], env: Mapping[str, str], timeout: float = 60.0,
                stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the gateway venv's python with `args` (e.g. ["-m", "components.gateway.provision",
    ...]) to completion."""
    return subprocess.run(
        [str(gateway_python()), *args], env=gateway_env(env), cwd=ROOT, input=stdin,
        capture_output=True, text=True, timeout=timeout,
    )


@contextmanager
def gateway_process(args: list[str], env: Mapping[str, str], log: Path,
                    ready_port: int | None = None,
                    timeout: float = 90.0) -> Iterator[subprocess.Popen]:
    """Start a program of the gateway venv's bin/ (args[0], e.g. "litellm"), output to `log`;
    with ready_port, wait (up to `timeout`: the proxy takes 8-11 s on two idle cores) until
    it accepts connections there. Always stopped on exit."""
    program = gateway_python().parent / args[0]
    with open(log, "wb") as out:
        process = subprocess.Popen([str(program), *args[1:]], env=gateway_env(env), cwd=ROOT,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        if ready_port is not None:
            wait_until(lambda: _accepts(ready_port), process, args[0], log, timeout)
        yield process
    finally:
        stop(process)
