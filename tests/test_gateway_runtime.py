"""The gateway's runtime (components/gateway) against a real Postgres: provisioning run as the
Job runs it, the key check LiteLLM calls, the spend ledger, the request log and its retention.

What imports LiteLLM or psycopg runs in the gateway's own venv (.venv-gateway, the image's
lock) as a subprocess; the request log is plain Python and is tested here in-process. The
real proxy in front of stub model servers is tests/test_gateway_proxy.py's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from gateway_servers import Postgres, free_port, gateway_run, postgres

from components.gateway import requestlog
from components.quality import logs

KEYS = {"support-prod": "sk-support-prod-0123456789", "support-dev": "sk-support-dev-0123456789",
        "batch-prod": "sk-batch-prod-0123456789"}


def settings(**team_changes) -> dict:
    """gateway.json as components/kubernetes/gateway/config.py writes it (brief, contract 4)."""
    teams = [
        {"name": "support-bot", "models": ["assistant"], "rpm": 600, "tpm": 400000,
         "max_parallel_requests": 32, "monthly_budget_usd": 1500.0,
         "keys": ["support-prod", "support-dev"]},
        {"name": "batch", "models": ["assistant", "summarizer"], "rpm": 60, "tpm": 1000000,
         "max_parallel_requests": 8, "monthly_budget_usd": 500.0, "keys": ["batch-prod"]},
    ]
    for team in teams:
        team.update(team_changes.get(team["name"], {}))
    return {"environment": "aws", "ceiling_usd": 1800.0, "log_dir": "/var/log/llm",
            "retention_days": 30, "redact_prompts": False,
            "teams": [t for t in teams if t.get("keep", True)],
            # assistant mid-rollout: its Service has pods of both revisions.
            "models": {"assistant": {"revision": "r-7f3a", "fallback": "assistant-hosted",
                                     "previous_revision": "r-6e2b"},
                       "summarizer": {"revision": "r-0c1d", "fallback": None}}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Postgres]:
    with postgres() as pg:
        yield pg


@pytest.fixture
def db(cluster: Postgres, request: pytest.FixtureRequest) -> str:
    """A fresh database per test: its URL."""
    return cluster.database(f"gw_{abs(hash(request.node.name)) % 10**12}")


def write_inputs(tmp_path: Path, data: dict, keys: dict[str, str]) -> tuple[Path, Path]:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(data))
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir(exist_ok=True)
    for old in keys_dir.iterdir():
        old.unlink()
    for alias, value in keys.items():
        # As a mounted Secret's file may end: with a newline.
        (keys_dir / alias).write_text(value + "\n")
    return path, keys_dir


def provision(db: str, path: Path, keys_dir: Path):
    return gateway_run(["-m", "components.gateway.provision", "--settings", str(path),
                        "--keys-dir", str(keys_dir)], {"GATEWAY_DATABASE_URL": db})


def tables(cluster: Postgres, db: str) -> tuple[list[str], list[str]]:
    name = db.rsplit("/", 1)[1]
    teams = cluster.sql("SELECT name, models, rpm, tpm, max_parallel_requests, monthly_budget_usd,"
                        " xmin FROM gateway_team ORDER BY name", name).splitlines()
    keys = cluster.sql("SELECT alias, team, sha256, xmin FROM gateway_key ORDER BY alias",
                       name).splitlines()
    return teams, keys


def sha(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.encode()).hexdigest()


# --- provisioning --------------------------------------------------------------------------


def test_provisioning_twice_leaves_the_same_teams_and_keys(tmp_path, cluster, db):
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    first = provision(db, path, keys_dir)
    assert (first.returncode, first.stdout, first.stderr) == (
        0, "created 5, updated 0, deleted 0, unchanged 0\n", "")
    teams, keys = tables(cluster, db)
    # Key values never reach the database: only their SHA-256.
    assert [k.split("|")[:3] for k in keys] == [
        ["batch-prod", "batch", sha(KEYS["batch-prod"])],
        ["support-dev", "support-bot", sha(KEYS["support-dev"])],
        ["support-prod", "support-bot", sha(KEYS["support-prod"])],
    ]
    assert [t.split("|")[:6] for t in teams] == [
        ["batch", "{assistant,summarizer}", "60", "1000000", "8", "500"],
        ["support-bot", "{assistant}", "600", "400000", "32", "1500"],
    ]
    second = provision(db, path, keys_dir)
    assert (second.returncode, second.stdout) == (0, "created 0, updated 0, deleted 0, unchanged 5\n")
    # Not even rewritten: every row keeps the transaction id that wrote it (xmin).
    assert tables(cluster, db) == (teams, keys)


def test_a_changed_limit_is_updated_in_place_and_nothing_else_moves(tmp_path, cluster, db):
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    assert provision(db, path, keys_dir).returncode == 0
    teams, keys = tables(cluster, db)
    path, keys_dir = write_inputs(tmp_path, settings(**{"support-bot": {"rpm": 900}}), KEYS)
    done = provision(db, path, keys_dir)
    assert (done.returncode, done.stdout) == (0, "created 0, updated 1, deleted 0, unchanged 4\n")
    after_teams, after_keys = tables(cluster, db)
    assert after_keys == keys
    assert after_teams[0] == teams[0]  # batch: untouched
    assert after_teams[1].split("|")[:6] == ["support-bot", "{assistant}", "900", "400000", "32", "1500"]


def test_a_removed_key_and_a_removed_team_are_deleted(tmp_path, cluster, db):
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    assert provision(db, path, keys_dir).returncode == 0
    fewer = {k: v for k, v in KEYS.items() if k != "support-dev"}
    path, keys_dir = write_inputs(tmp_path, settings(**{"support-bot": {"keys": ["support-prod"]}}), fewer)
    done = provision(db, path, keys_dir)
    assert (done.returncode, done.stdout) == (0, "created 0, updated 0, deleted 1, unchanged 4\n")
    assert [k.split("|")[0] for k in tables(cluster, db)[1]] == ["batch-prod", "support-prod"]
    # The team goes with its last key; the spec is the truth.
    path, keys_dir = write_inputs(
        tmp_path, settings(batch={"keep": False}, **{"support-bot": {"keys": ["support-prod"]}}),
        {"support-prod": KEYS["support-prod"]})
    done = provision(db, path, keys_dir)
    assert (done.returncode, done.stdout) == (0, "created 0, updated 0, deleted 2, unchanged 2\n")
    teams, keys = tables(cluster, db)
    assert ([t.split("|")[0] for t in teams], [k.split("|")[0] for k in keys]) == (
        ["support-bot"], ["support-prod"])


def test_two_aliases_can_swap_their_keys_in_one_run(tmp_path, cluster, db):
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    assert provision(db, path, keys_dir).returncode == 0
    swapped = {**KEYS, "support-prod": KEYS["support-dev"], "support-dev": KEYS["support-prod"]}
    path, keys_dir = write_inputs(tmp_path, settings(), swapped)
    done = provision(db, path, keys_dir)
    assert (done.returncode, done.stdout) == (0, "created 0, updated 2, deleted 0, unchanged 3\n")
    keys = {k.split("|")[0]: k.split("|")[2] for k in tables(cluster, db)[1]}
    assert keys["support-prod"] == sha(KEYS["support-dev"])
    assert keys["support-dev"] == sha(KEYS["support-prod"])


@pytest.mark.parametrize(
    ("keys", "problems"),
    [
        ({**KEYS, "support-dev": "sk-short"},
         ["{dir}/support-dev: the key of alias 'support-dev' is 8 characters; at least 16 are required"]),
        ({k: v for k, v in KEYS.items() if k != "batch-prod"},
         ["{dir}/batch-prod: cannot read the key of alias 'batch-prod' of team 'batch' "
          "(No such file or directory)"]),
        ({**KEYS, "support-dev": KEYS["support-prod"]},
         ["{dir}/support-prod: the same key as another alias; each key must be unique",
          "{dir}/support-dev: the same key as another alias; each key must be unique"]),
    ],
    ids=["short", "missing", "duplicate"],
)
def test_a_bad_key_file_gets_one_line_exit_2_and_changes_nothing(tmp_path, cluster, db, keys, problems):
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    assert provision(db, path, keys_dir).returncode == 0
    before = tables(cluster, db)
    path, keys_dir = write_inputs(tmp_path, settings(**{"support-bot": {"rpm": 1}}), keys)
    done = provision(db, path, keys_dir)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [f"provision: {p.format(dir=keys_dir)}" for p in problems]
    assert tables(cluster, db) == before


def test_bad_settings_and_an_unreachable_database_get_one_line(tmp_path, cluster):
    path, keys_dir = write_inputs(tmp_path, settings(**{"batch": {"tpm": "lots"}}), KEYS)
    done = provision(cluster.url(), path, keys_dir)
    assert (done.returncode, done.stderr) == (
        2, f"provision: {path}: teams[1].tpm: expected int, got \"lots\"\n")
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    unreachable = f"postgresql://postgres:hunter2-password@127.0.0.1:{free_port()}/gw"
    done = provision(unreachable, path, keys_dir)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("provision: the gateway database: ")
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr


# --- the key check and the callback, as LiteLLM calls them ----------------------------------

MASTER = "sk-master-for-tests-0123456789"


def drive(phase: str, cluster: Postgres, tmp_path: Path) -> dict:
    """Provision a fresh database, then run tests/gateway_runtime_driver.py's `phase` in the
    gateway venv with the container's environment; what it printed."""
    url = cluster.database(f"drv_{phase}_{os.getpid()}_{abs(hash(str(tmp_path))) % 10**8}")
    data = {**settings(), "log_dir": str(tmp_path / "log")}
    path, keys_dir = write_inputs(tmp_path, data, KEYS)
    assert provision(url, path, keys_dir).returncode == 0
    done = gateway_run(
        [str(Path(__file__).parent / "gateway_runtime_driver.py"), phase],
        {"GATEWAY_DATABASE_URL": url, "GATEWAY_SETTINGS": str(path), "POD_NAME": "llm-gateway-0",
         "LITELLM_MASTER_KEY": MASTER, "GATEWAY_AUTH_CACHE_SECONDS": "0",
         "DRIVER_KEYS": json.dumps(KEYS)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def auth_run(cluster, tmp_path_factory) -> dict:
    return drive("auth", cluster, tmp_path_factory.mktemp("auth"))


def test_a_valid_key_gets_its_team_and_limits_for_litellms_limiter(auth_run):
    assert auth_run["valid"] == {
        "code": "200", "api_key": sha(KEYS["support-prod"]), "key_alias": "support-prod",
        "team_id": "support-bot", "models": ["assistant"],
        # rpm and tpm on the team (shared by its keys), parallel per key.
        "max_parallel_requests": 32, "rpm_limit": None, "tpm_limit": None,
        "team_rpm_limit": 600, "team_tpm_limit": 400000, "team_max_budget": 1500.0,
        "team_spend": 0.0, "user_role": None,
    }
    assert auth_run["master"]["code"] == "200" and auth_run["master"]["user_role"] == "proxy_admin"


def test_a_wrong_key_gets_401_and_a_model_outside_the_team_403(auth_run):
    assert auth_run["wrong"] == {"code": "401", "type": "auth_error", "message": "invalid key",
                                 "headers": {}}
    assert auth_run["other_model"]["code"] == "403"
    assert auth_run["other_model"]["type"] == "team_model_access_denied"
    assert auth_run["other_model"]["message"] == (
        "team 'support-bot' may not use model 'summarizer'; its models: assistant")


def seconds_to_next_month(epoch: float) -> int:
    import math

    now = datetime.fromtimestamp(epoch, UTC)
    start = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    return math.ceil((start - now).total_seconds())


def test_a_team_at_its_budget_gets_429_until_the_month_ends(auth_run):
    assert auth_run["after_last_month"]["code"] == "200"
    assert auth_run["at_budget_spend"] == [1500.0, 1500.0]
    refused = auth_run["at_budget"]
    month = datetime.fromtimestamp(auth_run["now"], UTC).strftime("%Y-%m")
    assert (refused["code"], refused["type"]) == ("429", "budget_exceeded")
    assert refused["message"] == (f"team 'support-bot' has spent $1,500.00 of its $1,500.00 "
                                  f"monthly budget for {month}: refused until the month ends")
    retry = int(refused["headers"]["retry-after"])
    assert seconds_to_next_month(auth_run["now"]) - 60 <= retry <= seconds_to_next_month(auth_run["now"])
    assert auth_run["rate_limited"]["budget"] == 1.0


def test_past_the_environment_ceiling_every_team_is_refused(auth_run):
    # batch spent 300 of its 500: under its own budget, but support-bot's 1500 + 300 reach
    # the 1800 ceiling.
    assert auth_run["batch_under_ceiling"]["code"] == "200"
    assert auth_run["at_ceiling_spend"] == [300.0, 1800.0]
    refused = auth_run["at_ceiling"]
    assert (refused["code"], refused["type"]) == ("429", "budget_exceeded")
    assert refused["message"].startswith(
        "the environment's monthly cost ceiling of $1,800.00 is reached ($1,800.00 spent in ")
    assert int(refused["headers"]["retry-after"]) > 0
    assert auth_run["rate_limited"]["ceiling"] == 1.0


@pytest.fixture(scope="module")
def callback_run(cluster, tmp_path_factory) -> tuple[dict, Path]:
    tmp = tmp_path_factory.mktemp("callbacks")
    return drive("callbacks", cluster, tmp), tmp / "log"


@pytest.fixture
def callbacks_got(callback_run) -> dict:
    return callback_run[0]["callbacks"]


def test_the_callback_keeps_the_ledger_and_counts_per_team_and_model(callbacks_got):
    got = callbacks_got
    assert got["spend"] == {"batch": 0.22, "support-bot": None}
    assert got["month_spend"] == 0.22
    assert got["metrics"] == {
        "self_hosted": 1.0, "fallback": 1.0, "fallbacks_timeout": 1.0, "refusals": 1.0,
        "completion_tokens": 5.0, "budget": 500.0, "ceiling": 1800.0,
    }


def test_a_full_deployment_gets_429_with_retry_after_and_is_counted(callbacks_got):
    got = callbacks_got
    assert got["capacity"]["status"] == 429
    assert got["capacity"]["headers"]["retry-after"] == "1"
    assert got["capacity"]["count"] == 1.0
    # LiteLLM's limiter sends its own Retry-After: left alone, counted as rpm.
    assert (got["rpm"], got["rpm_count"]) == (None, 1.0)


def test_the_cache_sees_this_replicas_spend_at_once(callback_run):
    got = callback_run[0]["cache"]
    assert got["first"]["code"] == "200"
    # Spend written by another replica waits for the entry to expire (GATEWAY_AUTH_CACHE_SECONDS)...
    assert got["cached"]["code"] == "200"
    # ...what this replica's callback adds is applied to the cached entry.
    assert got["after_own_spend"]["code"] == "429"
    assert "has spent $1,500.50 of its $1,500.00" in got["after_own_spend"]["message"]


def test_one_log_line_per_request_with_every_field(callback_run):
    _, log_dir = callback_run
    today = datetime.now(UTC).date().isoformat()
    assistant = log_dir / "assistant" / f"{today}-llm-gateway-0.jsonl"
    lines = [json.loads(line) for line in assistant.read_text().splitlines()]
    # The primary's failure before its fallback is not a request of its own. (The third
    # line is the cache case's support-bot request.)
    assert [line["team"] for line in lines] == ["batch", "batch", "support-bot"]
    lines = lines[:2]
    direct, fell_back = lines
    assert set(direct) == {
        "ts", "time", "team", "key_alias", "model", "served_by", "revision", "previous_revision",
        "gateway_pod", "prompt", "completion", "finish_reason", "prompt_tokens",
        "completion_tokens", "latency_ms", "status", "cost_usd", "fallback", "fallback_reason",
        "refusal"}
    assert {k: direct[k] for k in direct if k not in ("ts", "time", "latency_ms")} == {
        "team": "batch", "key_alias": "batch-prod", "model": "assistant", "served_by": "assistant",
        "revision": "r-7f3a", "previous_revision": "r-6e2b", "gateway_pod": "llm-gateway-0",
        "prompt": "hi",
        "completion": "Paris.", "finish_reason": "stop", "prompt_tokens": 10,
        "completion_tokens": 5, "status": 200, "cost_usd": 0.02, "fallback": False,
        "fallback_reason": None, "refusal": False}
    assert direct["latency_ms"] == 250.0 or abs(direct["latency_ms"] - 250.0) < 1
    assert (fell_back["served_by"], fell_back["fallback"], fell_back["fallback_reason"],
            fell_back["refusal"], fell_back["cost_usd"], fell_back["previous_revision"]) == (
        "assistant-hosted", True, "timeout", True, 0.2, None)
    refused = json.loads((log_dir / "summarizer" / f"{today}-llm-gateway-0.jsonl").read_text())
    assert (refused["status"], refused["prompt"], refused["completion"]) == (429, "sum it up", None)
    # The quality monitor reads what the gateway wrote.
    sample = logs.recent(log_dir / "assistant", 10)
    assert [(r.prompt, r.completion, r.completion_tokens) for r in sample.records] == [
        ("hi", "Paris.", 5), ("hi", "I'm sorry, but I can't help with that.", 5), ("hi", "ok", 5)]
    assert [logs.is_refusal(r) for r in sample.records] == [False, True, False]


# --- the request log itself (plain Python: in-process) --------------------------------------


def entry(**changes) -> requestlog.Entry:
    base = dict(
        ts=datetime(2026, 12, 1, 23, 59, 59, 500000, tzinfo=UTC).timestamp(), team="batch",
        key_alias="batch-prod", model="assistant", served_by="assistant", revision="r-7f3a",
        pod="llm-gateway-0", prompt="What is the capital of France?", completion="Paris.",
        finish_reason="stop", prompt_tokens=9, completion_tokens=2, latency_ms=123.456,
        status=200, cost_usd=0.0012, fallback=False, fallback_reason=None)
    return requestlog.Entry(**{**base, **changes})


def test_a_line_and_its_redacted_form():
    line = requestlog.line(entry(), redact=False)
    assert line["time"] == "2026-12-01T23:59:59.500Z" and line["ts"] == 1796169599.5
    assert (line["prompt"], line["completion"], line["latency_ms"]) == (
        "What is the capital of France?", "Paris.", 123.5)
    redacted = requestlog.line(entry(), redact=True)
    assert "prompt" not in redacted and "completion" not in redacted
    assert redacted["prompt_sha256"] == sha("What is the capital of France?")
    assert redacted["completion_sha256"] == sha("Paris.")
    assert {k: v for k, v in redacted.items() if not k.endswith("_sha256")} == {
        k: v for k, v in line.items() if k not in ("prompt", "completion")}


def test_refusals_are_the_quality_monitors_refusals():
    assert requestlog.line(entry(completion="I'm sorry, but I can't help with that."), False)["refusal"]
    assert requestlog.line(entry(finish_reason="content_filter"), False)["refusal"]
    assert not requestlog.line(entry(completion="Sure, I can't wait to help: Paris."), False)["refusal"]


def test_lines_go_to_the_models_file_of_their_utc_day_and_pod(tmp_path):
    writer = requestlog.Writer(tmp_path, redact=False)
    before = writer.write(entry())
    after = writer.write(entry(ts=datetime(2026, 12, 2, 0, 0, 1, tzinfo=UTC).timestamp()))
    writer.write(entry(prompt="second"))
    assert before == tmp_path / "assistant" / "2026-12-01-llm-gateway-0.jsonl"
    assert after == tmp_path / "assistant" / "2026-12-02-llm-gateway-0.jsonl"
    assert [json.loads(x)["prompt"] for x in before.read_text().splitlines()] == [
        "What is the capital of France?", "second"]


def test_retention_deletes_our_files_older_than_the_window_and_nothing_else(tmp_path):
    made = []
    for rel in ("assistant/2026-11-30-llm-gateway-0.jsonl", "assistant/2026-12-01-llm-gateway-1.jsonl",
                "assistant/2026-12-31-llm-gateway-0.jsonl", "summarizer/2026-10-02-llm-gateway-0.jsonl",
                "assistant/notes.jsonl", "assistant/2026-13-40-bad.jsonl",
                "reference/assistant.jsonl", "retired-model/2020-01-01-llm-gateway-0.jsonl"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}\n")
        made.append(rel)
    # 30 days on 2026-12-31: 2026-12-01 is the oldest day kept.
    deleted = requestlog.enforce_retention(tmp_path, ["assistant", "summarizer"], 30, date(2026, 12, 31))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in deleted) == [
        "assistant/2026-11-30-llm-gateway-0.jsonl", "summarizer/2026-10-02-llm-gateway-0.jsonl"]
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl"))
    assert left == sorted(set(made) - {"assistant/2026-11-30-llm-gateway-0.jsonl",
                                       "summarizer/2026-10-02-llm-gateway-0.jsonl"})
    # Run again (another replica got there first): nothing left to delete, no error.
    assert requestlog.enforce_retention(tmp_path, ["assistant"], 30, date(2026, 12, 31)) == []


# --- the shadow report's line (components/gateway/shadow.py imports httpx: the gateway venv) --

SHADOW_LINES = """
import json, sys
from components.gateway import requestlog, shadow
from components.gateway.settings import Shadow
entry = requestlog.Entry(**json.loads(sys.argv[1]))
route = Shadow("http://assistant-candidate:8000/v1", 0.05, 30.0, "r-8a9b", 16, None)
result = shadow.Result("ok", "I'm sorry, but I can't help with that.", "stop", 80.04)
body = shadow.request_body("assistant", {
    "messages": [{"role": "user", "content": "hi"}],
    "optional_params": {"stream": True, "stream_options": {"include_usage": True},
                        "temperature": 0.2, "max_tokens": 64, "user": "u-1", "extra_body": {}}})
print(json.dumps({redact: shadow.report_line(entry, route, "r-7f3a", result, 0.0, redact == "yes")
                  for redact in ("yes", "no")} | {"body": body}))
"""


def test_a_shadow_report_line_is_redacted_as_the_request_log_and_a_stream_is_copied_whole():
    fields = {k: v for k, v in vars(entry()).items()}
    done = gateway_run(["-c", SHADOW_LINES, json.dumps(fields)], {})
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    plain, redacted = got["no"], got["yes"]
    assert {k: plain[k] for k in ("prompt", "incumbent", "candidate")} == {
        "prompt": "What is the capital of France?", "incumbent": "Paris.",
        "candidate": "I'm sorry, but I can't help with that."}
    assert {k: redacted[k] for k in ("prompt_sha256", "incumbent_sha256", "candidate_sha256")} == {
        "prompt_sha256": sha("What is the capital of France?"), "incumbent_sha256": sha("Paris."),
        "candidate_sha256": sha("I'm sorry, but I can't help with that.")}
    assert not {"prompt", "incumbent", "candidate"} & set(redacted)
    assert {k: v for k, v in redacted.items() if not k.endswith("_sha256")} == {
        k: v for k, v in plain.items() if k not in ("prompt", "incumbent", "candidate")} == {
        "ts": 1796169599.5, "time": "2026-12-01T23:59:59.500Z", "model": "assistant",
        "revision": "r-8a9b", "incumbent_revision": "r-7f3a", "gateway_pod": "llm-gateway-0",
        "outcome": "ok", "error": None, "score": 0.0, "judge": None,
        "incumbent_refusal": False, "candidate_refusal": True,
        "incumbent_latency_ms": 123.5, "candidate_latency_ms": 80.0}
    # A streamed request goes to the candidate as its non-streamed equivalent, with the
    # user's sampling parameters and nothing that names the user.
    assert got["body"] == {"model": "assistant", "messages": [{"role": "user", "content": "hi"}],
                           "temperature": 0.2, "max_tokens": 64, "stream": False}
