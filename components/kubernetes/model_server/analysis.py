"""The AnalysisTemplates a model's Rollout runs: `<model>-eval-gate` (a Job, before any
traffic), `<model>-shadow` (the gateway's shadow series, while the candidate takes only
copies) and `<model>-canary-analysis` (canary against stable at every traffic step: Prometheus
queries and a refusal-rate Job). Any failed metric fails its AnalysisRun, which aborts the
Rollout: Argo scales the canary down and the stable ReplicaSet serves everything again.

Pure builders: dicts of AnalysisTemplateSpec (argo-rollouts v1.9.0
pkg/apis/rollouts/v1alpha1/analysis_types.go: Args/Argument, Metric, MetricProvider with
PrometheusMetric and JobMetric), holding Pulumi Args for the Job spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_kubernetes as k8s

from components import conventions
from components.engines import HTTP_PORT
from components.kubernetes import pods
from components.kubernetes.facts import MODEL_PUBLISHER
from components.kubernetes.model_server import network
from components.kubernetes.model_server import rollout as r
from components.kubernetes.model_server.args import (
    AnalysisRuntime,
    EvalGate,
    ModelServerArgs,
    ModelSync,
    RolloutArgs,
)
from components.kubernetes.model_server.weights import identity_volumes, store_claim
from components.observability.analysis import PromMetric

core = k8s.core.v1

# The analysis Jobs' pods: the model server's NetworkPolicy admits this component on the
# API port (network.network_policy_spec).
COMPONENT = network.ANALYSIS_COMPONENT
REFUSAL_RATE = "refusal-rate"
# A gate that has not answered in an hour is stuck: the Job fails, the gate fails closed.
GATE_DEADLINE_S = 3600
# The refusal comparison replays the golden set's prompts on both sides; an hour bounds it.
COMPARE_DEADLINE_S = 3600
# The refusal comparison replays the golden set less often than the Prometheus metrics look
# (every 5 minutes): each replay costs GPU time on both sides.
COMPARE_INTERVAL = "30m"
# The judge's written rubric: a ConfigMap `<model>-eval-rubric` mounted as a file (the
# gate's --rubric-file).
RUBRIC = "eval-rubric"
RUBRIC_FILE = "rubric.txt"
RUBRIC_DIR = "/etc/eval-rubric"
# The stable pods' revision where the stack names none (a first rollout).
UNKNOWN_REVISION = "unknown"


@dataclass(frozen=True)
class JobContext:
    """What every analysis Job of one model runs with."""

    model: str
    labels: dict[str, str]
    runtime: AnalysisRuntime
    incumbent_revision: str
    # The store the gate reads its golden set from and writes its report to, as the
    # publisher; None without a store.
    sync: ModelSync | None


def context(args: ModelServerArgs, runtime: AnalysisRuntime) -> JobContext:
    version = args.version
    return JobContext(
        model=args.name,
        labels=args.labels,
        runtime=runtime,
        incumbent_revision=(version and version.previous_revision) or UNKNOWN_REVISION,
        sync=version.sync if version is not None else None,
    )


def service_url(service: str, api_path: str) -> str:
    """A Service of the model's namespace, which is the Job's (the AnalysisRun's Jobs are
    created in the Rollout's namespace)."""
    return f"http://{service}:{HTTP_PORT}{api_path}"


def job_labels(ctx: JobContext) -> dict[str, str]:
    """The model's labels under a component of its own: no selector of the server's
    matches the Job's pods, and the server's NetworkPolicy admits this component."""
    labels = {**ctx.labels, conventions.APP_COMPONENT: COMPONENT}
    if ctx.sync is not None and ctx.sync.identity is not None:
        labels.update(ctx.sync.identity.pod_labels)
    return labels


def _store_access(ctx: JobContext) -> tuple[dict[str, Any], list, list]:
    """Environment, volumes and mounts that reach the artifact store as MODEL_PUBLISHER,
    as the sync Job does (model_server/sync.py): the publisher's cloud credentials, or an
    on-prem store's claim, read-write (the gate writes its report)."""
    sync = ctx.sync
    if sync is None:
        return {}, [], []
    env: dict[str, Any] = dict(sync.store.fsspec_env)
    if sync.identity is not None:
        env.update(sync.identity.env)
    volumes, mounts = identity_volumes(sync.identity, sync.files_config_map)
    if sync.store.claim is not None:
        volume, mount = store_claim(sync.store.claim, read_only=False)
        volumes.append(volume)
        mounts.append(mount)
    return env, volumes, mounts


def job_spec(
    ctx: JobContext, name: str, command: list[Any], deadline_s: int, rubric: bool = False
) -> dict:
    """JobMetric{metadata, spec}: one try (backoffLimit 0: a failed gate is a verdict, not
    a flake to retry), bounded in time, restricted profile, as MODEL_PUBLISHER."""
    env, volumes, mounts = _store_access(ctx)
    if rubric:
        volumes.append(
            core.VolumeArgs(
                name="rubric",
                config_map=core.ConfigMapVolumeSourceArgs(name=f"{ctx.model}-{RUBRIC}"),
            )
        )
        mounts.append(core.VolumeMountArgs(name="rubric", mount_path=RUBRIC_DIR, read_only=True))
    env["HOME"] = "/tmp"
    container = core.ContainerArgs(
        name=name,
        image=ctx.runtime.image,
        command=command,
        env=[core.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())],
        resources=core.ResourceRequirementsArgs(
            requests={"cpu": "250m", "memory": "512Mi"}, limits={"cpu": "1", "memory": "1Gi"}
        ),
        volume_mounts=[core.VolumeMountArgs(name="tmp", mount_path="/tmp"), *mounts],
        security_context=pods.container_security(),
    )
    labels = job_labels(ctx)
    spec = k8s.batch.v1.JobSpecArgs(
        backoff_limit=0,
        active_deadline_seconds=deadline_s,
        template=pods.job_pod(
            labels,
            MODEL_PUBLISHER,
            container,
            [core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs()), *volumes],
        ),
    )
    return {"metadata": {"labels": labels}, "spec": spec}


def gate_command(ctx: JobContext, gate: EvalGate, api_path: str) -> list[Any]:
    """`python -m components.lifecycle.evalgate`: the golden set on the candidate and on the
    incumbent (the stable pods), a report to the store, scores to the Pushgateway; exit 1
    fails the metric and so the experiment and the Rollout."""
    model = ctx.model
    command: list[Any] = [
        "python", "-m", "components.lifecycle.evalgate",
        "--model", model,
        "--revision", "{{args.revision}}",
        "--incumbent-revision", ctx.incumbent_revision,
        "--candidate-url", service_url(r.candidate_service(model), api_path),
        "--incumbent-url", service_url(r.stable_service(model), api_path),
        "--golden", gate.golden_uri,
        "--report", gate.reports_uri,
        "--min-score", str(gate.min_score),
        "--max-regression", str(gate.max_regression),
        "--pushgateway", ctx.runtime.pushgateway_url,
    ]  # fmt: skip
    if judged(ctx, gate):
        command += [
            "--judge-url", ctx.runtime.judge_url,
            "--judge-model", gate.judge_model,
            "--rubric-file", f"{RUBRIC_DIR}/{RUBRIC_FILE}",
        ]  # fmt: skip
    return command


def judged(ctx: JobContext, gate: EvalGate) -> bool:
    return gate.judge_model is not None and ctx.runtime.judge_url is not None


def eval_gate_spec(ctx: JobContext, gate: EvalGate, api_path: str) -> dict[str, Any]:
    """One Job metric, measured once (no interval: Metric.Interval unset)."""
    command = gate_command(ctx, gate, api_path)
    job = job_spec(ctx, "evalgate", command, GATE_DEADLINE_S, rubric=judged(ctx, gate))
    return {
        "args": [{"name": "revision"}],
        "metrics": [{"name": r.EVAL_GATE, "provider": {"job": job}}],
    }


def prometheus_metrics(metrics: tuple[PromMetric, ...], address: str) -> list[dict[str, Any]]:
    """Metric{name, interval, failureLimit, failureCondition, provider.prometheus{address,
    query}}, as components/observability/analysis.py builds each."""
    return [metric.argo(address) for metric in metrics]


def compare_command(ctx: JobContext, rollout: RolloutArgs, api_path: str) -> list[Any]:
    """`python -m components.lifecycle.compare`: the golden set's prompts to the canary's and
    the stable's Services; exit 1 when the canary refuses more than the threshold more.
    Without a traffic router the gateway cannot tell which pod answered, so refusals are
    compared on identical prompts instead of on user traffic."""
    model = ctx.model
    return [
        "python", "-m", "components.lifecycle.compare",
        "--model", model,
        "--canary-url", service_url(r.canary_service(model), api_path),
        "--stable-url", service_url(r.stable_service(model), api_path),
        "--golden", rollout.eval_gate.golden_uri,
        "--max-increase", str(rollout.abort.refusal_rate_increase),
    ]  # fmt: skip


def canary_analysis_spec(ctx: JobContext, rollout: RolloutArgs, api_path: str) -> dict:
    metrics = prometheus_metrics(rollout.canary_metrics, ctx.runtime.prometheus_url)
    job = job_spec(ctx, "compare", compare_command(ctx, rollout, api_path), COMPARE_DEADLINE_S)
    metrics.append({"name": REFUSAL_RATE, "interval": COMPARE_INTERVAL, "provider": {"job": job}})
    return {"args": [{"name": "canary-hash"}, {"name": "stable-hash"}], "metrics": metrics}


def shadow_spec(ctx: JobContext, rollout: RolloutArgs) -> dict[str, Any]:
    """The candidate revision is in the queries themselves: no argument."""
    return {"metrics": prometheus_metrics(rollout.shadow_metrics, ctx.runtime.prometheus_url)}


def templates(
    args: ModelServerArgs, rollout: RolloutArgs, runtime: AnalysisRuntime
) -> dict[str, dict[str, Any]]:
    """AnalysisTemplate name -> spec, for every template the Rollout names."""
    ctx = context(args, runtime)
    api_path = args.engine.api_path
    out = {
        r.template_name(args.name, r.EVAL_GATE): eval_gate_spec(ctx, rollout.eval_gate, api_path),
        r.template_name(args.name, r.CANARY_ANALYSIS): canary_analysis_spec(ctx, rollout, api_path),
    }
    if rollout.shadow is not None:
        out[r.template_name(args.name, r.SHADOW)] = shadow_spec(ctx, rollout)
    return out
