"""The Argo Rollouts `Rollout` that serves a model with a `rollout` block instead of a
Deployment, and the Services its canary steers by. Pure builders: dicts for the custom
resource (with the Deployment builder's pod template inside) and Pulumi Args for Services.

Every field is argo-rollouts v1.9.0 pkg/apis/rollouts/v1alpha1/types.go (cited by type), and
tests validate the objects against the CRDs of chart argo-rollouts 2.41.0
(tests/upstream/crds/argo-rollouts-2.41.0).

No traffic router: the canary's share of requests is its share of ready replicas behind the
model's Service (types.go CanaryStrategy.TrafficRouting unset = basic canary,
utils/replicaset/canary.go CalculateReplicaCountsForBasicCanary).
"""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s

from components import canary, conventions, naming
from components.engines import Engine
from components.kubernetes.model_server import network, pod
from components.kubernetes.model_server.args import ModelServerArgs, RolloutArgs

# pkg/apis/rollouts/v1alpha1/register.go: group argoproj.io, version v1alpha1.
API_VERSION = "argoproj.io/v1alpha1"
KIND = "Rollout"
# The experiment template's name, the serving label value its pods carry; its Service
# `<model>-candidate` reaches them (RolloutExperimentTemplate.Service, TemplateService.Name).
CANDIDATE = conventions.SERVING_CANDIDATE
EVAL_GATE = "eval-gate"
SHADOW = "shadow"
CANARY_ANALYSIS = "canary-analysis"
# A candidate or canary pod copies, verifies and loads the weights before it is available;
# an experiment whose ReplicaSet is not available within the Rollout's
# progressDeadlineSeconds fails (docs/features/experiment.md "Experiment Lifecycle" 2, the
# Rollout's value copied in rollout/experiment.go GetExperimentFromTemplate), which would
# abort every rollout of a large model. The startup probe allows the plan's startup budget
# for the engine's load; the init containers read the same bytes once more.
PROGRESS_DEADLINE_LOADS = 2


def stable_service(model: str) -> str:
    return f"{model}-stable"


def canary_service(model: str) -> str:
    return f"{model}-canary"


def candidate_service(model: str) -> str:
    return f"{model}-{CANDIDATE}"


def template_name(model: str, role: str) -> str:
    """An AnalysisTemplate's name: `<model>-eval-gate`, `-canary-analysis`, `-shadow`."""
    return f"{model}-{role}"


def pod_template(args: ModelServerArgs, parts: pod.PodParts) -> k8s.core.v1.PodTemplateSpecArgs:
    """The Deployment builder's pod template, labelled live: the model's Service selects
    live pods only, so the experiment's candidate (relabelled) gets no user request."""
    template = pod.deployment_spec(args, parts).template
    labels = {**template.metadata.labels, conventions.SERVING_LABEL: conventions.SERVING_LIVE}
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=template.spec
    )


def experiment_step(model: str, revision: str, rollout: RolloutArgs) -> dict[str, Any]:
    """Step 0: one candidate pod of the new template beside the stable ones, no traffic, the
    eval gate (and the shadow analysis for the shadow's duration) on it. RolloutExperimentStep,
    RolloutExperimentTemplate (specRef canary, replicas, metadata, service) and
    RolloutExperimentStepAnalysisTemplateRef (requiredForCompletion: the experiment waits for
    the gate whatever its duration, docs/features/experiment.md lifecycle 6)."""
    args = [{"name": "revision", "value": revision}]
    analyses = [
        {
            "name": EVAL_GATE,
            "templateName": template_name(model, EVAL_GATE),
            "args": args,
            "requiredForCompletion": True,
        }
    ]
    step: dict[str, Any] = {
        "templates": [
            {
                "name": CANDIDATE,
                "specRef": "canary",
                "replicas": 1,
                # Experiment template labels override the pod template's and the selector's
                # (rollout/experiment.go GetExperimentFromTemplate, v1.9.0 lines 100-107).
                "metadata": {
                    "labels": {conventions.SERVING_LABEL: conventions.SERVING_CANDIDATE}
                },
                "service": {"name": candidate_service(model)},
            }
        ],
        "analyses": analyses,
    }
    if rollout.shadow is not None:
        analyses.append({"name": SHADOW, "templateName": template_name(model, SHADOW)})
        # RolloutExperimentStep.Duration, a DurationString (Go time.ParseDuration).
        step["duration"] = f"{rollout.shadow.duration_s}s"
    return {"experiment": step}


def canary_steps(model: str, revision: str, rollout: RolloutArgs) -> list[dict[str, Any]]:
    """The gate, the optional approval (a pause with no duration waits for `kubectl argo
    rollouts promote`: RolloutPause.Duration unset), then setWeight/pause pairs (CanaryStep
    SetWeight, Pause; RolloutPause.Duration as int-or-string seconds)."""
    steps = [experiment_step(model, revision, rollout)]
    if rollout.approval:
        steps.append({"pause": {}})
    for step in rollout.steps:
        steps.append({"setWeight": step.weight_pct})
        if step.pause_s is not None:
            steps.append({"pause": {"duration": f"{step.pause_s}s"}})
    return steps


def first_weight_step(steps: list[dict[str, Any]]) -> int:
    return next(i for i, s in enumerate(steps) if "setWeight" in s)


def background_analysis(model: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """From the first traffic step on, canary against stable by pod-template hash
    (RolloutAnalysisBackground: templates, args, startingStep; AnalysisRunArgument.ValueFrom
    PodTemplateHashValue Latest|Stable)."""
    return {
        "templates": [{"templateName": template_name(model, CANARY_ANALYSIS)}],
        "startingStep": first_weight_step(steps),
        "args": [
            {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
            {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
        ],
    }


def rollout_spec(
    args: ModelServerArgs, parts: pod.PodParts, rollout: RolloutArgs, revision: str
) -> dict[str, Any]:
    """RolloutSpec: replicas, selector (the Deployment's), template, progressDeadlineSeconds
    and strategy.canary (CanaryStrategy: canaryService, stableService, steps, analysis,
    maxSurge 1 and maxUnavailable 0: users keep every stable pod and the canary costs at
    most one pod more, the arithmetic components/canary.py ports and the spec checks the
    pool's spare GPUs by)."""
    steps = canary_steps(args.name, revision, rollout)
    return {
        "replicas": args.plan.replicas_min,
        "selector": {"matchLabels": naming.selector_labels(args.name, pod.COMPONENT)},
        "template": pod_template(args, parts),
        "progressDeadlineSeconds": PROGRESS_DEADLINE_LOADS * args.plan.startup_budget_s,
        "strategy": {
            "canary": {
                "canaryService": canary_service(args.name),
                "stableService": stable_service(args.name),
                "maxSurge": canary.MAX_SURGE,
                "maxUnavailable": canary.MAX_UNAVAILABLE,
                "steps": steps,
                "analysis": background_analysis(args.name, steps),
            }
        },
    }


def live_selector(selector: dict[str, str]) -> dict[str, str]:
    """A Service of a Rollout's model selects live pods only: never the candidate."""
    return {**selector, conventions.SERVING_LABEL: conventions.SERVING_LIVE}


def side_service_labels(labels: dict[str, str], role: str) -> dict[str, str]:
    """The stable and canary Services' labels: another component than the model's Service,
    so the model's ServiceMonitor (selecting Services by the model-server component) does
    not scrape every pod twice more."""
    return {**labels, conventions.APP_COMPONENT: f"{pod.COMPONENT}-{role}"}


def side_service_spec(engine: Engine, selector: dict[str, str]) -> k8s.core.v1.ServiceSpecArgs:
    """The model's ports over its live pods; Argo adds the ReplicaSet's
    rollouts-pod-template-hash to the selector of canaryService and stableService
    (rollout/service.go, v1.9.0)."""
    return network.service_spec(engine, live_selector(selector))
