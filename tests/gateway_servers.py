"""Real servers for the gateway's tests, each on a free loopback port and stopped by the test:
Postgres and Redis (Debian's, installed by `make test`), OpenAI-compatible stubs that play a
model server and the hosted API, and the real LiteLLM proxy from the gateway's venv."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `make test` sets it to .venv-gateway's python (locks/gateway.txt).
GATEWAY_PYTHON = os.environ.get("GATEWAY_PYTHON", str(ROOT / ".venv-gateway" / "bin" / "python"))
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_until(ready, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-4000:] if log and log.exists() else ""
            raise AssertionError(f"{what} exited with {proc.returncode}:\n{tail}")
        got = ready()
        if got:
            return got
        time.sleep(0.05)
    tail = log.read_text()[-4000:] if log and log.exists() else ""
    raise AssertionError(f"{what} not ready in {timeout} s:\n{tail}")


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


def _as_postgres() -> list[str]:
    # initdb refuses uid 0; setpriv execs in place, so the pid we hold is the postmaster.
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]


@dataclass
class Postgres:
    port: int
    bindir: str

    def url(self, database: str) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        subprocess.run([f"{self.bindir}/psql", "-h", LOOPBACK, "-p", str(self.port), "-U", "postgres",
                        "-qc", f'create database "{name}"'], check=True, timeout=30,
                       capture_output=True)
        return self.url(name)

    def query(self, database: str, sql: str) -> list[list[str]]:
        out = subprocess.run([f"{self.bindir}/psql", "-h", LOOPBACK, "-p", str(self.port), "-U", "postgres",
                              "-d", database, "-AtF", "\t", "-c", sql], check=True, timeout=30,
                             capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]


@contextmanager
def postgres() -> Iterator[Postgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "Postgres is not installed: `make test` installs it (Debian package postgresql)"
    bindir = os.path.dirname(found[-1])
    # Its own directory straight under /tmp: as root the server runs as `postgres`, which
    # cannot traverse pytest's 0700 temp directories.
    tmp = Path(tempfile.mkdtemp(prefix="llm-gateway-pg-"))
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
    subprocess.run([*_as_postgres(), f"{bindir}/initdb", "-D", str(tmp / "data"), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--locale=C", "-N"], check=True, timeout=60,
                   capture_output=True)
    port = free_port()
    log = tmp / "postgres.log"
    with log.open("w") as out:
        proc = subprocess.Popen([*_as_postgres(), f"{bindir}/postgres", "-D", str(tmp / "data"),
                                 "-c", f"listen_addresses={LOOPBACK}", "-p", str(port), "-k", str(tmp),
                                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                                 "-c", "full_page_writes=off"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: subprocess.run([f"{bindir}/pg_isready", "-q", "-h", LOOPBACK, "-p", str(port)],
                                          timeout=5).returncode == 0, 30, "postgres", proc, log)
        yield Postgres(port, bindir)
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def redis(tmp: Path) -> Iterator[int]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: `make test` installs it (Debian package redis-server)"
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = tmp / "redis.log"
    with log.open("w") as out:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", LOOPBACK, "--save", "",
                                 "--appendonly", "no", "--dir", str(tmp)], stdout=out, stderr=subprocess.STDOUT)

    def pong() -> bool:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        wait_until(pong, 30, "redis-server", proc, log)
        yield port
    finally:
        stop(proc)


# What the stub answers: prompt and completion token counts are fixed, so a request's cost is
# known: PROMPT_TOKENS x input price + COMPLETION_TOKENS x output price.
PROMPT_TOKENS = 10
COMPLETION_TOKENS = 5
REFUSAL = "I'm sorry, but I can't help with that."


def refuses(prompt: str) -> bool:
    """The stub's model refuses one prompt in five, by the prompt's length."""
    return len(prompt) % 5 == 0


@dataclass
class Stub:
    """An OpenAI-compatible chat server. `modes[model]`: "ok", "503", "stall" (answers after
    `stall_s`) or "hold" (answers when `release` is set); `served_by` names it in a header."""

    served_by: str
    # The bearer token it requires (the hosted API's key); None: any.
    api_key: str | None = None
    modes: dict[str, str] = field(default_factory=dict)
    stall_s: float = 30.0
    release: threading.Event = field(default_factory=threading.Event)
    closing: threading.Event = field(default_factory=threading.Event)
    seen: list[dict] = field(default_factory=list)
    url: str = ""

    def answer(self, body: dict) -> tuple[int, dict]:
        model = body.get("model", "")
        mode = self.modes.get(model, "ok")
        if mode == "503":
            return 503, {"error": {"message": "overloaded", "type": "server_error"}}
        if mode == "stall":
            self.closing.wait(self.stall_s)
        if mode == "hold":
            self.release.wait(60)
        prompt = str(body["messages"][-1]["content"])
        text = REFUSAL if refuses(prompt) else f"Here is how: {prompt[:40]}"
        return 200, {
            "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                      "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS},
        }


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("x-served-by", stub.served_by)
            self.end_headers()
            # The proxy may have given up on a stalled answer (its timeout, as in production).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(200, {"object": "list", "data": []})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            if stub.api_key is not None and self.headers.get("authorization") != f"Bearer {stub.api_key}":
                self._send(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
                return
            stub.seen.append(body)
            self._send(*stub.answer(body))

    return Handler


@contextmanager
def serve_stub(stub: Stub) -> Iterator[Stub]:
    server = ThreadingHTTPServer((LOOPBACK, 0), _handler(stub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://{LOOPBACK}:{server.server_address[1]}/v1"
    try:
        yield stub
    finally:
        stub.release.set()
        stub.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# Offline start: the cost map and the other remote files LiteLLM would fetch at import
# (litellm==1.106.12 litellm_core_utils/get_model_cost_map.py:383, get_blog_posts.py:132,
# anthropic_beta_headers_manager.py:148); see research/litellm.md §8 on branch i16-litellm.
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "DISABLE_TELEMETRY": "True",
}


@dataclass
class Proxy:
    proc: subprocess.Popen
    url: str
    log: Path

    def ready(self, timeout: float = 90) -> Proxy:
        def alive() -> bool:
            try:
                with urllib.request.urlopen(f"{self.url}/health/liveliness", timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, OSError):
                return False

        wait_until(alive, timeout, "the LiteLLM proxy", self.proc, self.log)
        return self


def start_proxy(config: Path, env: Mapping[str, str], log: Path) -> Proxy:
    """Starts `litellm` from the gateway venv; call `.ready()` before using it."""
    port = free_port()
    litellm = str(Path(GATEWAY_PYTHON).parent / "litellm")
    assert Path(litellm).exists(), f"{litellm} missing: `make test` builds .venv-gateway (locks/gateway.txt)"
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(log.parent),
            "PYTHONPATH": str(ROOT), **OFFLINE_ENV, **env}
    with log.open("w") as out:
        # litellm==1.106.12 proxy/proxy_cli.py:741-744 (--host, --port, --num_workers), :816 (--config).
        proc = subprocess.Popen([litellm, "--config", str(config), "--host", LOOPBACK, "--port", str(port),
                                 "--num_workers", "1"], env=full, stdout=out, stderr=subprocess.STDOUT,
                                cwd=str(log.parent))
    return Proxy(proc, f"http://{LOOPBACK}:{port}", log)
