"""OpenAI-compatible stubs for the gateway's tests and bench: one plays a model server (modes
per model: answer, 503, stall, hold; a header naming its pod), another the hosted API (it
requires the hosted key); and the real LiteLLM proxy started from the gateway venv with a
generated config. Postgres, Redis and the venv come from tests/gateway_servers.py."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

from gateway_servers import free_port, gateway_env, gateway_python, stop

LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def poll(ready: Callable[[], T | None], timeout: float, what: str) -> T:
    """`ready()`'s first truthy value, tried every 50 ms for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = ready()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


# What the stub answers: prompt and completion token counts are fixed, so a request's cost is
# known: PROMPT_TOKENS x input price + COMPLETION_TOKENS x output price.
PROMPT_TOKENS = 10
COMPLETION_TOKENS = 5
REFUSAL = "I'm sorry, but I can't help with that."


def refuses(prompt: str) -> bool:
    """The stub's model refuses one prompt in five, by the prompt's length."""
    return len(prompt) % 5 == 0


def refuses_stricter(prompt: str) -> bool:
    """A stricter model (mode "stricter"): it also refuses the prompts one longer."""
    return len(prompt) % 5 in (0, 1)


def helpful(prompt: str) -> str:
    return f"Here is how: {prompt[:40]}"


# Mode "judge": a judge model's verdict in the eval gate's format (components/lifecycle/scorers).
JUDGE_SCORE = 0.75


@dataclass
class Stub:
    """An OpenAI-compatible chat server. `modes[model]`: "ok", "503", "500", "stall" (answers
    after `stall_s`), "hold" (answers when `release[model]` is set), "stricter" (refuses more:
    refuses_stricter) or "judge" (answers `SCORE: JUDGE_SCORE`); `served_by` names it in a
    header."""

    served_by: str
    # The bearer token it requires (the hosted API's key); None: any.
    api_key: str | None = None
    modes: dict[str, str] = field(default_factory=dict)
    stall_s: float = 30.0
    # Per model: set to let the held requests answer.
    release: defaultdict[str, threading.Event] = field(default_factory=lambda: defaultdict(threading.Event))
    closing: threading.Event = field(default_factory=threading.Event)
    seen: list[dict] = field(default_factory=list)
    url: str = ""

    def answer(self, body: dict) -> tuple[int, dict]:
        model = body.get("model", "")
        mode = self.modes.get(model, "ok")
        if mode in ("503", "500"):
            return int(mode), {"error": {"message": "overloaded", "type": "server_error"}}
        if mode == "stall":
            self.closing.wait(self.stall_s)
        if mode == "hold":
            deadline = time.monotonic() + 60
            while not (self.release[model].is_set() or self.closing.is_set()) and time.monotonic() < deadline:
                self.release[model].wait(0.1)
        prompt = str(body["messages"][-1]["content"])
        refused = refuses_stricter(prompt) if mode == "stricter" else refuses(prompt)
        text = REFUSAL if refused else helpful(prompt)
        if mode == "judge":
            text = f"SCORE: {JUDGE_SCORE}"
        return 200, {
            "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                      "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS},
        }


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the body waits for the
        # client's delayed ACK (~40 ms a request, measured here), which is not a model's cost.
        disable_nagle_algorithm = True

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
            status, payload = stub.answer(body)
            if status == 200 and body.get("stream"):
                self._stream(payload)
            else:
                self._send(status, payload)

        def _stream(self, payload: dict) -> None:
            """The answer as OpenAI's server-sent events: the text in one chunk, then the
            finish reason, then [DONE]."""
            choice = payload["choices"][0]
            chunk = {k: payload[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
            events = [
                chunk | {"choices": [{"index": 0, "delta": choice["message"], "finish_reason": None}]},
                chunk | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
                         "usage": payload["usage"]},
            ]
            data = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(data)))
            self.send_header("x-served-by", stub.served_by)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

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
        stub.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Proxy:
    """A LiteLLM proxy started by `start_proxy`: not waited for, so two can boot together."""

    process: subprocess.Popen
    url: str
    log: Path

    def ready(self, timeout: float = 120) -> Proxy:
        def alive() -> bool:
            assert self.process.poll() is None, f"the proxy exited:\n{self.log.read_text()[-4000:]}"
            try:
                with urllib.request.urlopen(f"{self.url}/health/liveliness", timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, OSError):
                return False

        try:
            poll(alive, timeout, "the LiteLLM proxy")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.log.read_text()[-4000:]}") from None
        return self


@contextmanager
def start_proxy(config: Path, env: Mapping[str, str], log: Path) -> Iterator[Proxy]:
    """`litellm` from the gateway venv on a free loopback port, with the container's command
    line (litellm==1.106.12 proxy/proxy_cli.py:741-744 --host/--port/--num_workers, :816
    --config); stopped on exit. Call `.ready()` before sending to it."""
    port = free_port()
    litellm = gateway_python().parent / "litellm"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(litellm), "--config", str(config), "--host", LOOPBACK, "--port", str(port),
             "--num_workers", "1"],
            env=gateway_env(env), cwd=log.parent, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield Proxy(process, f"http://{LOOPBACK}:{port}", log)
    finally:
        stop(process)
