"""The retraining trigger against recorded series: `python -m components.training.trigger` on
the lifecycle venv (LIFECYCLE_PYTHON, as in the model-tools image), in a process of its own,
reading Prometheus' query_range answers from a local HTTP server and keeping its state on a
real Pushgateway; for `action: train`, creating the Job through a local Kubernetes API. And
the CronJob and RBAC objects it runs with, validated against Kubernetes' schemas."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import kubernetes_validate
import pytest
from conftest import ROOT, serve_http, stack_spec
from lifecycle_run import lifecycle_python
from pushgateway import running
from test_database_backups import run as run_pulumi

from components.kubernetes.pushgateway.objects import service_url
from components.kubernetes.training import trigger as builder
from components.observability import metrics
from components.plan.manifests import is_object, to_object
from components.spec import Quality
from components.training import trigger

DAY = 86400
# 06:00 UTC on 2026-12-02, the trigger's default schedule; the episode's day is its midnight.
NOW = datetime(2026, 12, 2, 6, tzinfo=UTC).timestamp()
DEC_2 = datetime(2026, 12, 2, tzinfo=UTC).timestamp()
DEC_3 = DEC_2 + DAY
NS = "llm-prod"
REVISION = "a" * 40
THRESHOLD = 0.02
FLOOR = 0.8
FIVE_OF_SEVEN = [0.031, 0.012, 0.025, 0.030, 0.021, 0.019, 0.042]  # over 0.02 on days 1,3,4,5,7
# Over on 4 days only: day 2 sits exactly on the threshold, which is not over it.
FOUR_OF_SEVEN = [0.031, 0.020, 0.025, 0.030, 0.019, 0.011, 0.042]
QUIET = [0.004, 0.003, 0.005, 0.002, 0.004, 0.003, 0.006]
GOOD_EVAL = [0.86] * 7


class Recorded:
    """What the Prometheus server answers: per rule, one value a day (None: no sample that
    day), oldest first, and the requests it got."""

    def __init__(self) -> None:
        self.series: dict[str, list[float | None]] = {"drift": [], "eval": []}
        self.requests: list[dict[str, str]] = []


def matrix(params: dict[str, str], values: list[float | None], labels: dict) -> dict:
    """A range query's answer as Prometheus' HTTP API gives it (docs: querying/api, "Range
    queries", "Range vectors"): status success, resultType matrix, each series its metric's
    labels and [unix time, "value as a string"] pairs at start, start + step, ... <= end;
    no series at all when nothing matched."""
    start, end, step = (float(params[k]) for k in ("start", "end", "step"))
    times = [start + i * step for i in range(int((end - start) // step) + 1)]
    pairs = [[t, repr(v)] for t, v in zip(times, values, strict=False) if v is not None]
    result = [{"metric": labels, "values": pairs}] if pairs else []
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def prometheus_handler(rec: Recorded) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urllib.parse.urlsplit(self.path)
            params = dict(urllib.parse.parse_qsl(url.query))
            rec.requests.append(params)
            if url.path != "/api/v1/query_range":
                self.send_error(404)
                return
            rule = "drift" if metrics.Q_INPUT_MMD2 in params["query"] or \
                "llm:input_drift:mmd2" in params["query"] else "eval"
            body = json.dumps(matrix(params, rec.series[rule], {"namespace": NS})).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def prom() -> Iterator[tuple[str, Recorded]]:
    rec = Recorded()
    with serve_http(prometheus_handler(rec)) as url:
        yield url, rec


@pytest.fixture
def gateway(tmp_path) -> Iterator[str]:
    with running(tmp_path) as url:
        yield url


def run_trigger(prom_url: str, gateway_url: str, *extra: str, now: float = NOW,
                env: dict | None = None) -> subprocess.CompletedProcess[str]:
    args = [
        "--training-job", "support-ft", "--model", "assistant", "--namespace", NS,
        "--prometheus", prom_url, "--pushgateway", gateway_url,
        "--drift-threshold", str(THRESHOLD), "--drift-days", "5", "--window-days", "7",
        "--eval-floor", str(FLOOR), "--revision", REVISION, "--now", str(now), *extra,
    ]  # fmt: skip
    return subprocess.run(
        [str(lifecycle_python()), "-m", "components.training.trigger", *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def due(gateway_url: str) -> dict[str, tuple[float, dict[str, str]]]:
    """The trigger's llm_retraining_due series on the Pushgateway: reason -> (value, labels)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(f"{gateway_url}/metrics", timeout=10).read().decode()
    return {
        s.labels["reason"]: (s.value, s.labels)
        for f in text_string_to_metric_families(text) if f.name == "llm_retraining_due"
        for s in f.samples
    }


# -- the policy ----------------------------------------------------------------------------


def test_drift_over_the_threshold_on_5_of_7_days_files_one_ticket(prom, gateway):
    url, rec = prom
    rec.series.update(drift=FIVE_OF_SEVEN, eval=GOOD_EVAL)
    proc = run_trigger(url, gateway)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "assistant: fire (drift): drift over 0.02 on 5 of the last 7 days (policy: at least 5); "
        "eval score 0.86 of 2026-12-02 not under the floor 0.8; "
        "ticket filed (llm_retraining_due, alert RetrainingDue)\n"
    )
    value, labels = due(gateway)["drift"]
    assert value == DEC_2  # the episode's first day
    assert {k: labels[k] for k in ("job", "training_job", "model", "reason", "action")} == {
        "job": "retrain-trigger", "training_job": "support-ft", "model": "assistant",
        "reason": "drift", "action": "ticket"}
    # seven daily points ending now: each the mean of the 24 hours before it
    drift_q = next(r for r in rec.requests if "input_drift" in r["query"])
    assert (float(drift_q["end"]) - float(drift_q["start"]), drift_q["step"]) == (6 * DAY, "86400")
    assert drift_q["query"] == (
        f'max(avg_over_time(llm:input_drift:mmd2{{namespace="{NS}",model="assistant"}}[1d]))')


def test_drift_on_4_of_7_days_is_a_near_miss(prom, gateway):
    url, rec = prom
    rec.series.update(drift=FOUR_OF_SEVEN, eval=GOOD_EVAL)
    proc = run_trigger(url, gateway)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(
        "assistant: no fire: drift over 0.02 on 4 of the last 7 days (policy: at least 5)")
    assert due(gateway) == {}


def test_a_day_without_data_does_not_count_as_drift(prom, gateway):
    url, rec = prom
    rec.series.update(drift=[0.03, None, 0.03, 0.03, None, 0.03, 0.03], eval=GOOD_EVAL)
    proc = run_trigger(url, gateway)
    assert "drift over 0.02 on 5 of the last 7 days" in proc.stdout
    rec.series["drift"] = [0.03, None, 0.03, None, None, 0.03, 0.03]
    assert "on 4 of the last 7 days" in run_trigger(url, gateway, now=NOW + DAY).stdout


@pytest.mark.parametrize(("scores", "fires"), [
    ([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.79], True),   # the latest score is under the floor
    ([0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.8], False),   # at the floor, whatever came before
])
def test_the_latest_eval_score_under_the_floor_fires_and_at_it_does_not(
        prom, gateway, scores, fires):
    url, rec = prom
    rec.series.update(drift=QUIET, eval=scores)
    proc = run_trigger(url, gateway)
    assert proc.returncode == 0, proc.stderr
    word = "under" if fires else "not under"
    assert f"eval score {scores[-1]} of 2026-12-02 {word} the floor 0.8" in proc.stdout
    assert proc.stdout.startswith("assistant: fire (eval)" if fires else "assistant: no fire")
    assert set(due(gateway)) == ({"eval"} if fires else set())
    eval_q = next(r for r in rec.requests if "llm_eval_score" in r["query"])
    assert eval_q["query"] == (
        'min(last_over_time(llm_eval_score{namespace="llm-prod",job="eval-gate",'
        f'model="assistant",revision="{REVISION}"}}[1d]))')


def test_one_condition_is_acted_on_once_until_it_ends(prom, gateway):
    url, rec = prom
    rec.series.update(drift=FIVE_OF_SEVEN, eval=GOOD_EVAL)
    assert run_trigger(url, gateway).stdout.startswith("assistant: fire (drift)")
    again = run_trigger(url, gateway)
    assert again.stdout.startswith("assistant: already acted (drift since 2026-12-02)")
    assert again.stdout.rstrip().endswith("nothing to do")
    # the next day it still holds: the same episode, the same first day
    rec.series["drift"] = FIVE_OF_SEVEN[1:] + [0.05]
    later = run_trigger(url, gateway, now=NOW + DAY)
    assert later.stdout.startswith("assistant: already acted (drift since 2026-12-02)")
    assert due(gateway)["drift"][0] == DEC_2
    # it stops holding: the episode ends, the ticket's series goes
    rec.series["drift"] = FOUR_OF_SEVEN
    assert run_trigger(url, gateway, now=NOW + DAY).stdout.startswith("assistant: no fire")
    assert due(gateway) == {}
    # and holds again: a new episode, a new ticket
    rec.series["drift"] = FIVE_OF_SEVEN
    assert run_trigger(url, gateway, now=NOW + 2 * DAY).stdout.startswith("assistant: fire")
    assert due(gateway)["drift"][0] == DEC_3 + DAY


def test_no_data_neither_fires_nor_ends_an_episode(prom, gateway):
    url, rec = prom
    rec.series.update(drift=FIVE_OF_SEVEN, eval=GOOD_EVAL)
    assert run_trigger(url, gateway).stdout.startswith("assistant: fire (drift)")
    rec.series.update(drift=[], eval=[])
    proc = run_trigger(url, gateway, now=NOW + DAY)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == (
        "assistant: no data: drift: no data in the last 7 days; eval: no score in the last 7 "
        "days; nothing to do\n")
    assert due(gateway)["drift"][0] == DEC_2


def test_an_unreachable_prometheus_is_one_line_and_exit_1(gateway):
    proc = run_trigger("http://127.0.0.1:9", gateway)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: assistant: Prometheus at http://127.0.0.1:9: ")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_bad_thresholds_are_one_line_and_exit_2(prom, gateway):
    url, _ = prom
    proc = run_trigger(url, gateway, "--drift-days", "8")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].endswith("--drift-days 8 is more than --window-days 7")
    assert "Traceback" not in proc.stderr


# -- action train -----------------------------------------------------------------------------

CRONJOB = {
    "apiVersion": "batch/v1", "kind": "CronJob",
    "metadata": {"name": "train-support-ft", "namespace": NS, "uid": "5f1d-cj"},
    "spec": {"suspend": True, "schedule": "0 0 1 1 *", "jobTemplate": {
        "metadata": {"labels": {"llm-platform.dev/training-job": "support-ft"},
                     "annotations": {"llm-platform.dev/run": "0123456789ab"}},
        "spec": {"backoffLimit": 3, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "trainer", "image": "t@sha256:0"}],
        }}},
    }},
}


def kube_handler(created: list[dict]) -> type[BaseHTTPRequestHandler]:
    """The two calls the trigger makes, as the API server answers them: the CronJob, and a
    Job create (201, or 409 AlreadyExists for a name already taken); a wrong token is 401."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: dict) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def do_GET(self) -> None:  # noqa: N802
            if self.headers.get("Authorization") != "Bearer sa-token":
                return self._send(401, {"kind": "Status", "code": 401})
            if self.path == f"/apis/batch/v1/namespaces/{NS}/cronjobs/train-support-ft":
                return self._send(200, CRONJOB)
            return self._send(404, {"kind": "Status", "code": 404})

        def do_POST(self) -> None:  # noqa: N802
            job = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if any(j["metadata"]["name"] == job["metadata"]["name"] for j in created):
                return self._send(409, {"kind": "Status", "reason": "AlreadyExists"})
            created.append(job)
            return self._send(201, job)

        def log_message(self, *args) -> None:
            pass

    return Handler


def test_train_starts_one_job_from_the_suspended_cronjob(prom, gateway, tmp_path):
    url, rec = prom
    rec.series.update(drift=FIVE_OF_SEVEN, eval=GOOD_EVAL)
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token\n")
    (sa / "namespace").write_text(NS)
    created: list[dict] = []
    with serve_http(kube_handler(created)) as api:
        train = ("--action", "train", "--cronjob", "train-support-ft", "--kube-api", api,
                 "--service-account-dir", str(sa))
        first = run_trigger(url, gateway, *train)
        assert first.returncode == 0, first.stderr
        assert first.stdout.rstrip().endswith("; started Job train-support-ft-retrain-20261202")
        assert run_trigger(url, gateway, *train).stdout.startswith("assistant: already acted")
        # the state lost (a Pushgateway wiped): the API refuses the same condition's Job
        urllib.request.urlopen(urllib.request.Request(
            f"{gateway}/metrics/job/retrain-trigger/training_job/support-ft", method="DELETE"))
        lost = run_trigger(url, gateway, *train)
        assert lost.stdout.rstrip().endswith("Job train-support-ft-retrain-20261202 exists already")
    (job,) = created
    assert job["spec"] == CRONJOB["spec"]["jobTemplate"]["spec"]
    assert job["metadata"]["labels"] == {"llm-platform.dev/training-job": "support-ft"}
    assert job["metadata"]["annotations"] == {
        "cronjob.kubernetes.io/instantiate": "manual", "llm-platform.dev/run": "0123456789ab",
        "llm-platform.dev/retrain-conditions": "drift"}
    assert job["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "CronJob", "name": "train-support-ft", "uid": "5f1d-cj"}]
    assert due(gateway)["drift"][1]["action"] == "train"


# -- the pure decision ------------------------------------------------------------------------


def test_the_decision_keeps_an_episode_through_a_gap_and_ends_it_on_a_clear_day():
    policy = trigger.Policy(THRESHOLD, 5, 7, FLOOR)
    drift = [(NOW - (6 - i) * DAY, v) for i, v in enumerate(FIVE_OF_SEVEN)]
    acted = {"drift": DEC_2}
    assert trigger.decide([], [], policy, acted, NOW + DAY).state == acted
    quiet = [(t, 0.001) for t, _ in drift]
    assert trigger.decide(quiet, [], policy, acted, NOW + DAY).state == {}
    assert trigger.decide(drift, [], trigger.Policy(None, 5, 7, None), {}, NOW).line == (
        "no data: drift: no quality monitor; eval: no floor; nothing to do")


# -- the CronJob and its RBAC -----------------------------------------------------------------


def spec_for(action: str) -> builder.TriggerSpec:
    return builder.TriggerSpec(
        job="support-ft", model="assistant", revision=REVISION, schedule="0 6 * * *",
        drift_threshold=0.02, drift_days=5, window_days=7, eval_floor=0.8, action=action,
        series_namespace=NS, prometheus_url="http://prometheus.monitoring.svc:9090",
        pushgateway_url=service_url(NS),
    )


def objects_of(action: str) -> list[dict]:
    def build() -> None:
        made = builder.trigger_objects("llm-train", spec_for(action), {"team": "ml"})
        for suffix, cls, args in made.resources:
            cls(f"support-ft-{suffix}", args)

    records, _ = run_pulumi(build)
    return [to_object(r) for r in records if is_object(r)]


@pytest.mark.parametrize("action", ["ticket", "train"])
def test_the_trigger_objects_validate_against_kubernetes(action):
    objs = objects_of(action)
    kinds = sorted(o["kind"] for o in objs)
    expected = ["CronJob", "ServiceAccount"] + (["Role", "RoleBinding"] if action == "train" else [])
    assert kinds == sorted(expected)
    for obj in objs:
        kubernetes_validate.validate(obj, "1.30.0", strict=True)  # raises on any error


def test_the_cronjob_carries_the_specs_thresholds_and_only_train_gets_a_token():
    by_kind = {o["kind"]: o for o in objects_of("train")}
    cron = by_kind["CronJob"]
    assert cron["metadata"]["name"] == "retrain-support-ft"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["command"] == ["python", "-m", "components.training.trigger"]
    assert c["args"] == [
        "--training-job", "support-ft", "--model", "assistant", "--namespace", NS,
        "--prometheus", "http://prometheus.monitoring.svc:9090",
        "--pushgateway", f"http://pushgateway.{NS}.svc:9091",
        "--drift-days", "5", "--window-days", "7", "--action", "train",
        "--drift-threshold", "0.02", "--eval-floor", "0.8", "--revision", REVISION,
        "--cronjob", "train-support-ft",
    ]  # fmt: skip
    assert c["securityContext"]["runAsNonRoot"] and c["securityContext"]["readOnlyRootFilesystem"]
    assert pod["automountServiceAccountToken"] is True
    assert by_kind["Role"]["rules"] == [
        {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["get"],
         "resourceNames": ["train-support-ft"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]},
    ]
    ticket = {o["kind"]: o for o in objects_of("ticket")}["CronJob"]
    assert ticket["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "automountServiceAccountToken"] is False


def test_the_pushed_series_is_the_one_the_alert_reads():
    assert (trigger.PUSH_JOB, trigger.DUE_SERIES) == (
        metrics.RETRAIN_TRIGGER_JOB, metrics.RETRAINING_DUE)


def test_the_trigger_runs_in_the_model_tools_venv_without_pulumi_or_the_spec():
    code = ("import sys, components.training.trigger; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pydantic') "
            "or m.startswith('components.spec')))")
    out = subprocess.run([str(lifecycle_python()), "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def training_job(trigger_block: dict):
    from components.spec.types import TrainingJob

    return TrainingJob.model_validate({
        "name": "support-ft", "image": "ghcr.io/acme/trainer@sha256:" + "0" * 64,
        "command": ["python", "-m", "trainer"], "model": "assistant",
        "base": {"hf_id": "meta-llama/Llama-3.1-8B-Instruct", "revision": "b" * 40},
        "dataset": {"uri": "s3://acme-datasets/support", "version": "2026-11-30"},
        "pool": "train", "expected_hours": 6, "trigger": trigger_block,
    })


def args_of(stack: str, trigger_block: dict) -> dict[str, str]:
    from components.spec import load_spec

    spec = load_spec(stack_spec(stack)).spec
    t = builder.trigger_spec(spec, training_job(trigger_block))
    argv = builder.trigger_args(t)
    return dict(zip(argv[::2], argv[1::2], strict=True))


def test_the_thresholds_come_from_the_spec_fields_the_policy_names():
    # local: the quality monitor's input_drift_threshold (default 0.02); assistant has no
    # eval gate, so no floor unless the trigger states one
    local = args_of("local", {"model": "assistant", "drift_days": 4, "window_days": 6})
    assert (local["--drift-threshold"], local["--drift-days"], local["--window-days"]) == (
        "0.02", "4", "6")
    assert "--eval-floor" not in local and local["--action"] == "ticket"
    assert local["--namespace"] == "llm-local"
    floor = args_of("local", {"model": "assistant", "eval_floor": 0.75, "action": "train"})
    assert (floor["--eval-floor"], floor["--revision"], floor["--cronjob"]) == (
        "0.75", "0e9e39f249a16976918f6564b8830bc894c89659", "train-support-ft")
    # onprem-mixed: no quality monitor (no drift rule); support-bot's eval.min_score 0.8
    mixed = args_of("onprem-mixed", {"model": "support-bot"})
    assert "--drift-threshold" not in mixed and mixed["--eval-floor"] == "0.8"
    assert mixed["--pushgateway"] == "http://pushgateway.llm-mixed.svc:9091"


def test_checkov_passes_the_trigger_objects_with_reasoned_skips_only(tmp_path):
    """Checkov's Kubernetes checks on both actions' objects: nothing fails, and the only
    skips are the annotated ones (the tag-pinned tools image; train's API token)."""
    import yaml
    from test_plan import _checkov

    for action in ("ticket", "train"):
        for obj in objects_of(action):
            (tmp_path / f"{action}-{obj['kind'].lower()}.yaml").write_text(yaml.safe_dump(obj))
    proc = subprocess.run(
        [_checkov(), "-d", str(tmp_path), "--framework", "kubernetes", "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    report = json.loads(proc.stdout)
    results = report["results"] if isinstance(report, dict) else report[0]["results"]
    assert [(c["check_id"], c["file_path"]) for c in results["failed_checks"]] == []
    skipped = sorted((c["file_path"].lstrip("/"), c["check_id"]) for c in results["skipped_checks"])
    digest = [("ticket-cronjob.yaml", "CKV_K8S_43"), ("train-cronjob.yaml", "CKV_K8S_43")]
    digest = digest if "@sha256:" not in builder.TOOLS_IMAGE else []
    assert skipped == sorted(digest + [("train-cronjob.yaml", "CKV_K8S_38")])


def test_a_prometheus_error_is_its_own_text_on_one_line(gateway):
    """Prometheus' answer to a query it cannot run (docs: querying/api, "Format overview"):
    400 with status error, errorType and error."""

    class Refusing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = {"status": "error", "errorType": "bad_data",
                    "error": 'invalid parameter "query": 1:1: parse error'}
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args) -> None:
            pass

    with serve_http(Refusing) as url:
        proc = run_trigger(url, gateway)
    assert proc.returncode == 1
    assert proc.stderr == (f"error: assistant: Prometheus at {url} answered 400: invalid "
                           'parameter "query": 1:1: parse error\n')
    assert due(gateway) == {}


def test_the_hybrid_stacks_trigger_runs_beside_prometheus_on_prem(planned):
    """The hybrid's trainer runs on the cloud's cluster, its trigger on the serving one: the
    trigger's CronJob is in the on-prem namespace, with the thresholds of the stack's spec."""
    plan = planned["hybrid"].plan
    crons = [r for r in plan["resources"] if r["type"] == "kubernetes:batch/v1:CronJob"
             and "RetrainingTriggers" in r["urn"]]
    (cron,) = crons
    spec = stack_spec("hybrid")
    trig = spec["training"]["jobs"][0]["trigger"]
    assert cron["inputs"]["metadata"]["namespace"] == "llm-hybrid"
    args = cron["inputs"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    threshold = spec["observability"]["quality"].get(
        "input_drift_threshold", Quality.model_fields["input_drift_threshold"].default)
    flags = dict(zip(args[::2], args[1::2], strict=False))
    assert flags["--drift-days"] == str(trig.get("drift_days", 5))
    assert float(flags["--drift-threshold"]) == threshold
    assert flags["--action"] == "ticket"
    # The training Job itself is on the cloud's cluster, whose namespace the jobs' own.
    jobs = [r for r in plan["resources"] if r["type"] == "kubernetes:batch/v1:Job"
            and "TrainingJobs" in r["urn"]]
    assert len(jobs) == 1 and "hybrid-aws-training" in jobs[0]["urn"]
