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
from components.kubernetes.facts import MODEL_PUBLISHER, ArtifactStore, WorkloadIdentity
from components.kubernetes.model_server import network
from components.kubernetes.model_server import rollout as r
from components.kubernetes.model_server.args import (
    AnalysisRuntime,
    EvalGate,
    ModelServerArgs,
    PromMetric,
    RolloutArgs,
    WeightsFetch,
)
from components.kubernetes.model_server.weights import fetch_volumes

core = k8s.core.v1

# The analysis Jobs' pods: the model server's NetworkPolicy admits this component on the
# API port (network.network_policy_spec).
COMPONENT = network.ANALYSIS_COMPONENT
REFUSAL_RATE = "refusal-rate"
# Where an on-prem artifact claim is mounted (facts.ArtifactStore.claim).
ARTIFACTS_MOUNT = "/artifacts"
# A gate that has not answered in an hour is stuck: the Job fails, the gate fails closed.
GATE_DEADLINE_S = 3600
# The refusal comparison replays the golden set's prompts on both sides; an hour bounds it.
COMPARE_DEADLINE_S = 3600
# The refusal comparison replays the golden set less often than the Prometheus metrics look
# (every 5 minutes): each replay costs GPU time on both sides.
COMPARE_INTERVAL = "30m"


@dataclass(frozen=True)
class JobContext:
    """What every analysis Job of one model runs with."""

    model: str
    labels: dict[str, str]
    runtime: AnalysisRuntime
    store: ArtifactStore | None
    identity: WorkloadIdentity | None


def context(args: ModelServerArgs, runtime: AnalysisRuntime) -> JobContext:
    sync = args.version.sync if args.version is not None else None
    return JobContext(
        model=args.name,
        labels=args.labels,
        runtime=runtime,
        store=sync.store if sync is not None else None,
        identity=sync.identity if sync is not None else None,
    )


def service_url(service: str, api_path: str) -> str:
    """A Service of the model's namespace, which is the Job's (the AnalysisRun's Jobs are
    created in the Rollout's namespace)."""
    return f"http://{service}:{HTTP_PORT}{api_path}"


def job_labels(ctx: JobContext) -> dict[str, str]:
    labels = {**ctx.labels, conventions.APP_COMPONENT: COMPONENT}
    if ctx.identity is not None:
        labels.update(ctx.identity.pod_labels)
    return labels


def _store_access(ctx: JobContext) -> tuple[dict[str, Any], list, list]:
    """Environment, volumes and mounts that reach the artifact store as MODEL_PUBLISHER."""
    env: dict[str, Any] = {}
    volumes: list[core.VolumeArgs] = []
    mounts: list[core.VolumeMountArgs] = []
    if ctx.store is None:
        return env, volumes, mounts
    env.update(ctx.store.fsspec_env)
    if ctx.identity is not None:
        env.update(ctx.identity.env)
        volumes, mounts = fetch_volumes(WeightsFetch(store=ctx.store, identity=ctx.identity))
    if ctx.store.claim is not None:
        volumes.append(
            core.VolumeArgs(
                name="artifacts",
                persistent_volume_claim=core.PersistentVolumeClaimVolumeSourceArgs(
                    claim_name=ctx.store.claim
                ),
            )
        )
        mounts.append(core.VolumeMountArgs(name="artifacts", mount_path=ARTIFACTS_MOUNT))
    return env, volumes, mounts


def job_spec(ctx: JobContext, name: str, command: list[Any], deadline_s: int) -> dict:
    """JobMetric{metadata, spec}: one try (backoffLimit 0: a failed gate is a verdict, not
    a flake to retry), bounded in time, restricted profile, as MODEL_PUBLISHER."""
    env, volumes, mounts = _store_access(ctx)
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
        template=core.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
            spec=core.PodSpecArgs(
                service_account_name=MODEL_PUBLISHER,
                automount_service_account_token=False,
                enable_service_links=False,
                restart_policy="Never",
                security_context=pods.pod_security(),
                containers=[container],
                volumes=[
                    core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs()),
                    *volumes,
                ],
            ),
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
        "--candidate-url", service_url(r.candidate_service(model), api_path),
        "--incumbent-url", service_url(r.stable_service(model), api_path),
        "--golden", gate.golden_uri,
        "--reports", gate.reports_uri,
        "--min-score", str(gate.min_score),
        "--max-regression", str(gate.max_regression),
        "--pushgateway", ctx.runtime.pushgateway_url,
    ]  # fmt: skip
    if gate.judge_model is not None and ctx.runtime.judge_url is not None:
        command += [
            "--judge-url", ctx.runtime.judge_url,
            "--judge-model", gate.judge_model,
            "--judge-rubric", gate.judge_rubric or "",
        ]  # fmt: skip
    return command


def eval_gate_spec(ctx: JobContext, gate: EvalGate, api_path: str) -> dict[str, Any]:
    """One Job metric, measured once (no interval: Metric.Interval unset)."""
    job = job_spec(ctx, "evalgate", gate_command(ctx, gate, api_path), GATE_DEADLINE_S)
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
