"""The gateway for real: the pinned LiteLLM proxy (the gateway venv, GATEWAY_PYTHON) started with
the config `components/kubernetes/gateway/config.py` generates, our runtime
(components/gateway) as its auth and callback, a real Postgres and Redis, and two
OpenAI-compatible stubs on loopback: one plays the model server, the other the hosted API.

One proxy serves the module; each test has its own team and model so none sees another's
counters. The environment ceiling needs a second proxy (its own database, a tiny ceiling),
started alongside the first so the two boots overlap.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import hashlib
import json
import math
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import quality_corpus as corpus
import yaml
from gateway_args import gateway_args_for
from gateway_servers import ROOT, gateway_run, postgres, redis
from gateway_stub import (
    COMPLETION_TOKENS,
    JUDGE_SCORE,
    LOOPBACK,
    PROMPT_TOKENS,
    REFUSAL,
    Proxy,
    Stub,
    helpful,
    poll,
    refuses,
    refuses_stricter,
    serve_stub,
    start_proxy,
)
from pushgateway import running

from components.kubernetes.gateway.args import (
    Fallback,
    GatewayArgs,
    Route,
    ShadowJudge,
    ShadowRoute,
    Team,
    TeamKey,
)
from components.kubernetes.gateway.config import hosted_key_env, proxy_config, runtime_settings
from components.lifecycle.scorers import AGREEMENT_RUBRIC
from components.observability.metrics import GATEWAY_SERIES

# Prices per token: one stub answer (10 prompt + 5 completion tokens) costs SELF_COST on the
# model server and HOSTED_COST at the hosted API.
SELF_IN, SELF_OUT = 1e-5, 2e-5
HOSTED_IN, HOSTED_OUT = 1e-6, 3e-6
SELF_COST = PROMPT_TOKENS * SELF_IN + COMPLETION_TOKENS * SELF_OUT
HOSTED_COST = PROMPT_TOKENS * HOSTED_IN + COMPLETION_TOKENS * HOSTED_OUT
POD = "llm-gateway-test-0"
STALL_TIMEOUT_S = 3
ROUTE_TIMEOUT_S = 10
THRIFTY_BUDGET = 0.0005  # past it after three answers: 3 x 0.0002
CEILING = 0.0005
RPM = 2
METERED_RPM = 5
LOG_FIELDS = {
    "ts", "time", "team", "key_alias", "model", "served_by", "revision", "gateway_pod", "prompt",
    "completion", "finish_reason", "prompt_tokens", "completion_tokens", "latency_ms", "status",
    "cost_usd", "fallback", "fallback_reason", "refusal",
}
# Shadow traffic: each shadowed model's candidate (the stub `candidate`) in its own mode.
SHADOWED = ("mirrored", "hanging", "failing", "sampled", "judged", "counted", "streamed")
CANDIDATE_MODES = {"mirrored": "stricter", "hanging": "stall", "failing": "500", "judge": "judge"}
# The hanging candidate's copies time out after HANG_TIMEOUT_S; the others' answers are
# instant, and SHADOW_TIMEOUT_S only guards a loaded machine.
SHADOW_TIMEOUT_S = 10
HANG_TIMEOUT_S = 2
SHADOW_IN_FLIGHT = 2
SAMPLE_FRACTION = 0.3


def _route(model: str, stub: Stub, hosted: Stub | None, timeout: int = ROUTE_TIMEOUT_S, parallel: int = 16) -> Route:
    fallback = None
    if hosted is not None:
        fallback = Fallback("gpt-hosted", hosted.url, "hostedKey", HOSTED_IN, HOSTED_OUT)
    return Route(model, stub.url, parallel, SELF_IN, SELF_OUT, timeout, f"rev-{model}", fallback)


def _team(name: str, models: tuple[str, ...], rpm: int = 1000, budget: float = 100.0) -> Team:
    return Team(name, models, rpm, 1_000_000, 50, budget, (TeamKey(f"{name}-key", f"{name}Key"),))


def _args(routes: tuple[Route, ...], teams: tuple[Team, ...], ceiling: float) -> GatewayArgs:
    return gateway_args_for(routes, teams, ceiling, environment="test")


def _shadowed(model: str, stub: Stub, candidate: Stub, fraction: float = 1.0,
              judge: ShadowJudge | None = None, timeout: int = SHADOW_TIMEOUT_S) -> Route:
    shadow = ShadowRoute(candidate.url, fraction, timeout, f"cand-{model}", judge,
                         max_in_flight=SHADOW_IN_FLIGHT)
    route = _route(model, stub, None)
    return dataclasses.replace(route, previous_revision=f"stable-{model}", shadow=shadow)


def main_args(model: Stub, hosted: Stub, candidate: Stub) -> GatewayArgs:
    routes = (
        _route("chat", model, hosted),
        _route("flaky", model, hosted),
        _route("slow", model, hosted, timeout=STALL_TIMEOUT_S),
        _route("busy", model, None, parallel=1),
        _route("crowded", model, hosted, parallel=1),
        _route("steady", model, None),
        *(_shadowed(m, model, candidate) for m in ("mirrored", "failing", "counted", "streamed")),
        _shadowed("hanging", model, candidate, timeout=HANG_TIMEOUT_S),
        _shadowed("sampled", model, candidate, fraction=SAMPLE_FRACTION),
        _shadowed("judged", model, candidate, judge=ShadowJudge("judge", candidate.url)),
    )
    teams = (
        _team("app", ("chat",)),
        _team("ratelimited", ("chat",), rpm=RPM),
        _team("thrifty", ("chat",), budget=THRIFTY_BUDGET),
        _team("fallbacks", ("flaky", "slow", "crowded")),
        _team("backpressure", ("busy",)),
        _team("metered", ("chat", "flaky"), rpm=METERED_RPM, budget=7.5),
        _team("quality", ("steady",)),
        _team("shadow", SHADOWED),
    )
    return _args(routes, teams, ceiling=1000.0)


def ceiling_args(model: Stub) -> GatewayArgs:
    return _args((_route("chat", model, None),), (_team("spender", ("chat",)), _team("bystander", ("chat",))),
                 ceiling=CEILING)


@dataclass
class Gateway:
    proxy: Proxy
    args: GatewayArgs
    keys: dict[str, str]  # team -> its key's value
    log_dir: Path
    model: Stub
    hosted: Stub
    database: str
    master_key: str
    candidate: Stub | None = None


def _write(directory: Path, args: GatewayArgs) -> tuple[Path, Path, dict[str, str], Path]:
    """config.yaml and gateway.json as the ConfigMap holds them (the log under `directory`),
    and one file per key alias as the Secret `llm-gateway-keys` is mounted."""
    directory.mkdir(parents=True)
    config = directory / "config.yaml"
    config.write_text(yaml.safe_dump(proxy_config(args)))
    log_dir = directory / "requests"
    log_dir.mkdir()
    settings = directory / "gateway.json"
    settings.write_text(json.dumps({**runtime_settings(args), "log_dir": str(log_dir)}))
    keys_dir = directory / "keys"
    keys_dir.mkdir()
    keys = {}
    for team in args.teams:
        keys[team.name] = "sk-" + secrets.token_hex(16)
        (keys_dir / team.keys[0].alias).write_text(keys[team.name])
    return config, settings, keys, log_dir


def provision(settings: Path, keys_dir: Path, database_url: str):
    return gateway_run(["-m", "components.gateway.provision", "--settings", str(settings),
                        "--keys-dir", str(keys_dir)], {"GATEWAY_DATABASE_URL": database_url})


def _launch(stack: ExitStack, directory: Path, args: GatewayArgs, pg, redis_port: int, model: Stub,
            hosted: Stub) -> Gateway:
    config, settings, keys, log_dir = _write(directory, args)
    url = pg.database(directory.name)
    done = provision(settings, directory / "keys", url)
    assert done.returncode == 0, done.stderr
    master = "sk-master-" + secrets.token_hex(12)
    env = {
        "LITELLM_MASTER_KEY": master, "REDIS_HOST": LOOPBACK, "REDIS_PORT": str(redis_port),
        "GATEWAY_SETTINGS": str(settings), "GATEWAY_DATABASE_URL": url, "POD_NAME": POD,
        # Spend read on every request: in production auth caches it for 5 s (a budget can be
        # overshot by that much); here a refusal must follow the request that crossed it.
        "GATEWAY_AUTH_CACHE_SECONDS": "0",
        **{hosted_key_env(r.model): hosted.api_key or "" for r in args.routes if r.fallback},
    }
    proxy = stack.enter_context(start_proxy(config, env, directory / "proxy.log"))
    return Gateway(proxy, args, keys, log_dir, model, hosted, directory.name, master)


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[tuple]:
    """Both proxies start here and boot together; each test waits only for the one it uses."""
    tmp = tmp_path_factory.mktemp("gateway")
    with ExitStack() as stack:
        pg = stack.enter_context(postgres())
        redis_port = stack.enter_context(redis()).port
        model = stack.enter_context(serve_stub(Stub("model-server-pod-0")))
        hosted = stack.enter_context(serve_stub(Stub("hosted-api", api_key="sk-hosted-" + secrets.token_hex(8))))
        candidate = stack.enter_context(serve_stub(Stub("candidate-pod-0", modes=dict(CANDIDATE_MODES))))
        model.modes.update({"flaky": "503", "slow": "stall", "busy": "hold", "crowded": "hold"})
        main = _launch(stack, tmp / "main", main_args(model, hosted, candidate), pg, redis_port, model, hosted)
        main.candidate = candidate
        ceiling = _launch(stack, tmp / "ceiling", ceiling_args(model), pg, redis_port, model, hosted)
        # Both are signalled first, so their graceful shutdowns overlap too.
        stack.callback(lambda: [gw.proxy.process.terminate() for gw in (main, ceiling)])
        yield pg, main, ceiling


@pytest.fixture(scope="module")
def gateway(servers) -> Gateway:
    servers[1].proxy.ready()
    return servers[1]


@pytest.fixture(scope="module")
def ceiling_gateway(servers) -> Gateway:
    servers[2].proxy.ready()
    return servers[2]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict
    seconds: float

    @property
    def error_type(self) -> str | None:
        return self.body.get("error", {}).get("type")

    @property
    def text(self) -> str:
        return self.body["choices"][0]["message"]["content"]


def chat(gw: Gateway, key: str, model: str, prompt: str, timeout: float = 30) -> Answer:
    request = urllib.request.Request(
        f"{gw.proxy.url}/v1/chat/completions", method="POST",
        data=json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}]}).encode(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, headers, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
    seconds = time.monotonic() - start
    return Answer(status, {k.lower(): v for k, v in headers.items()}, json.loads(raw or b"{}"), seconds)


def log_line(gw: Gateway, model: str, prompt: str, timeout: float = 10) -> dict:
    """The request log's line for `prompt`, from `<log_dir>/<model>/<UTC day>-<pod>.jsonl`."""
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    path = gw.log_dir / model / f"{day}-{POD}.jsonl"

    def found() -> dict | None:
        if not path.exists():
            return None
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record.get("prompt") == prompt:
                return record
        return None

    return poll(found, timeout, f"the log line for {prompt!r} in {path}")


METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(gw: Gateway) -> list[tuple[str, dict[str, str], float]]:
    # /metrics answers 307 to /metrics/ (research/litellm.md §8.12); the contract path is /metrics/.
    with urllib.request.urlopen(f"{gw.proxy.url}/metrics/", timeout=10) as r:
        return parse(r.read().decode())


def parse(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus' text format: (name, labels, value) per sample line."""
    out = []
    for line in text.splitlines():
        m = METRIC.match(line)
        if m and not line.startswith("#"):
            out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def metric(gw: Gateway, name: str, **labels: str) -> float:
    """The sum of `name` over the series carrying `labels`."""
    return sum(v for n, ls, v in scrape(gw) if n == name and all(ls.get(k) == x for k, x in labels.items()))


def eventually(read, expected: float, timeout: float = 10) -> float:
    """Metrics are counted in LiteLLM's async callback, after the answer went out."""
    poll(lambda: abs(read() - expected) < 1e-9, timeout, f"a metric to reach {expected}")
    return read()


def seconds_to_next_month(now: dt.datetime) -> float:
    days = calendar.monthrange(now.year, now.month)[1]
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + dt.timedelta(days=days) - now).total_seconds()


def test_the_generated_config_starts_and_every_router_setting_is_accepted(gateway):
    assert "not a valid argument for Router" not in gateway.proxy.log.read_text()
    config = (gateway.proxy.log.parent / "config.yaml").read_text()
    for value in [*gateway.keys.values(), gateway.master_key, gateway.hosted.api_key]:
        assert value not in config


def test_a_valid_key_gets_200_and_its_log_line_has_every_field(gateway):
    prompt = "How do I reset my password from the mobile app?"
    before = time.time()
    answer = chat(gateway, gateway.keys["app"], "chat", prompt)
    assert answer.status == 200, answer.body
    assert answer.headers["x-litellm-attempted-fallbacks"] == "0"
    line = log_line(gateway, "chat", prompt)
    assert set(line) >= LOG_FIELDS, LOG_FIELDS - set(line)
    assert (line["team"], line["key_alias"], line["model"], line["served_by"]) == ("app", "app-key", "chat", "chat")
    assert (line["revision"], line["gateway_pod"], line["status"]) == ("rev-chat", POD, 200)
    assert line["completion"] == answer.text
    assert line["finish_reason"] == "stop"
    assert (line["prompt_tokens"], line["completion_tokens"]) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert line["cost_usd"] == pytest.approx(SELF_COST)
    assert (line["fallback"], line["fallback_reason"], line["refusal"]) == (False, None, refuses(prompt))
    assert before - 1 <= line["ts"] <= time.time() + 1
    assert dt.datetime.fromisoformat(line["time"].replace("Z", "+00:00")).timestamp() == pytest.approx(line["ts"], abs=1)
    assert 0 < line["latency_ms"] < answer.seconds * 1000 + 1000


def test_a_wrong_key_gets_401(gateway):
    answer = chat(gateway, "sk-" + secrets.token_hex(16), "chat", "Can you help me renew the trial?")
    assert answer.status == 401, answer.body
    assert answer.error_type == "auth_error"
    assert all(s["messages"][-1]["content"] != "Can you help me renew the trial?" for s in gateway.model.seen)


def test_a_model_outside_the_teams_list_gets_403(gateway):
    answer = chat(gateway, gateway.keys["app"], "steady", "Can I export my invoice history?")
    assert answer.status == 403, answer.body
    assert answer.error_type == "team_model_access_denied"


def test_over_a_teams_rpm_gets_429_with_retry_after(gateway):
    key = gateway.keys["ratelimited"]
    answers = [chat(gateway, key, "chat", f"Why was I charged twice, take {i}?") for i in range(RPM + 1)]
    assert [a.status for a in answers] == [200] * RPM + [429], [a.body for a in answers]
    refused = answers[-1]
    assert refused.error_type == "throttling_error"
    # LiteLLM's v3 limiter: the window, LITELLM_RATE_LIMIT_WINDOW_SIZE (default 60 s).
    assert 0 < int(refused.headers["retry-after"]) <= 60
    eventually(lambda: metric(gateway, "llm_gateway_rate_limited_total", team="ratelimited", model="chat",
                              limit="rpm"), 1)


def test_spend_past_a_teams_budget_is_refused_until_next_month(gateway):
    key = gateway.keys["thrifty"]
    answered = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = chat(gateway, key, "chat", f"How do I update my payment card, try {answered}?")
        if answer.status != 200:
            break
        answered += 1
        time.sleep(0.2)  # the ledger is written in the callback, after the answer
    assert answer.status == 429, answer.body
    assert answer.error_type == "budget_exceeded"
    # Never refused while under budget; at most one answer slips in before the ledger is written.
    assert answered * SELF_COST > THRIFTY_BUDGET
    assert answered <= int(THRIFTY_BUDGET / SELF_COST) + 2
    expected = seconds_to_next_month(dt.datetime.now(dt.UTC))
    assert int(answer.headers["retry-after"]) == pytest.approx(expected, abs=5)
    # Another team is still served.
    assert chat(gateway, gateway.keys["app"], "chat", "Can I pause the annual plan today?").status == 200


def test_spend_past_the_environment_ceiling_is_refused_for_every_team(ceiling_gateway):
    gw = ceiling_gateway
    answered = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = chat(gw, gw.keys["spender"], "chat", f"Export my invoice history, page {answered}")
        if answer.status != 200:
            break
        answered += 1
        time.sleep(0.2)
    assert answer.status == 429, answer.body
    assert answer.error_type == "budget_exceeded"
    assert answered * SELF_COST > CEILING
    bystander = chat(gw, gw.keys["bystander"], "chat", "Can my team transfer the seats on our license?")
    assert bystander.status == 429, bystander.body
    assert bystander.error_type == "budget_exceeded"
    expected = seconds_to_next_month(dt.datetime.now(dt.UTC))
    assert int(bystander.headers["retry-after"]) == pytest.approx(expected, abs=5)
    eventually(lambda: metric(gw, "llm_gateway_rate_limited_total", team="bystander", limit="ceiling"), 1)


@pytest.mark.parametrize(("model", "reason"), [("flaky", "server_error"), ("slow", "timeout")])
def test_a_failing_model_server_is_served_by_the_hosted_api_and_counted(gateway, model, reason):
    prompt = f"What happens to my data if I delete my account email ({model})?"
    answer = chat(gateway, gateway.keys["fallbacks"], model, prompt)
    assert answer.status == 200, answer.body
    assert answer.headers["x-litellm-attempted-fallbacks"] == "1"
    assert answer.headers.get("llm_provider-x-served-by") == "hosted-api"
    if model == "slow":
        # One timeout, then the hosted API: no retry of the stalled server first.
        assert STALL_TIMEOUT_S <= answer.seconds < 2 * STALL_TIMEOUT_S
    assert any(s["messages"][-1]["content"] == prompt for s in gateway.hosted.seen)
    line = log_line(gateway, model, prompt)
    assert (line["served_by"], line["fallback"], line["fallback_reason"]) == (f"{model}-hosted", True, reason)
    assert line["cost_usd"] == pytest.approx(HOSTED_COST)
    eventually(lambda: metric(gateway, "llm_gateway_fallbacks_total", team="fallbacks", model=model, reason=reason), 1)
    assert metric(gateway, "llm_gateway_requests_total", team="fallbacks", model=model, served_by="fallback",
                  code="200") == 1


def test_full_capacity_with_a_fallback_is_served_by_the_hosted_api_at_once(gateway):
    key = gateway.keys["fallbacks"]
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(chat, gateway, key, "crowded", "Hold the crowded slot, please.")
        poll(lambda: any(s.get("model") == "crowded" for s in gateway.model.seen), 10, "the first request upstream")
        prompt = "Is there room for me on the crowded model?"
        second = chat(gateway, key, "crowded", prompt)
        gateway.model.release["crowded"].set()
        assert first.result(timeout=30).status == 200
    assert second.status == 200, second.body
    assert second.headers["x-litellm-attempted-fallbacks"] == "1"
    assert second.seconds < ROUTE_TIMEOUT_S / 2  # refused, not queued into the timeout
    line = log_line(gateway, "crowded", prompt)
    assert (line["served_by"], line["fallback"], line["fallback_reason"]) == ("crowded-hosted", True, "rate_limited")
    eventually(lambda: metric(gateway, "llm_gateway_fallbacks_total", team="fallbacks", model="crowded",
                              reason="rate_limited"), 1)


def test_full_capacity_without_fallback_gets_429_at_once_not_a_timeout(gateway):
    key = gateway.keys["backpressure"]
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(chat, gateway, key, "busy", "Hold the only slot, please.")
        poll(lambda: any(s.get("model") == "busy" for s in gateway.model.seen), 10, "the first request upstream")
        second = chat(gateway, key, "busy", "Is there a free slot for me?")
        gateway.model.release["busy"].set()
        assert first.result(timeout=30).status == 200
    assert second.status == 429, second.body
    # Our failure hook adds the Retry-After by replacing the error with an HTTPException, which
    # LiteLLM's error payload types by status (proxy/common_utils/openai_error_payload.py:20).
    assert second.error_type == "rate_limit_error"
    assert second.headers["retry-after"] == "1"
    assert second.seconds < ROUTE_TIMEOUT_S / 2  # refused, not queued into the timeout
    eventually(lambda: metric(gateway, "llm_gateway_rate_limited_total", team="backpressure", model="busy",
                              limit="capacity"), 1)


def test_the_metrics_the_alerts_read_are_exposed_under_the_contract_names(gateway):
    """Every series the rules read (components/observability/metrics.py GATEWAY_SERIES), with
    exactly its labels, counting this test's own requests: four answers from the model server
    (one a refusal), one from the hosted API, then one over the team's rpm."""
    key = gateway.keys["metered"]
    prompts = ["How do I change my account email?", "Can I renew the trial?", "Refuse this one"]
    assert [refuses(p) for p in prompts] == [False, False, True]
    for prompt in prompts:
        assert chat(gateway, key, "chat", prompt).status == 200
    assert chat(gateway, key, "flaky", "Why was I charged twice?").status == 200
    assert chat(gateway, key, "chat", "Can I pause my subscription?").status == 200
    assert chat(gateway, key, "chat", "One more, over the limit?").status == 429
    own = {"team": "metered", "model": "chat", "served_by": "self-hosted"}
    hosted = {"team": "metered", "model": "flaky", "served_by": "fallback"}
    eventually(lambda: metric(gateway, "llm_gateway_requests_total", code="200", **own), 4)
    assert metric(gateway, "llm_gateway_requests_total", code="200", **hosted) == 1
    assert metric(gateway, "llm_gateway_tokens_total", direction="prompt", **own) == 4 * PROMPT_TOKENS
    assert metric(gateway, "llm_gateway_tokens_total", direction="completion", **own) == 4 * COMPLETION_TOKENS
    assert metric(gateway, "llm_gateway_spend_usd_total", **own) == pytest.approx(4 * SELF_COST)
    assert metric(gateway, "llm_gateway_spend_usd_total", **hosted) == pytest.approx(HOSTED_COST)
    assert metric(gateway, "llm_gateway_refusals_total", team="metered", model="chat") == 1
    assert metric(gateway, "llm_gateway_fallbacks_total", team="metered", model="flaky", reason="server_error") == 1
    eventually(lambda: metric(gateway, "llm_gateway_rate_limited_total", team="metered", model="chat", limit="rpm"), 1)
    assert metric(gateway, "llm_gateway_team_budget_usd", team="metered") == 7.5
    spent = 4 * SELF_COST + HOSTED_COST
    assert metric(gateway, "llm_gateway_team_spend_usd", team="metered") == pytest.approx(spent)
    assert metric(gateway, "llm_gateway_ceiling_usd") == 1000.0
    assert metric(gateway, "llm_gateway_spend_month_usd") >= spent
    # One shadowed request, so the shadow series exist in this test's scrape too.
    assert chat(gateway, gateway.keys["shadow"], "counted", "Is the shadow counted?").status == 200
    poll(lambda: metric(gateway, "llm_gateway_shadow_score_count", model="counted") >= 1, 10, "a shadow score")
    exposed = {(name, tuple(sorted(labels))) for name, labels, _ in scrape(gateway)}
    for name, labels in GATEWAY_SERIES.items():
        assert (name, tuple(sorted(labels))) in exposed, (name, labels)




def _pushed(url: str, model: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
        series = parse(r.read().decode())
    return {n: v for n, ls, v in series if n.startswith("llm_quality_") and ls.get("model") == model}


def test_the_quality_monitor_reads_the_log_the_run_wrote_and_pushes_drift_and_refusals(gateway, tmp_path):
    prompts = corpus.support(60, seed=2)
    key = gateway.keys["quality"]
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda p: chat(gateway, key, "steady", p).status, prompts))
    assert statuses == [200] * len(prompts)
    for prompt in prompts:
        log_line(gateway, "steady", prompt)
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "steady.jsonl").write_text("".join(
        json.dumps({"prompt": p, "completion_tokens": COMPLETION_TOKENS}) + "\n" for p in corpus.support(60, seed=1)))
    with running(tmp_path) as url:
        config = tmp_path / "monitor.json"
        config.write_text(json.dumps({"models": ["steady"], "log_dir": str(gateway.log_dir),
                                      "reference_dir": str(reference), "sample_size": 100,
                                      "pushgateway": url, "permutations": 20}))
        done = subprocess.run([sys.executable, "-m", "components.quality", "--config", str(config)],
                              cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        pushed = _pushed(url, "steady")
    assert pushed["llm_quality_sample_size"] == len(prompts)
    assert pushed["llm_quality_refusal_ratio"] == pytest.approx(sum(map(refuses, prompts)) / len(prompts))
    assert "llm_quality_input_mmd2" in pushed
    refusals = sum(map(refuses, prompts))
    assert metric(gateway, "llm_gateway_refusals_total", team="quality", model="steady") == refusals


def test_provisioning_twice_leaves_the_same_teams_and_keys(servers):
    pg, gw = servers[0], servers[1]
    directory = gw.proxy.log.parent
    tables = ("select name, models, rpm, tpm, max_parallel_requests, monthly_budget_usd from gateway_team"
              " order by name; select alias, team, sha256 from gateway_key order by alias")
    before = pg.sql(tables, gw.database)
    again = provision(directory / "gateway.json", directory / "keys", pg.url(gw.database))
    assert again.returncode == 0, again.stderr
    assert pg.sql(tables, gw.database) == before
    # Keys are kept as SHA-256 hashes, never as values.
    stored = dict(line.split("|") for line in pg.sql("select alias, sha256 from gateway_key", gw.database).split())
    assert stored == {f"{team}-key": hashlib.sha256(value.encode()).hexdigest() for team, value in gw.keys.items()}


# --- shadow traffic -----------------------------------------------------------------------


def incumbent_text(prompt: str) -> str:
    """What the model server (the incumbent) answers: the stub's default mode."""
    return REFUSAL if refuses(prompt) else helpful(prompt)


def copies(gw: Gateway, model: str) -> list[dict]:
    """The requests the candidate received for `model`."""
    assert gw.candidate is not None
    return [s for s in list(gw.candidate.seen) if s.get("model") == model]


def shadow_report(gw: Gateway, model: str) -> list[dict]:
    """The shadow report's lines: <log_dir>/shadow/<model>/<candidate revision>/<pod>.jsonl."""
    path = gw.log_dir / "shadow" / model / f"cand-{model}" / f"{POD}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def shadow_chat(gw: Gateway, model: str, prompts: list[str], threads: int = 1) -> list[Answer]:
    """The user's requests, each answered by the incumbent with the incumbent's text."""
    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(lambda p: chat(gw, gw.keys["shadow"], model, p), prompts))
    for prompt, answer in zip(prompts, answers, strict=True):
        assert answer.status == 200, answer.body
        assert answer.text == incumbent_text(prompt)
        assert answer.headers.get("llm_provider-x-served-by") == "model-server-pod-0"
    return answers


def test_a_shadowed_request_is_answered_by_the_incumbent_and_scored_against_it(gateway):
    """The candidate ("stricter") also refuses the prompts whose length is 1 mod 5: exact
    match scores those 0 and the rest 1, and it refuses more than the incumbent."""
    prompts = ["How do I add a seat?", "Can I get an invoice?", "How do I cancel my subscription?",
               "Where is my order?", "Where is my parcel?"]
    assert [len(p) % 5 for p in prompts] == [0, 1, 2, 3, 4]
    answers = shadow_chat(gateway, "mirrored", prompts)
    lines = poll(lambda: len(shadow_report(gateway, "mirrored")) == len(prompts)
                 and shadow_report(gateway, "mirrored"), 15, "five shadow report lines")
    scores = [0.0 if len(p) % 5 == 1 else 1.0 for p in prompts]
    by_prompt = {line["prompt"]: line for line in lines}
    for prompt, answer, score in zip(prompts, answers, scores, strict=True):
        line = by_prompt[prompt]
        assert (line["outcome"], line["error"], line["score"]) == ("ok", None, score)
        assert (line["revision"], line["incumbent_revision"]) == ("cand-mirrored", "stable-mirrored")
        assert (line["incumbent"], line["candidate"]) == (
            answer.text, REFUSAL if refuses_stricter(prompt) else helpful(prompt))
        assert (line["incumbent_refusal"], line["candidate_refusal"]) == (
            refuses(prompt), refuses_stricter(prompt))
        assert 0 <= line["candidate_latency_ms"] < SHADOW_TIMEOUT_S * 1000
    # The copy is the user's request, not streamed, to the candidate's own model name.
    sent = copies(gateway, "mirrored")
    assert sorted(s["messages"][-1]["content"] for s in sent) == sorted(prompts)
    assert all(s["stream"] is False for s in sent)
    own = {"model": "mirrored", "revision": "cand-mirrored"}
    eventually(lambda: metric(gateway, "llm_gateway_shadow_score_count", **own), len(prompts))
    assert metric(gateway, "llm_gateway_shadow_score_sum", **own) == sum(scores) == 4
    assert metric(gateway, "llm_gateway_shadow_requests_total", outcome="ok", **own) == 5
    assert metric(gateway, "llm_gateway_shadow_refusals_total", role="incumbent", **own) == 1
    assert metric(gateway, "llm_gateway_shadow_refusals_total", role="candidate", **own) == 2
    # The request log records both revisions the Service serves during the rollout.
    logged = log_line(gateway, "mirrored", prompts[0])
    assert (logged["revision"], logged["previous_revision"]) == ("rev-mirrored", "stable-mirrored")


def test_a_hanging_candidate_never_delays_the_user_and_holds_at_most_its_bound(gateway):
    """Four requests at once, each copied (fraction 1) to a candidate that never answers:
    two copies run (max_in_flight), two are not sent, and every user is answered at the
    incumbent's speed, far inside the copies' 2 s timeout."""
    # The proxy's first requests are slow (its clients warm up): not this test's measure.
    shadow_chat(gateway, "counted", ["Is the proxy warm?"])
    prompts = [f"Where is the export button, take {i}?" for i in range(4)]
    answers = shadow_chat(gateway, "hanging", prompts, threads=4)
    assert max(a.seconds for a in answers) < HANG_TIMEOUT_S / 2
    poll(lambda: len(copies(gateway, "hanging")) == SHADOW_IN_FLIGHT, 10, "two copies in flight")
    own = {"model": "hanging", "revision": "cand-hanging"}
    eventually(lambda: metric(gateway, "llm_gateway_shadow_requests_total", outcome="timeout", **own),
               SHADOW_IN_FLIGHT, timeout=HANG_TIMEOUT_S + 10)
    assert len(copies(gateway, "hanging")) == SHADOW_IN_FLIGHT  # never more than the bound
    lines = poll(lambda: len(shadow_report(gateway, "hanging")) == SHADOW_IN_FLIGHT
                 and shadow_report(gateway, "hanging"), 10, "two report lines")
    for line in lines:
        assert (line["outcome"], line["score"], line["candidate"]) == ("timeout", None, None)
        assert (line["incumbent_refusal"], line["candidate_refusal"]) == (None, None)
        assert HANG_TIMEOUT_S * 1000 * 0.95 <= line["candidate_latency_ms"] < HANG_TIMEOUT_S * 1000 + 2000
    assert metric(gateway, "llm_gateway_shadow_score_count", **own) == 0
    # The timed-out copies freed their slots: the next request is copied again.
    shadow_chat(gateway, "hanging", ["And the import button?"])
    poll(lambda: len(copies(gateway, "hanging")) == SHADOW_IN_FLIGHT + 1, 10, "a copy after the timeouts")


def test_a_candidate_answering_500_is_counted_as_an_error_and_the_user_gets_the_incumbent(gateway):
    prompts = ["How do I rotate my API key?", "Can I merge two accounts?"]
    shadow_chat(gateway, "failing", prompts)
    own = {"model": "failing", "revision": "cand-failing"}
    eventually(lambda: metric(gateway, "llm_gateway_shadow_requests_total", outcome="error", **own), 2)
    lines = poll(lambda: len(shadow_report(gateway, "failing")) == 2 and shadow_report(gateway, "failing"),
                 10, "two report lines")
    assert [(line["outcome"], line["error"], line["score"]) for line in lines] == [("error", "HTTP 500", None)] * 2
    assert metric(gateway, "llm_gateway_shadow_score_count", **own) == 0
    assert metric(gateway, "llm_gateway_shadow_refusals_total", **own) == 0


def test_the_sampled_share_matches_the_setting_within_three_sigma(gateway):
    """N requests, each copied with probability f: the number of copies is Binomial(N, f),
    mean N f = 24 and sigma sqrt(N f (1 - f)) = 4.10 for N = 80, f = 0.3; 3 sigma
    (p = 0.0027 of a false failure, normal approximation) admits 12..36, which a share of
    0.1 (8 expected), twice f (48) or 1 - f (56, a comparison the wrong way) falls outside."""
    n = 80
    mean, sigma = n * SAMPLE_FRACTION, math.sqrt(n * SAMPLE_FRACTION * (1 - SAMPLE_FRACTION))
    low, high = math.ceil(mean - 3 * sigma), math.floor(mean + 3 * sigma)
    assert (low, high) == (12, 36)
    prompts = [f"Question {i}: how do I reset the device?" for i in range(n)]
    shadow_chat(gateway, "sampled", prompts, threads=4)
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    log_file = gateway.log_dir / "sampled" / f"{day}-{POD}.jsonl"
    poll(lambda: log_file.exists() and len(log_file.read_text().splitlines()) == n, 20, "every request logged")
    own = {"model": "sampled", "revision": "cand-sampled"}

    def settled() -> int | None:
        sent, reported = len(copies(gateway, "sampled")), len(shadow_report(gateway, "sampled"))
        counted = metric(gateway, "llm_gateway_shadow_requests_total", outcome="ok", **own)
        return sent if sent == reported == counted else None

    sent = poll(settled, 15, "every copy answered, counted and reported")
    time.sleep(0.5)  # the last request's copy starts right after its log line
    assert settled() == sent
    assert low <= sent <= high, f"{sent} copies of {n} requests at f = {SAMPLE_FRACTION}"


def test_with_a_judge_the_score_is_the_judges_verdict(gateway):
    """The model's eval names a judge: the candidate's answer (identical here) is graded by it
    against the incumbent's with the agreement rubric, and its verdict is the score."""
    prompts = ["How do I enable two-factor login?", "Can I change the billing currency?"]
    shadow_chat(gateway, "judged", prompts)
    own = {"model": "judged", "revision": "cand-judged"}
    eventually(lambda: metric(gateway, "llm_gateway_shadow_score_count", **own), 2)
    assert metric(gateway, "llm_gateway_shadow_score_sum", **own) == pytest.approx(2 * JUDGE_SCORE)
    lines = poll(lambda: len(shadow_report(gateway, "judged")) == 2 and shadow_report(gateway, "judged"),
                 10, "two report lines")
    assert [(line["score"], line["judge"]) for line in lines] == [(JUDGE_SCORE, "judge")] * 2
    graded = copies(gateway, "judge")
    assert len(graded) == 2
    for request in graded:
        system, user = request["messages"]
        assert AGREEMENT_RUBRIC.split(".")[0] in system["content"]
        assert any(f"## Reference answer\n{incumbent_text(p)}" in user["content"] for p in prompts)


def stream_chat(gw: Gateway, model: str, prompt: str) -> str:
    """A streamed request: the text of its server-sent events' deltas."""
    request = urllib.request.Request(
        f"{gw.proxy.url}/v1/chat/completions", method="POST",
        data=json.dumps({"model": model, "stream": True,
                         "messages": [{"role": "user", "content": prompt}]}).encode(),
        headers={"authorization": f"Bearer {gw.keys['shadow']}", "content-type": "application/json"},
    )
    text = []
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for raw in r.read().decode().splitlines():
            if raw.startswith("data: ") and raw != "data: [DONE]":
                delta = json.loads(raw[len("data: "):])["choices"]
                text.append((delta[0]["delta"].get("content") or "") if delta else "")
    return "".join(text)


def test_a_streamed_request_is_copied_as_its_non_streamed_equivalent(gateway):
    """The user's stream is the incumbent's; the candidate gets the same request unstreamed,
    and its answer (identical here) is scored against the stream's whole text."""
    prompt = "Can I stream the export of my data?"
    assert stream_chat(gateway, "streamed", prompt) == incumbent_text(prompt)
    assert any(s.get("stream") is True and s.get("model") == "streamed" for s in gateway.model.seen)
    (line,) = poll(lambda: shadow_report(gateway, "streamed"), 15, "the stream's report line")
    assert (line["outcome"], line["score"], line["incumbent"]) == ("ok", 1.0, incumbent_text(prompt))
    (sent,) = copies(gateway, "streamed")
    assert (sent["stream"], sent["messages"][-1]["content"]) == (False, prompt)
