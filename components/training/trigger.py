"""The retraining trigger (`python -m components.training.trigger`), run by the optional
CronJob of a training job with `trigger` (components/kubernetes/training/trigger.py builds it).

It checks the written policy of runbooks/retraining-policy.md against Prometheus, with the
thresholds the CronJob's arguments carry from the spec (training.jobs[].trigger and the
quality monitor's input_drift_threshold):
- drift: the day's mean of `llm:input_drift:mmd2` (the record InputDrift compares) is over
  `--drift-threshold` on at least `--drift-days` of the last `--window-days` days;
- eval: the latest golden-set score the eval gate pushed for the pinned revision
  (`llm_eval_score`) is under `--eval-floor`.
When one holds it acts once: `ticket` (the default) pushes `llm_retraining_due`, which the
RetrainingDue alert turns into a ticket; `train` creates a Job from the suspended CronJob
`train-<job>`, as `kubectl create job --from=cronjob/...` does.

The already-acted state is the `llm_retraining_due` group itself, on the Pushgateway (job
`retrain-trigger`, grouped by training_job), one series per condition held, its value the
episode's first day (UTC midnight, unix seconds). Why there and not a ConfigMap: the ticket
and the state are then one thing and cannot disagree; the default (ticket) path needs no
Kubernetes API access at all, so its pod gets no token; and the stack's Pushgateway already
persists its groups to a volume (components/kubernetes/pushgateway/objects.py,
--persistence.file, every minute). A condition that stops holding ends its episode (its series
is dropped, the alert resolves); one that holds again later is a new episode. No data is not
"stopped holding": a gap in the series leaves the state as it is.

Prints one line: what held (or did not) and what was done. Exit 0 whatever the decision, 1
when Prometheus, the Pushgateway or the Kubernetes API fails, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
from prometheus_client import CollectorRegistry, Gauge, delete_from_gateway, push_to_gateway
from prometheus_client.parser import text_string_to_metric_families

DAY_S = 86400
# The Pushgateway group of the trigger's state and ticket (components/observability/metrics.py
# RETRAINING_DUE and RETRAIN_TRIGGER_JOB name them for the RetrainingDue alert).
PUSH_JOB = "retrain-trigger"
DUE_SERIES = "llm_retraining_due"
# What the trigger reads: the quality monitor's drift record (components/observability/
# rules.py, `llm:input_drift:mmd2` = max of llm_quality_input_mmd2) and the eval gate's
# score (components/lifecycle/evalgate.py push(): job eval-gate, grouped by model, labels
# revision and role).
DRIFT_SERIES = "llm:input_drift:mmd2"
EVAL_SERIES = "llm_eval_score"
EVAL_JOB = "eval-gate"
REASONS = ("drift", "eval")
# Like the eval gate's own comparison: a score equal to the floor in decimal is not under it.
EPSILON = 1e-9
HTTP_TIMEOUT_S = 30
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# The annotation `kubectl create job --from=cronjob/<name>` sets (kubectl pkg/cmd/create/
# create_job.go createJobFromCronJob), and ours naming the conditions that started the Job.
INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"
CONDITIONS_ANNOTATION = "llm-platform.dev/retrain-conditions"
# A Job's name is a label value on its pods (job-name): at most 63 characters.
MAX_JOB_NAME = 63

Series = list[tuple[float, float]]  # (unix seconds, value), oldest first


class TriggerError(Exception):
    """A dependency failed: one line, exit 1."""


@dataclass(frozen=True)
class Policy:
    drift_threshold: float | None  # None: no quality monitor, the drift rule is off
    drift_days: int
    window_days: int
    eval_floor: float | None  # None: no eval gate, the eval rule is off


@dataclass(frozen=True)
class Decision:
    fire: bool  # a new condition is to be acted on
    line: str  # one line: what held and what is to be done
    state: dict[str, float] = field(default_factory=dict)  # reason -> the episode's first day
    new: tuple[str, ...] = ()  # the reasons acted on now


def _num(x: float) -> str:
    return f"{x:.6g}"


def _day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


def drift_holds(drift: Series, policy: Policy) -> tuple[bool | None, str]:
    """Whether drift was over the threshold on enough days, and the line saying so. None:
    the rule is off or there is no data."""
    if policy.drift_threshold is None:
        return None, "drift: no quality monitor"
    if not drift:
        return None, f"drift: no data in the last {policy.window_days} days"
    over = sum(1 for _, v in drift if v > policy.drift_threshold)
    text = (
        f"drift over {_num(policy.drift_threshold)} on {over} of the last "
        f"{policy.window_days} days (policy: at least {policy.drift_days})"
    )
    return over >= policy.drift_days, text


def eval_holds(scores: Series, policy: Policy) -> tuple[bool | None, str]:
    """Whether the latest eval score is under the floor, and the line saying so."""
    if policy.eval_floor is None:
        return None, "eval: no floor"
    if not scores:
        return None, f"eval: no score in the last {policy.window_days} days"
    at, score = scores[-1]
    under = score + EPSILON < policy.eval_floor
    word = "under" if under else "not under"
    floor = _num(policy.eval_floor)
    return under, f"eval score {_num(score)} of {_day(at)} {word} the floor {floor}"


def decide(
    drift: Series, scores: Series, policy: Policy, acted: dict[str, float], now: float
) -> Decision:
    """Pure: fire when a rule holds that was not already acted on in its episode. A rule
    that does not hold ends its episode; one with no data keeps the state it had."""
    today = float(int(now // DAY_S) * DAY_S)
    results = {"drift": drift_holds(drift, policy), "eval": eval_holds(scores, policy)}
    state: dict[str, float] = {}
    new: list[str] = []
    for reason, (holds, _) in results.items():
        if reason in acted and holds is not False:
            state[reason] = acted[reason]  # the episode goes on, or there is no data
        elif holds:
            state[reason] = today
            new.append(reason)
    texts = "; ".join(text for _, text in results.values())
    if all(holds is None for holds, _ in results.values()):
        return Decision(False, f"no data: {texts}; nothing to do", state)
    if new:
        return Decision(True, f"fire ({', '.join(new)}): {texts}", state, tuple(new))
    held = [r for r in state if results[r][0]]
    if held:
        since = ", ".join(f"{r} since {_day(state[r])}" for r in held)
        return Decision(False, f"already acted ({since}): {texts}; nothing to do", state)
    return Decision(False, f"no fire: {texts}", state)


# -- Prometheus ---------------------------------------------------------------------------


def _selector(**labels: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def queries(namespace: str, model: str, revision: str | None) -> dict[str, str]:
    """The daily series: each step is the last 24 h (`[1d]`) before it."""
    out = {
        "drift": f"max(avg_over_time({DRIFT_SERIES}"
        f"{{{_selector(namespace=namespace, model=model)}}}[1d]))"
    }
    if revision is not None:
        sel = _selector(namespace=namespace, job=EVAL_JOB, model=model, revision=revision)
        out["eval"] = f"min(last_over_time({EVAL_SERIES}{{{sel}}}[1d]))"
    return out


def query_range(prometheus: str, query: str, now: float, days: int) -> Series:
    """`days` daily points ending at `now`, from Prometheus' HTTP API (/api/v1/query_range:
    start, end, step; a matrix of [unix time, "value"] pairs)."""
    params = {"query": query, "start": now - (days - 1) * DAY_S, "end": now, "step": DAY_S}
    url = f"{prometheus.rstrip('/')}/api/v1/query_range"
    try:
        resp = requests.get(url, params=params, timeout=HTTP_TIMEOUT_S)
        body = resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise TriggerError(f"Prometheus at {prometheus}: {exc}") from None
    if not isinstance(body, dict):
        raise TriggerError(f"Prometheus at {prometheus} answered {resp.status_code}: not JSON "
                           "of its API")
    if resp.status_code != 200 or body.get("status") != "success":
        raise TriggerError(f"Prometheus at {prometheus} answered {resp.status_code}: "
                           f"{body.get('error', 'no error text')}")
    try:
        result = body["data"]["result"]
        points = sorted({float(t): float(v) for r in result for t, v in r["values"]}.items())
    except (KeyError, TypeError, ValueError) as exc:
        raise TriggerError(f"Prometheus at {prometheus}: not a matrix ({exc})") from None
    return [(t, v) for t, v in points if v == v]  # NaN: no value that day


# -- the state on the Pushgateway -----------------------------------------------------------


def read_state(pushgateway: str, training_job: str) -> dict[str, float]:
    """The conditions already acted on: this trigger's llm_retraining_due series on the
    Pushgateway's own /metrics (exact, where Prometheus would lag by a scrape)."""
    try:
        resp = requests.get(f"{pushgateway.rstrip('/')}/metrics", timeout=HTTP_TIMEOUT_S)
        resp.raise_for_status()
        families = list(text_string_to_metric_families(resp.text))
    except (requests.RequestException, ValueError) as exc:
        raise TriggerError(f"Pushgateway at {pushgateway}: {exc}") from None
    return {
        s.labels["reason"]: s.value
        for f in families if f.name == DUE_SERIES
        for s in f.samples
        if s.labels.get("job") == PUSH_JOB and s.labels.get("training_job") == training_job
        and s.labels.get("reason") in REASONS
    }


def write_state(pushgateway: str, training_job: str, model: str, action: str,
                state: dict[str, float]) -> None:
    """Replace the group with `state`; delete it when nothing holds."""
    key = {"training_job": training_job}
    try:
        if not state:
            delete_from_gateway(pushgateway, job=PUSH_JOB, grouping_key=key,
                                timeout=HTTP_TIMEOUT_S)
            return
        registry = CollectorRegistry()
        due = Gauge(DUE_SERIES, "The first day (UTC, unix seconds) of a retraining condition "
                    "the trigger acted on", ["model", "reason", "action"], registry=registry)
        for reason, since in sorted(state.items()):
            due.labels(model=model, reason=reason, action=action).set(since)
        push_to_gateway(pushgateway, job=PUSH_JOB, registry=registry, grouping_key=key,
                        timeout=HTTP_TIMEOUT_S)
    except OSError as exc:  # urllib's URLError and HTTPError are OSErrors
        raise TriggerError(f"Pushgateway at {pushgateway}: {exc}") from None


# -- the train action: a Job from the suspended CronJob --------------------------------------


@dataclass(frozen=True)
class KubeApi:
    """The in-cluster API: its URL from the environment Kubernetes sets in every pod, the
    service account's token and CA from their standard mount."""

    url: str
    token: str
    ca: str | bool
    namespace: str

    @classmethod
    def in_cluster(cls, sa_dir: str, url: str | None) -> KubeApi:
        base = Path(sa_dir)
        if url is None:
            host, port = (os.environ.get(k) for k in ("KUBERNETES_SERVICE_HOST",
                                                      "KUBERNETES_SERVICE_PORT"))
            if not host or not port:
                raise TriggerError("not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset")
            url = f"https://{host}:{port}"
        try:
            token = (base / "token").read_text().strip()
            namespace = (base / "namespace").read_text().strip()
        except OSError as exc:
            raise TriggerError(f"no service-account token: {exc}") from None
        ca = base / "ca.crt"
        return cls(url.rstrip("/"), token, str(ca) if ca.is_file() else True, namespace)

    def call(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        try:
            return requests.request(
                method, f"{self.url}{path}", json=body, verify=self.ca,
                headers={"Authorization": f"Bearer {self.token}"}, timeout=HTTP_TIMEOUT_S,
            )
        except requests.RequestException as exc:
            raise TriggerError(f"Kubernetes API at {self.url}: {exc}") from None


def retrain_job_name(cronjob: str, since: float) -> str:
    """One name per CronJob and episode day, so a second create of the same condition is
    refused by the API (409) even if the state push after the first was lost."""
    name = f"{cronjob}-retrain-{_day(since).replace('-', '')}"
    if len(name) <= MAX_JOB_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:MAX_JOB_NAME - 9].rstrip('-')}-{digest}"


def job_from_cronjob(cronjob: dict, name: str, conditions: str) -> dict:
    """What `kubectl create job --from=cronjob/<name>` creates (kubectl pkg/cmd/create/
    create_job.go createJobFromCronJob): the template's spec and labels, its annotations
    plus instantiate=manual, owned by the CronJob."""
    template = cronjob["spec"]["jobTemplate"]
    meta = template.get("metadata") or {}
    annotations = {INSTANTIATE_ANNOTATION: "manual", **(meta.get("annotations") or {}),
                   CONDITIONS_ANNOTATION: conditions}
    owner = {"apiVersion": "batch/v1", "kind": "CronJob",
             "name": cronjob["metadata"]["name"], "uid": cronjob["metadata"]["uid"]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": annotations,
                     "labels": meta.get("labels") or {}, "ownerReferences": [owner]},
        "spec": template["spec"],
    }


def start_training(api: KubeApi, cronjob: str, since: float, conditions: str) -> str:
    """Create the Job; an existing one of the same name is the same condition, acted on."""
    got = api.call("GET", f"/apis/batch/v1/namespaces/{api.namespace}/cronjobs/{cronjob}")
    if got.status_code != 200:
        raise TriggerError(f"cannot read CronJob {cronjob}: {got.status_code} {got.text[:200]}")
    name = retrain_job_name(cronjob, since)
    try:
        job = job_from_cronjob(got.json(), name, conditions)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TriggerError(f"CronJob {cronjob} is not one the API would give: {exc!r}") from None
    made = api.call("POST", f"/apis/batch/v1/namespaces/{api.namespace}/jobs", job)
    if made.status_code == 409:
        return f"Job {name} exists already"
    if made.status_code not in (200, 201):
        raise TriggerError(f"cannot create Job {name}: {made.status_code} {made.text[:200]}")
    return f"started Job {name}"


# -- the command ------------------------------------------------------------------------------


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 2:
        raise argparse.ArgumentTypeError(f"{text} is out of range")
    return value


def days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 30:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days from 1 to 30")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m components.training.trigger",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--training-job", required=True, help="training.jobs[].name")
    p.add_argument("--model", required=True, help="trigger.model")
    p.add_argument("--namespace", required=True, help="where the model's series come from")
    p.add_argument("--prometheus", required=True, help="e.g. http://prometheus:9090")
    p.add_argument("--pushgateway", required=True, help="e.g. http://pushgateway:9091")
    p.add_argument("--drift-threshold", type=fraction,
                   help="observability.quality.input_drift_threshold; omitted: no drift rule")
    p.add_argument("--drift-days", type=days, default=5, help="trigger.drift_days")
    p.add_argument("--window-days", type=days, default=7, help="trigger.window_days")
    p.add_argument("--eval-floor", type=fraction,
                   help="trigger.eval_floor (default eval.min_score); omitted: no eval rule")
    p.add_argument("--revision", help="models[].revision, whose eval score is read")
    p.add_argument("--action", choices=("ticket", "train"), default="ticket")
    p.add_argument("--cronjob", help="with --action train: the suspended CronJob train-<job>")
    p.add_argument("--kube-api", help="the API's URL; default the in-cluster one")
    p.add_argument("--service-account-dir", default=SERVICE_ACCOUNT_DIR)
    p.add_argument("--now", type=float, help="unix seconds; default the clock")
    return p


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> Policy:
    if args.drift_days > args.window_days:
        p.error(f"--drift-days {args.drift_days} is more than --window-days {args.window_days}")
    if args.eval_floor is not None and args.eval_floor > 1:
        p.error(f"--eval-floor {args.eval_floor} is over 1")
    if args.eval_floor is not None and not args.revision:
        p.error("--eval-floor needs --revision, the pinned revision whose score is read")
    if args.action == "train" and not args.cronjob:
        p.error("--action train needs --cronjob, the suspended CronJob to start")
    return Policy(args.drift_threshold, args.drift_days, args.window_days, args.eval_floor)


def act(args: argparse.Namespace, decision: Decision) -> str:
    """Start the Job (train) before the state is written, so a lost push cannot hide a Job
    that was never made; the ticket is the state itself."""
    if not decision.fire:
        return ""
    if args.action == "ticket":
        return "; ticket filed (llm_retraining_due, alert RetrainingDue)"
    api = KubeApi.in_cluster(args.service_account_dir, args.kube_api)
    since = min(decision.state[r] for r in decision.new)
    return "; " + start_training(api, args.cronjob, since, ",".join(decision.new))


def run(args: argparse.Namespace, policy: Policy) -> str:
    now = time.time() if args.now is None else args.now
    found = {
        reason: query_range(args.prometheus, q, now, policy.window_days)
        for reason, q in queries(args.namespace, args.model, args.revision).items()
    }
    acted = read_state(args.pushgateway, args.training_job)
    decision = decide(found.get("drift", []), found.get("eval", []), policy, acted, now)
    done = act(args, decision)
    if decision.state != acted:
        write_state(args.pushgateway, args.training_job, args.model, args.action,
                    decision.state)
    return f"{args.model}: {decision.line}{done}"


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    policy = check_args(p, args)
    try:
        print(run(args, policy))
    except TriggerError as exc:
        print(f"error: {args.model}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
