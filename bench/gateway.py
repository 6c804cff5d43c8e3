"""`make bench`: what the gateway adds to a request, on this machine.

The real gateway (the pinned LiteLLM proxy from .venv-gateway with the generated config, our
auth reading Postgres, our callback writing the ledger, the request log and the metrics, limits
in Redis) in front of an OpenAI-compatible stub, against the same stub called directly. Each
path: WARMUP requests, then REQUESTS one after another on one keep-alive connection (p50 and
p99 latency, requests/s of one client), then REQUESTS more from CLIENTS threads (requests/s).
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from gateway_servers import gateway_run, postgres, redis  # noqa: E402
from gateway_stub import LOOPBACK, Stub, serve_stub, start_proxy  # noqa: E402

from components.kubernetes.gateway.args import (  # noqa: E402
    CnpgDatabase,
    GatewayArgs,
    RequestLog,
    Route,
    Team,
    TeamKey,
)
from components.kubernetes.gateway.config import proxy_config, runtime_settings  # noqa: E402

WARMUP = 20
REQUESTS = 300
CLIENTS = 8
KEY = "sk-bench-" + "0" * 24
PROMPT = "How do I reset my password?"
BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": PROMPT}]})
HEADERS = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}


def bench_args(api_base: str) -> GatewayArgs:
    # Limits far above what the bench sends: it measures the path, not a refusal.
    route = Route("bench", api_base, 64, 1e-6, 2e-6, 30, "bench")
    key = TeamKey("bench-key", "benchKey")
    team = Team("bench", ("bench",), 1_000_000, 1_000_000_000, 64, 1_000_000.0, (key,))
    return GatewayArgs(
        namespace="llm", labels={"llm-platform.dev/environment": "bench"}, image="", redis_image="",
        replicas_min=1, replicas_max=1, master_key_secret="gatewayMasterKey",
        database=CnpgDatabase(1, 1, None), ceiling_usd=1_000_000.0, teams=(team,), routes=(route,),
        request_log=RequestLog("request-logs", 1, None, 30, False),
        prometheus_namespace="monitoring",
    )


def post(conn: http.client.HTTPConnection, path: str) -> float:
    start = time.perf_counter()
    conn.request("POST", path, BODY, HEADERS)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"bench: {path} answered {response.status}")
    return time.perf_counter() - start


def sequential(url: str) -> tuple[list[float], float]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    path = f"{parts.path}/chat/completions"
    for _ in range(WARMUP):
        post(conn, path)
    began = time.perf_counter()
    latencies = [post(conn, path) for _ in range(REQUESTS)]
    wall = time.perf_counter() - began
    conn.close()
    return latencies, REQUESTS / wall


def concurrent(url: str) -> float:
    parts = urlsplit(url)
    path = f"{parts.path}/chat/completions"

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        for _ in range(n):
            post(conn, path)
        conn.close()

    began = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, [REQUESTS // CLIENTS] * CLIENTS))
    return (REQUESTS // CLIENTS * CLIENTS) / (time.perf_counter() - began)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def start_gateway(stack: ExitStack, tmp: Path, stub: Stub) -> str:
    pg = stack.enter_context(postgres())
    redis_port = stack.enter_context(redis()).port
    args = bench_args(stub.url)
    (tmp / "requests").mkdir()
    (tmp / "keys").mkdir()
    (tmp / "keys" / "bench-key").write_text(KEY)
    (tmp / "config.yaml").write_text(yaml.safe_dump(proxy_config(args)))
    settings = tmp / "gateway.json"
    settings.write_text(json.dumps({**runtime_settings(args), "log_dir": str(tmp / "requests")}))
    url = pg.database("gateway")
    done = gateway_run(["-m", "components.gateway.provision", "--settings", str(settings),
                        "--keys-dir", str(tmp / "keys")], {"GATEWAY_DATABASE_URL": url})
    if done.returncode != 0:
        raise SystemExit(f"bench: provisioning failed:\n{done.stderr}")
    env = {"LITELLM_MASTER_KEY": "sk-master-" + os.urandom(12).hex(), "REDIS_HOST": LOOPBACK,
           "REDIS_PORT": str(redis_port), "GATEWAY_SETTINGS": str(settings),
           "GATEWAY_DATABASE_URL": url, "POD_NAME": "bench-0"}
    proxy = stack.enter_context(start_proxy(tmp / "config.yaml", env, tmp / "proxy.log"))
    return proxy.ready().url + "/v1"


def main() -> None:
    python = Path(os.environ.get("GATEWAY_PYTHON") or ROOT / ".venv-gateway" / "bin" / "python")
    if not python.exists():
        raise SystemExit(f"bench: no {python}: make .venv-gateway/.installed")
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        tmp = Path(scratch)
        stub = stack.enter_context(serve_stub(Stub("bench-model-server")))
        gateway = start_gateway(stack, tmp, stub)
        rows = {}
        for name, url in (("stub directly", stub.url), ("through the gateway", gateway)):
            latencies, one_client = sequential(url)
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
            rows[name] = (p50, p99, one_client, concurrent(url))
    print(f"gateway overhead: {REQUESTS} requests after {WARMUP} warm-up, {os.cpu_count()} cores")
    many = f"req/s {CLIENTS} clients"
    print(f"{'':<22}{'p50 ms':>9}{'p99 ms':>9}{'req/s 1 client':>16}{many:>18}")
    for name, (p50, p99, one, many) in rows.items():
        print(f"{name:<22}{p50:9.2f}{p99:9.2f}{one:16.1f}{many:18.1f}")
    (d50, d99, _, _), (g50, g99, _, _) = rows.values()
    print(f"{'added by the gateway':<22}{g50 - d50:9.2f}{g99 - d99:9.2f}")


if __name__ == "__main__":
    main()
