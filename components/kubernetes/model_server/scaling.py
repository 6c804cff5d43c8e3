"""How many servers run: the autoscaler on queue depth and the disruption budget. Pure
builders: they return Pulumi Args."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.engines import Engine
from components.sizing import ServingPlan

QUEUE_TARGET_FRACTION = 0.1  # scale out when a tenth of max-num-seqs is waiting per pod

hpa = k8s.autoscaling.v2


def queue_target(plan: ServingPlan) -> int:
    return max(1, round(plan.max_num_seqs * QUEUE_TARGET_FRACTION))


def hpa_behavior(plan: ServingPlan) -> hpa.HorizontalPodAutoscalerBehaviorArgs:
    """A new replica takes up to the startup budget to serve; deciding faster than that
    would flap, so both windows outlast a model load."""
    return hpa.HorizontalPodAutoscalerBehaviorArgs(
        scale_up=hpa.HPAScalingRulesArgs(
            stabilization_window_seconds=min(3600, plan.startup_budget_s),
            policies=[
                hpa.HPAScalingPolicyArgs(
                    type="Pods", value=1, period_seconds=min(1800, plan.startup_budget_s)
                )
            ],
        ),
        scale_down=hpa.HPAScalingRulesArgs(
            stabilization_window_seconds=min(3600, 2 * plan.startup_budget_s),
            policies=[hpa.HPAScalingPolicyArgs(type="Pods", value=1, period_seconds=300)],
        ),
    )


# What the autoscaler scales: a Deployment, or an Argo Rollouts Rollout, which serves the
# scale subresource (its CRD's subresources.scale, tests/upstream/crds/argo-rollouts-2.41.0).
DEPLOYMENT_TARGET = ("apps/v1", "Deployment")


def hpa_spec(
    plan: ServingPlan,
    engine: Engine,
    workload: pulumi.Input[str],
    target: tuple[str, str] = DEPLOYMENT_TARGET,
) -> hpa.HorizontalPodAutoscalerSpecArgs:
    """Scale on the engine's queue depth, per pod. `target` is (apiVersion, kind)."""
    api_version, kind = target
    return hpa.HorizontalPodAutoscalerSpecArgs(
        scale_target_ref=hpa.CrossVersionObjectReferenceArgs(
            api_version=api_version, kind=kind, name=workload
        ),
        min_replicas=plan.replicas_min,
        max_replicas=plan.replicas_max,
        metrics=[
            hpa.MetricSpecArgs(
                type="Pods",
                pods=hpa.PodsMetricSourceArgs(
                    metric=hpa.MetricIdentifierArgs(name=engine.queue_metric),
                    target=hpa.MetricTargetArgs(
                        type="AverageValue", average_value=str(queue_target(plan))
                    ),
                ),
            )
        ],
        behavior=hpa_behavior(plan),
    )


def pdb_spec(selector: dict[str, str]) -> k8s.policy.v1.PodDisruptionBudgetSpecArgs:
    return k8s.policy.v1.PodDisruptionBudgetSpecArgs(
        max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector)
    )
