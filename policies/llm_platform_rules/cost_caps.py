"""Cost rules: the preview says no before a change can burn the quarter.

Prices come from `components.pricing.price_resource`, the function the offline plan uses,
applied to the same type tokens and inputs the engine hands the pack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from components import catalog, clouds, pricing
from components.conventions import GPU_RESOURCES
from components.props import number
from components.training.contract import ON_DEMAND_REASON_ANNOTATION

from ._base import annotation, config, get, items, known, pod_spec, rule, string_list, where

DEFAULT_MAX_NODES = 100
DEFAULT_MAX_REPLICAS = 100
BIGGEST_ITEMS = 5
BUDGET_RECORD = "llm:budget_used"

# Instance families that carry accelerators, for types the catalog does not list: each
# cloud's (components/<cloud>/policy_types.py).
_GPU_FAMILY = re.compile(
    "|".join(f"(?:{c.policy.gpu_family})" for c in clouds.clouds()), re.IGNORECASE
)


def catalog_gpu_instances() -> list[str]:
    return [i for i, x in catalog.instances().items() if x.gpu_count]


def is_gpu_instance(instance_type: str) -> bool:
    inst = catalog.instances().get(instance_type)
    if inst is not None:
        return inst.gpu_count > 0
    return bool(_GPU_FAMILY.match(instance_type))


def _read(table: str, type_: str, props: Mapping[str, Any], default: Any) -> Any:
    """What the cloud of `type_` reads off its properties with the reader in its policy
    type table `table` (e.g. "instance_types"); `default` when it has none for the type."""
    cloud = clouds.of_type(type_)
    reader = getattr(cloud.policy, table).get(type_) if cloud is not None else None
    return reader(props) if reader is not None else default


def _instance_types(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = _read("instance_types", type_, props, [])
    return [t for t in found if isinstance(t, str) and t]


def _accelerators(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = _read("accelerators", type_, props, [])
    return [a["type"] for a in found if isinstance(get(a, "type"), str)]


def _gpu_allowlist(args: ResourceValidationArgs, report: ReportViolation) -> None:
    instances = catalog.instances()
    allowed_types = config(args, "allowedInstanceTypes", catalog_gpu_instances())
    allowed_gpus = config(args, "allowedGpus", list(catalog.gpus()))
    allowed_accelerators = {
        x.accelerator for x in instances.values() if x.accelerator and x.gpu in allowed_gpus
    }
    for t in _instance_types(args.resource_type, args.props):
        if not is_gpu_instance(t):
            continue
        if t not in allowed_types:
            report(
                f"{where(args)} uses GPU instance type {t}, which is not on the allowlist "
                f"({', '.join(allowed_types)}). Pick an allowed type, or add {t} to the "
                f"policy config allowedInstanceTypes after a capacity and price review."
            )
        gpu = instances[t].gpu if t in instances else None
        if gpu is not None and gpu not in allowed_gpus:
            report(
                f"{where(args)} runs {gpu} GPUs ({t}), and the allowed GPU models are "
                f"{', '.join(allowed_gpus)}. Choose a pool GPU from the allowlist or extend "
                f"the policy config allowedGpus."
            )
    for acc in _accelerators(args.resource_type, args.props):
        if acc not in allowed_accelerators:
            report(
                f"{where(args)} attaches accelerator {acc}; allowed: "
                f"{', '.join(sorted(allowed_accelerators))}. Use a catalog instance type "
                f"whose GPU is in allowedGpus."
            )


def _pool_max(type_: str, props: Mapping[str, Any]) -> tuple[str, float | None] | None:
    """(what, maximum) for a node pool; None when the type has no size."""
    return _read("pool_max", type_, props, None)


def _replica_max(type_: str, props: Mapping[str, Any]) -> tuple[str, float | None] | None:
    if type_.startswith("kubernetes:autoscaling/") and type_.endswith(":HorizontalPodAutoscaler"):
        return "spec.maxReplicas", number(get(props, "spec", "maxReplicas"))
    if type_ == "kubernetes:keda.sh/v1alpha1:ScaledObject":
        return "spec.maxReplicaCount", number(get(props, "spec", "maxReplicaCount"))
    return None


def _bounded(args: ResourceValidationArgs, report: ReportViolation) -> None:
    type_, props = args.resource_type, args.props
    if (found := _pool_max(type_, props)) is not None:
        cap = config(args, "maxNodesPerPool", DEFAULT_MAX_NODES)
        unit, knob = "nodes", "max_nodes"
    elif (found := _replica_max(type_, props)) is not None:
        cap = config(args, "maxReplicas", DEFAULT_MAX_REPLICAS)
        unit, knob = "replicas", "autoscaling.max_replicas"
    else:
        return
    key, maximum = found
    if maximum is None:
        report(
            f"{where(args)} sets no {key}: an autoscaler without a ceiling can buy GPUs "
            f"without limit. Set a maximum (the spec's {knob})."
        )
    elif maximum > cap:
        report(
            f"{where(args)} may grow to {maximum:g} {unit} ({key}), above the {cap:g} "
            f"allowed by the policy config. Lower the spec's {knob} or raise the cap."
        )


def _read_pool_tags(type_: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The tags (labels on GCP) of a node pool, where the foundations record its name and
    purpose; {} for anything else."""
    cloud = clouds.of_type(type_)
    path = cloud.policy.pool_tags.get(type_) if cloud is not None else None
    return (get(props, *path) or {}) if path is not None else {}


def _on_spot(type_: str, props: Mapping[str, Any]) -> bool:
    return _read("on_spot", type_, props, False)


def _training_spot(args: ResourceValidationArgs, report: ReportViolation) -> None:
    tags = _read_pool_tags(args.resource_type, args.props)
    if get(tags, pricing.PURPOSE_TAG) != "training":
        return
    pool = get(tags, pricing.POOL_TAG) or args.name
    if pool in config(args, "exemptPools", []):
        return
    if not _on_spot(args.resource_type, args.props):
        prices = [
            f"{t} ${inst.on_demand_usd_per_hour:g}/h on demand against "
            f"${inst.spot_usd_per_hour:g}/h spot"
            for t in _instance_types(args.resource_type, args.props)
            if (inst := catalog.instances().get(t)) and inst.spot_usd_per_hour
        ]
        report(
            f"{where(args)} is a training pool on on-demand capacity"
            f"{' (' + '; '.join(prices) + ')' if prices else ''}. Set `capacity: spot` on "
            f"the pool (training jobs checkpoint and resume), or list the pool in the policy "
            f"config exemptPools."
        )


JOBSET = "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet"
_BATCH = ("kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob")


def _batch_pods(type_: str, props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The pod templates of a Job, a CronJob or a JobSet; a JobSet's sit in each of its
    replicatedJobs[].template, a Job template (kubernetes-sigs/jobset
    api/jobset/v1alpha2/jobset_types.go, ReplicatedJob.Template batchv1.JobTemplateSpec)."""
    if type_ == JOBSET:
        return [
            get(job, "template", "spec", "template", "spec") or {}
            for job in items(get(props, "spec", "replicatedJobs"))
        ]
    if type_ in _BATCH:
        return [pod_spec(type_, props) or {}]
    return []


def _wants_gpu(pod: Mapping[str, Any]) -> bool:
    for c in items(get(pod, "containers")):
        limits = get(c, "resources", "limits") or {}
        if any(number(get(limits, key)) for key in GPU_RESOURCES):
            return True
    return False


def _on_demand_pools(
    resources: list[PolicyResource], exempt: list[str]
) -> list[tuple[str, Mapping[str, Any]]]:
    """(pool, node labels) of each cloud GPU pool on on-demand capacity: read off the node
    pool itself (its capacity and its nodes' labels), never off the workload."""
    out = []
    for r in resources:
        cloud = clouds.of_type(r.resource_type)
        path = cloud.policy.node_labels.get(r.resource_type) if cloud is not None else None
        if path is None or _on_spot(r.resource_type, r.props):
            continue
        pool = get(_read_pool_tags(r.resource_type, r.props), pricing.POOL_TAG) or r.name
        if pool not in exempt:
            out.append((pool, known(get(r.props, *path)) or {}))
    return out


def _lands_on(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _gpu_jobs_on_spot(args: StackValidationArgs, report: ReportViolation) -> None:
    pools = _on_demand_pools(args.resources, config(args, "exemptPools", []))
    for r in args.resources:
        if annotation(r.props, ON_DEMAND_REASON_ANNOTATION):
            continue
        for pod in _batch_pods(r.resource_type, r.props):
            selector = known(get(pod, "nodeSelector")) or {}
            hit = [name for name, labels in pools if _lands_on(selector, labels)]
            if hit and _wants_gpu(pod):
                report(
                    f"{r.resource_type} '{r.name}' runs GPU work on on-demand pool "
                    f"{', '.join(hit)}. Run it on a spot training pool (it checkpoints and "
                    f"resumes), or state why with the annotation {ON_DEMAND_REASON_ANNOTATION} "
                    f"(the spec's training.jobs[].on_demand_reason).",
                    r.urn,
                )
                break


# --- stack-wide rules -----------------------------------------------------------------


def budget(r: PolicyResource) -> tuple[str, float | None, int] | None:
    """(cloud, monthly amount, alerts that reach someone) for a budget resource."""
    cloud = clouds.of_type(r.resource_type)
    reader = cloud.policy.budgets.get(r.resource_type) if cloud is not None else None
    if cloud is None or reader is None:
        return None
    amount, notified = reader(known(r.props))
    return cloud.name, amount, notified


def _alerts(r: PolicyResource) -> list[dict[str, Any]]:
    if r.resource_type != "kubernetes:monitoring.coreos.com/v1:PrometheusRule":
        return []
    # A group or rule not known yet (None in the known copy) holds no alert to count.
    p = known(r.props)
    return [
        entry
        for group in items(get(p, "spec", "groups"))
        for entry in items(get(group, "rules"))
        if get(entry, "alert")
    ]


def _budgets(args: StackValidationArgs, report: ReportViolation) -> None:
    used = {c.name for r in args.resources if (c := clouds.of_type(r.resource_type)) is not None}
    least = int(config(args, "minNotifications", 1))
    found: dict[str, list[tuple[PolicyResource, int]]] = {}
    for r in args.resources:
        b = budget(r)
        if b is not None:
            found.setdefault(b[0], []).append((r, b[2]))
    for cloud in sorted(used):
        budgets = found.get(cloud, [])
        if not budgets:
            report(
                f"the stack creates {cloud} resources but no {cloud} budget. Set the spec's "
                f"`budget` block (monthly_usd and notify_emails); the foundation creates the "
                f"budget and its alerts."
            )
        for r, notified in budgets:
            if notified < least:
                report(
                    f"{r.resource_type} '{r.name}' notifies nobody"
                    f"{'' if not notified else f' at {least} thresholds ({notified} do)'}. "
                    f"Give it threshold alerts with subscribers (the spec's "
                    f"budget.notify_emails and budget.alert_thresholds_pct).",
                    r.urn,
                )
    if not used:
        alarms = [
            a for r in args.resources for a in _alerts(r) if BUDGET_RECORD in str(a.get("expr", ""))
        ]
        if not alarms:
            report(
                f"the stack has no budget alarm: no alert rule reads {BUDGET_RECORD}. Enable "
                f"the observability block, whose cost rules alert on projected spend over "
                f"budget.monthly_usd."
            )


def price(resources: list[PolicyResource]) -> list[pricing.LineItem]:
    # The graph whole: the gateway's volumes are priced at the rate of the graph's cloud.
    return pricing.price_graph([(r.resource_type, r.name, known(r.props)) for r in resources])


def _cost_cap(args: StackValidationArgs, report: ReportViolation) -> None:
    cap = args.get_config().get("maxMonthlyUsd")
    source = "policy config maxMonthlyUsd"
    if cap is None:
        amounts = [
            (r, b[1]) for r in args.resources if (b := budget(r)) is not None and b[1] is not None
        ]
        if not amounts:
            args.not_applicable("no maxMonthlyUsd in policy config and no cloud budget")
            return
        cap = sum(a for _, a in amounts)
        source = "the budget " + ", ".join(f"'{r.name}'" for r, _ in amounts)
    lines = price(args.resources)
    total = round(sum(i.monthly_usd for i in lines), 2)
    if total <= cap:
        return
    biggest = sorted(lines, key=lambda i: i.monthly_usd, reverse=True)[:BIGGEST_ITEMS]
    listed = "; ".join(
        f"{i.name} ${i.monthly_usd:,.2f} ({i.basis.split(' (', 1)[0]})" for i in biggest
    )
    report(
        f"estimated cost ${total:,.2f}/month is over the cap ${cap:,.2f}/month ({source}). "
        f"Biggest line items: {listed}. Lower min_nodes or node_hours_per_month on the "
        f"largest pools, use smaller instance types, or raise the cap."
    )


def _cost_schema() -> dict[str, dict[str, Any]]:
    return {
        "maxMonthlyUsd": {
            "type": "number",
            "minimum": 0,
            "description": "monthly cost cap in USD; default: the sum of the stack's cloud budgets",
        }
    }


POLICIES = [
    rule(
        "monthly-cost-cap",
        "The stack's estimated monthly cost stays at or under the cap.",
        _cost_cap,
        stack=True,
        severity=Severity.HIGH,
        schema=_cost_schema(),
        remediation="Shrink the largest line items (pool minimums, node-hours, instance "
        "sizes) or raise maxMonthlyUsd with finance's approval.",
    ),
    rule(
        "gpu-allowlist",
        "GPU instance types and GPU models come from the allowlist.",
        _gpu_allowlist,
        severity=Severity.HIGH,
        schema={
            "allowedInstanceTypes": string_list("GPU instance types", catalog_gpu_instances()),
            "allowedGpus": string_list("GPU models", list(catalog.gpus())),
        },
        remediation="Use an instance type from components/catalog/instances.yaml whose GPU "
        "is allowed, or extend the allowlist in policy config.",
    ),
    rule(
        "bounded-scaling",
        "Every node pool and autoscaler has a finite maximum.",
        _bounded,
        severity=Severity.HIGH,
        schema={
            "maxNodesPerPool": {"type": "integer", "minimum": 1, "default": DEFAULT_MAX_NODES},
            "maxReplicas": {"type": "integer", "minimum": 1, "default": DEFAULT_MAX_REPLICAS},
        },
        remediation="Set max_nodes on the pool and autoscaling.max_replicas on the model.",
    ),
    rule(
        "training-on-spot",
        "Training node pools use spot capacity.",
        _training_spot,
        severity=Severity.MEDIUM,
        schema={"exemptPools": string_list("training pools allowed on on-demand", [])},
        remediation="Set `capacity: spot` on training pools.",
    ),
    rule(
        "gpu-jobs-on-spot",
        "A GPU Job, CronJob or JobSet on an on-demand cloud pool says why.",
        _gpu_jobs_on_spot,
        stack=True,
        severity=Severity.MEDIUM,
        schema={"exemptPools": string_list("on-demand pools GPU jobs may use without a reason",
                                           [])},
        remediation="Put the job on a spot training pool, or set the spec's "
        "training.jobs[].on_demand_reason.",
    ),
    rule(
        "budget-with-notifications",
        "Every environment has a budget that notifies someone.",
        _budgets,
        stack=True,
        severity=Severity.HIGH,
        schema={
            "minNotifications": {
                "type": "integer",
                "minimum": 1,
                "default": 1,
                "description": "threshold alerts with subscribers each budget needs",
            }
        },
        remediation="Set budget.monthly_usd and budget.notify_emails in the stack's spec.",
    ),
]
