"""Prices resources, not specs.

`price_resource` takes a resource type token and its inputs, exactly what the Pulumi
engine shows a policy pack, so the offline plan and the policy pack apply one price table
to one resource graph. Pure: no Pulumi imports.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from components import catalog, clouds
from components.conventions import (
    APP_COMPONENT,
    GPU_HOUR_ANNOTATION,
    GPU_RESOURCES,
    MODEL_LABEL,
)
from components.sizing import ServingPlan
from components.spec import Environment, EnvironmentSpec, GpuPool, Model, TrainingJob

# AWS, GCP and Azure all bill a month as 730 hours (8760 / 12) on their price pages.
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = 365 / 12

# Tags (AWS, Azure) and labels (GCP) the cloud foundations put on what they create, so the
# price of a node pool or a bucket can be read off the resource itself, as a policy pack
# sees it. GCP label values allow only [-_a-z0-9], hence whole numbers.
NODE_HOURS_TAG = "llm-platform-node-hours"
EXPECTED_GIB_TAG = "llm-platform-expected-gib"
POOL_TAG = "llm-platform-pool"
# inference | training: the policy pack holds training pools to spot capacity by it.
PURPOSE_TAG = "llm-platform-purpose"
# Without a stated size, the bucket holds this many versions of every model's weights.
WEIGHT_VERSIONS_KEPT = 3

_POD_TEMPLATE_KINDS = {
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    # A model with a rollout block is served by an Argo Rollouts Rollout instead of a
    # Deployment: spec.replicas and spec.template as a Deployment's (rollouts.argoproj.io
    # v1alpha1, chart argo-rollouts 2.41.0 templates/crds/rollout-crd.yaml:82, :1012).
    "kubernetes:argoproj.io/v1alpha1:Rollout",
}


def pool_tags(pool: GpuPool, node_hours: int) -> dict[str, str]:
    """The tags a cloud GPU pool carries so its price and purpose read off the resource."""
    return {POOL_TAG: pool.name, PURPOSE_TAG: pool.purpose, NODE_HOURS_TAG: str(node_hours)}


Pricer = Callable[[str, str, dict[str, Any]], list["LineItem"]]


@dataclass(frozen=True)
class LineItem:
    name: str
    type: str
    quantity: float
    unit: str
    unit_usd: float
    monthly_usd: float
    basis: str
    model: str | None = None
    pool: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _gpus_per_pod(pod_spec: dict[str, Any]) -> int:
    total = 0
    for c in pod_spec.get("containers", []) or []:
        limits = (c.get("resources") or {}).get("limits") or {}
        for key in GPU_RESOURCES:
            if key in limits:
                total += int(str(limits[key]))
    return total


def price_resource(type_: str, name: str, inputs: dict[str, Any]) -> list[LineItem]:
    """Monthly price of one resource: none when it costs nothing we can attribute, and more
    than one item when it bundles priced parts (an AKS cluster and its system pool)."""
    if type_ in _POD_TEMPLATE_KINDS:
        item = _price_gpu_workload(type_, name, inputs)
        return [item] if item else []
    cloud = clouds.of_type(type_)
    pricer = cloud.prices.get(type_) if cloud is not None else None
    return pricer(type_, name, inputs) if pricer else []


def _price_gpu_workload(type_: str, name: str, inputs: dict[str, Any]) -> LineItem | None:
    meta = inputs.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    rate = annotations.get(GPU_HOUR_ANNOTATION)
    spec = inputs.get("spec") or {}
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    gpus = _gpus_per_pod(pod_spec)
    if rate is None or gpus == 0:
        return None
    replicas = int(spec.get("replicas", 1))
    gpu_hours = replicas * gpus * HOURS_PER_MONTH
    unit_usd = float(rate)
    return LineItem(
        name=name,
        type=type_,
        quantity=gpu_hours,
        unit="GPU-hour",
        unit_usd=unit_usd,
        monthly_usd=round(gpu_hours * unit_usd, 2),
        basis=f"{replicas} replica(s) x {gpus} GPU x {HOURS_PER_MONTH} h x ${unit_usd}/GPU-h",
        model=(meta.get("labels") or {}).get(MODEL_LABEL),
    )


def service(type_: str, name: str, service_id: str, quantity: float) -> LineItem:
    svc = catalog.services()[service_id]
    return LineItem(
        name=name,
        type=type_,
        quantity=quantity,
        unit=svc.unit,
        unit_usd=svc.usd,
        monthly_usd=round(quantity * svc.usd, 2),
        basis=f"{quantity:g} {svc.unit} x ${svc.usd:g} ({service_id}, {svc.source} {svc.as_of})",
    )


def always_on(service_id: str) -> Pricer:
    """A resource billed per hour it exists."""
    return lambda type_, name, _inputs: [service(type_, name, service_id, HOURS_PER_MONTH)]


def per_month(service_id: str) -> Pricer:
    return lambda type_, name, _inputs: [service(type_, name, service_id, 1)]


def stored(service_id: str, tags_key: str) -> Pricer:
    def price(type_: str, name: str, inputs: dict[str, Any]) -> list[LineItem]:
        gib = (inputs.get(tags_key) or {}).get(EXPECTED_GIB_TAG)
        return [service(type_, name, service_id, float(gib))] if gib is not None else []

    return price


def nodes(
    type_: str,
    name: str,
    instance_types: list[str],
    spot: bool,
    tags: dict[str, Any],
    default_nodes: float,
) -> LineItem:
    """A node pool at the price of its dearest instance type, for the node-hours its tag
    states (the foundation's expectation) or, without one, its node count always on."""
    known = [catalog.instances()[t] for t in instance_types if t in catalog.instances()]
    if not known:
        raise ValueError(f"{name}: no catalog price for instance types {instance_types}")
    # By price alone: two catalog rows at one price must not be compared with each other.
    hourly, inst = max(
        (((i.spot_usd_per_hour if spot and i.spot_usd_per_hour else i.on_demand_usd_per_hour), i)
         for i in known),
        key=lambda priced: priced[0],
    )
    stated = tags.get(NODE_HOURS_TAG)
    hours = float(stated) if stated is not None else default_nodes * HOURS_PER_MONTH
    kind = "spot" if spot else "on-demand"
    return LineItem(
        name=name,
        type=type_,
        quantity=hours,
        unit="node-hour",
        unit_usd=hourly,
        monthly_usd=round(hours * hourly, 2),
        basis=f"{hours:g} node-h x ${hourly:g} ({inst.id} {kind}, {inst.source} {inst.as_of})",
        pool=tags.get(POOL_TAG),
    )


def steady_nodes(pool: GpuPool, gpus_min: int) -> int:
    """Nodes a pool keeps up: its floor, or what the models' minimum replicas need."""
    return max(pool.min_nodes, math.ceil(gpus_min / pool.gpus_per_node))


def node_hours(pool: GpuPool, gpus_min: int, jobs: Sequence[TrainingJob] = ()) -> int:
    """Expected node-hours a month: the spec's figure, else the steady nodes always on plus
    what the training jobs on the pool need beyond them (`jobs` may name other pools' jobs
    too). So a training pool that scales to zero is priced for its jobs' runs, once: the
    pool's line carries them, and cost.json's `training` list only attributes that line."""
    if pool.node_hours_per_month is not None:
        return round(pool.node_hours_per_month)
    steady = steady_nodes(pool, gpus_min)
    extra = sum(
        max(0, job_nodes(pool, j) - steady) * j.expected_hours * j.runs_per_month
        for j in jobs
        if j.pool == pool.name
    )
    return round(steady * HOURS_PER_MONTH + extra)


def job_nodes(pool: GpuPool, job: TrainingJob) -> int:
    """Nodes one run of `job` holds: a worker pod sits on one node, and a node takes as many
    workers as its GPUs fit whole (4 GPUs a worker on an 8-GPU node: 2 workers a node)."""
    per_node = max(1, pool.gpus_per_node // job.gpus_per_worker)
    return math.ceil(job.workers / per_node)


def pool_node_rate(pool: GpuPool) -> tuple[float, catalog.InstanceInfo]:
    """A cloud pool's hourly node price, as its node pool's line prices it (`nodes`): the
    dearest of its instance types, at the spot rate on a spot pool where the catalog has one."""
    spot = pool.capacity == "spot"
    known = [catalog.instances()[t] for t in (pool.instance_type, *pool.extra_instance_types)
             if t is not None and t in catalog.instances()]
    return max(
        (((i.spot_usd_per_hour if spot and i.spot_usd_per_hour else i.on_demand_usd_per_hour), i)
         for i in known),
        key=lambda priced: priced[0],
    )


@dataclass(frozen=True)
class TrainingCost:
    """One training job's expected month (cost.json `training`). An attribution of its
    pool's line, like the per-model economics: never added to the total a second time."""

    job: str
    pool: str
    capacity: str  # spot | on-demand | on-prem
    gpu_hours_per_month: float  # expected_hours x workers x gpus_per_worker x runs_per_month
    # Whole nodes billed (cloud): nodes a run holds x expected_hours x runs_per_month.
    node_hours_per_month: float | None
    usd_per_gpu_hour: float
    monthly_usd: float
    basis: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def training_cost(spec: EnvironmentSpec, job: TrainingJob) -> TrainingCost:
    """A cloud job is billed by the node: a run holds whole nodes (`job_nodes`) for its hours,
    so a 1-GPU job on an 8-GPU node pays for 8 GPUs; the GPU-hours the job uses are shown
    beside it. On-prem it is the job's GPU-hours at the spec's amortised rate."""
    pool = spec.pool(job.pool)
    runs = job.expected_hours * job.runs_per_month
    gpu_hours = round(runs * job.workers * job.gpus_per_worker, 2)
    if pool.instance_type is None:
        rate = gpu_hour_usd(spec, pool.name)
        basis = (f"{job.expected_hours:g} h x {job.runs_per_month:g} runs x {job.workers} "
                 f"worker(s) x {job.gpus_per_worker} GPU x ${rate:g}/GPU-h (onprem.gpu_hour_usd)")
        return TrainingCost(job.name, pool.name, "on-prem", gpu_hours, None, rate,
                            round(gpu_hours * rate, 2), basis)
    hourly, inst = pool_node_rate(pool)
    nodes = job_nodes(pool, job)
    hours = round(nodes * runs, 2)
    basis = (f"{job.expected_hours:g} h x {job.runs_per_month:g} runs x {nodes} node(s) of "
             f"{pool.gpus_per_node} GPU for {job.workers} worker(s) x {job.gpus_per_worker} GPU "
             f"x ${hourly:g}/node-h ({inst.id} {pool.capacity}, {inst.source} {inst.as_of})")
    return TrainingCost(job.name, pool.name, pool.capacity, gpu_hours, hours,
                        round(hourly / pool.gpus_per_node, 6), round(hours * hourly, 2), basis)


def training_costs(spec: EnvironmentSpec) -> list[TrainingCost]:
    return [training_cost(spec, j) for j in spec.training.jobs]


def expected_artifact_gib(env: Environment) -> int:
    if env.spec.artifacts.expected_gib is not None:
        return env.spec.artifacts.expected_gib
    weights = sum(p.budget.weights_gib * p.tensor_parallel for p in env.plans.values())
    return max(1, math.ceil(weights * WEIGHT_VERSIONS_KEPT))


def gpu_hour_usd(spec: EnvironmentSpec, pool_name: str, on_demand: bool = False) -> float:
    """The deploy-time price of one GPU-hour in a pool: the catalog price of the pool's
    instance type (spot or on-demand; `on_demand` asks for the on-demand rate whatever the
    pool buys, what spot saves against) over its GPUs, else the spec's amortised on-prem
    rate."""
    pool = spec.pool(pool_name)
    if pool.instance_type is not None:
        inst = catalog.instances()[pool.instance_type]
        spot = pool.capacity == "spot" and not on_demand and inst.spot_usd_per_hour
        hourly = inst.spot_usd_per_hour if spot else inst.on_demand_usd_per_hour
        return round(hourly / inst.gpu_count, 6)
    if spec.onprem is None:
        raise ValueError(f"pool {pool_name!r} has no instance_type and the spec no onprem rate")
    return spec.onprem.gpu_hour_usd


# --- the gateway ----------------------------------------------------------------------
# The gateway, its Redis and its CloudNativePG database run on the cluster's CPU (system)
# nodes, a fixed-size pool already priced whole as node-hours. Their CPU and memory are
# therefore not new spend: the plan shows them as their share of those nodes (attributed,
# not added to the total). Their volumes are new spend: block storage per GiB-month,
# added to the total, so the cost cap sees them. Read off the resource graph as a policy
# pack sees it (the objects of docs/architecture.md's gateway section), never the spec.
GATEWAY_PARTS = {"gateway": "gateway", "gateway-redis": "redis", "gateway-db": "database"}
CNPG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
_HPA = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:autoscaling/v1:HorizontalPodAutoscaler")
# The block storage each cloud's default StorageClass provisions (services.yaml). Azure's
# managed disks are billed per disk size tier, not per GiB: no row, priced 0 with a reason.
BLOCK_STORAGE = {"aws": "aws-ebs-gp3", "gcp": "gcp-pd-balanced"}
_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
             "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "m": 1e-3}

Graph = list[tuple[str, str, dict[str, Any]]]


@dataclass(frozen=True)
class GatewayCost:
    name: str
    part: str  # gateway | redis | database
    kind: str  # compute | storage
    monthly_usd: float
    basis: str
    # False: already paid in another line (the CPU nodes the pods run on), or unpriced.
    in_total: bool
    # The line it adds to cost.json's resources (storage with a price), else None.
    item: LineItem | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "item"}


def quantity(value: Any) -> float | None:
    """A Kubernetes quantity ("500m", "2Gi", 4) in base units; None when absent or bad."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    for suffix, factor in sorted(_SUFFIXES.items(), key=lambda s: -len(s[0])):
        if value.endswith(suffix):
            number, scale = value[: -len(suffix)], factor
            break
    else:
        number, scale = value, 1.0
    try:
        return float(number) * scale
    except ValueError:
        return None


K8S_PROVIDER = "pulumi:providers:kubernetes"


def graph_cloud(graph: Graph) -> str | None:
    """The one cloud whose resources the graph holds; None on-prem (or several clouds)."""
    found = {c.name for t, _, _ in graph if (c := clouds.of_type(t)) is not None}
    return found.pop() if len(found) == 1 else None


def serving_cloud(graph: Graph) -> str | None:
    """The cloud whose cluster runs the model namespace (and the gateway in it); None when
    that cluster is on-prem. A Kubernetes provider for no cloud cluster is an on-prem
    cluster, and a hybrid puts the model layer there (components/topology.py `_hybrid`)."""
    clusters = sum(
        1 for t, _, _ in graph if (c := clouds.of_type(t)) is not None and t in c.policy.endpoint
    )
    providers = sum(1 for t, _, _ in graph if t == K8S_PROVIDER)
    return None if providers > clusters else graph_cloud(graph)


def cpu_node(graph: Graph) -> catalog.InstanceInfo | None:
    """The dearest CPU-only catalog instance type the graph's node pools run: the nodes
    the gateway's pods are scheduled on (they request no GPU)."""
    found = []
    for type_, _, inputs in graph:
        cloud = clouds.of_type(type_)
        reader = cloud.policy.instance_types.get(type_) if cloud is not None else None
        for t in reader(inputs) if reader is not None else []:
            inst = catalog.instances().get(t) if isinstance(t, str) else None
            if inst is not None and inst.gpu_count == 0:
                found.append(inst)
    return max(found, key=lambda i: i.on_demand_usd_per_hour, default=None)


def _requests(pod: dict[str, Any]) -> tuple[float, float]:
    """(vCPU, GiB) the pod's containers request."""
    cpu = mem = 0.0
    for c in pod.get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += quantity(req.get("cpu")) or 0.0
        mem += (quantity(req.get("memory")) or 0.0) / 2**30
    return cpu, mem


def _pods_share(
    name: str, part: str, pods: float, requests: tuple[float, float],
    node: catalog.InstanceInfo | str,
) -> GatewayCost:
    """Pods x their dominant share of a node (the larger of CPU and memory fraction, what
    keeps other pods off it) x the node's hourly price; `node` is why there is none when
    it is a string."""
    cpu, mem = requests
    if isinstance(node, str):
        return GatewayCost(name, part, "compute", 0.0, f"{pods:g} pod(s) x {cpu:g} vCPU, "
                           f"{mem:g} GiB: no CPU node price ({node})", False)
    share = max(cpu / node.vcpu, mem / node.memory_gib)
    usd = round(pods * share * node.on_demand_usd_per_hour * HOURS_PER_MONTH, 2)
    basis = (f"{pods:g} pod(s) x max({cpu:g}/{node.vcpu} vCPU, {mem:g}/{node.memory_gib:g} GiB)"
             f" of a {node.id} x ${node.on_demand_usd_per_hour:g}/h x {HOURS_PER_MONTH} h "
             f"({node.source} {node.as_of}); inside the CPU node pool's line")
    return GatewayCost(name, part, "compute", usd, basis, False)


def _volume(type_: str, name: str, part: str, gib: float, cloud: str | None) -> GatewayCost:
    service_id = BLOCK_STORAGE.get(cloud or "")
    if service_id is None:
        why = (
            "an on-prem cluster: the spec has no storage rate"
            if cloud is None
            else f"{cloud} bills disks per size tier, not per GiB: no catalog rate"
        )
        return GatewayCost(name, part, "storage", 0.0, f"{gib:g} GiB: {why}", False)
    item = service(type_, name, service_id, gib)
    return GatewayCost(name, part, "storage", item.monthly_usd, item.basis, True, item)


def _part(inputs: dict[str, Any]) -> str | None:
    labels = (inputs.get("metadata") or {}).get("labels") or {}
    return GATEWAY_PARTS.get(labels.get(APP_COMPONENT, ""))


def _min_replicas(graph: Graph) -> dict[str, float]:
    """Deployment name -> the minimum replicas its HPA keeps (the steady state)."""
    out = {}
    for type_, _, inputs in graph:
        spec = inputs.get("spec") or {}
        target = (spec.get("scaleTargetRef") or {}).get("name")
        if type_ in _HPA and target:
            out[target] = float(spec.get("minReplicas") or 1)
    return out


def gateway_costs(graph: Graph) -> list[GatewayCost]:
    """What the gateway, its Redis and its database cost a month: pods as their share of
    the CPU nodes, the database's volumes and any ReadWriteOnce claim of theirs as storage."""
    cloud, scaled = serving_cloud(graph), _min_replicas(graph)
    node = (cpu_node(graph) if cloud is not None else None) or (
        "an on-prem cluster: the spec prices GPU-hours only"
        if cloud is None
        else "no CPU-only catalog instance type in the graph's node pools"
    )
    out = []
    for type_, name, inputs in graph:
        part, spec = _part(inputs), inputs.get("spec") or {}
        if part is None and type_ != CNPG_CLUSTER:
            continue
        meta_name = (inputs.get("metadata") or {}).get("name") or name
        if type_ == "kubernetes:apps/v1:Deployment" and part is not None:
            pods = scaled.get(meta_name, float(spec.get("replicas") or 1))
            pod = (spec.get("template") or {}).get("spec") or {}
            out.append(_pods_share(meta_name, part, pods, _requests(pod), node))
        elif type_ == CNPG_CLUSTER:
            instances = float(spec.get("instances") or 1)
            gib = (quantity((spec.get("storage") or {}).get("size")) or 0.0) / 2**30
            out.append(_pods_share(meta_name, "database", instances,
                                   _requests({"containers": [spec]}), node))
            out.append(_volume(type_, meta_name, "database", instances * gib, cloud))
        elif type_ == PVC and part is not None:
            out.append(_claim(meta_name, part, spec, cloud))
    return out


def _claim(name: str, part: str, spec: dict[str, Any], cloud: str | None) -> GatewayCost:
    gib = (quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
           or 0.0) / 2**30
    if "ReadWriteMany" in (spec.get("accessModes") or []):
        # A shared file system (EFS, Filestore, Azure Files, NFS) bills by its own terms
        # (stored bytes, or a provisioned minimum), which the claim does not say.
        return GatewayCost(name, part, "storage", 0.0, f"{gib:g} GiB ReadWriteMany: billed by "
                           f"the file service behind its StorageClass, not priced here", False)
    return _volume(PVC, name, part, gib, cloud)


GATEWAY_CONFIG = "llm-gateway-config"


def gateway_config(graph: Graph) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(gateway.json, LiteLLM's config.yaml) from the gateway's ConfigMap; None without one
    or while its data is not known (preview)."""
    for type_, _, inputs in graph:
        meta = inputs.get("metadata") or {}
        if type_ != "kubernetes:core/v1:ConfigMap" or meta.get("name") != GATEWAY_CONFIG:
            continue
        data = inputs.get("data") or {}
        settings, proxy = data.get("gateway.json"), data.get("config.yaml")
        if not isinstance(settings, str):
            return None
        loaded = yaml.safe_load(proxy) if isinstance(proxy, str) else None
        return json.loads(settings), loaded if isinstance(loaded, dict) else {}
    return None


def price_graph(graph: Graph) -> list[LineItem]:
    """Every resource's price, and the gateway's volumes (priced from the graph's cloud,
    which no single Kubernetes object states)."""
    items = [item for t, n, inputs in graph for item in price_resource(t, n, inputs)]
    return items + [c.item for c in gateway_costs(graph) if c.item is not None]


@dataclass(frozen=True)
class ModelEconomics:
    monthly_usd: float
    gpu_hours_per_month: float
    conversations_per_month: float
    usd_per_1k_conversations: float | None
    hosted_api: str | None
    hosted_usd_per_1k_conversations: float | None
    hosted_monthly_usd: float | None
    break_even_conversations_per_day: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def model_economics(
    monthly_usd: float,
    gpu_hours: float,
    conversations_per_day: float,
    turns_per_conversation: float,
    prompt_tokens_per_turn: int,
    completion_tokens_per_turn: int,
    hosted: tuple[str, float, float] | None,
) -> ModelEconomics:
    """Cost per 1,000 conversations and the break-even against a hosted API.

    `hosted` is (name, USD per million input tokens, USD per million output tokens). The
    break-even is the daily conversation volume at which the self-hosted monthly cost
    equals the hosted bill; above it self-hosting is cheaper.
    """
    conversations = conversations_per_day * DAYS_PER_MONTH
    per_1k = round(monthly_usd / conversations * 1000, 4) if conversations > 0 else None
    hosted_name = hosted_per_1k = hosted_monthly = break_even = None
    if hosted is not None:
        hosted_name, usd_in, usd_out = hosted
        per_conv = (
            turns_per_conversation
            * (prompt_tokens_per_turn * usd_in + completion_tokens_per_turn * usd_out)
            / 1e6
        )
        hosted_per_1k = round(per_conv * 1000, 4)
        hosted_monthly = round(per_conv * conversations, 2)
        break_even = round(monthly_usd / per_conv / DAYS_PER_MONTH, 1) if per_conv > 0 else math.inf
    return ModelEconomics(
        monthly_usd=round(monthly_usd, 2),
        gpu_hours_per_month=gpu_hours,
        conversations_per_month=round(conversations, 1),
        usd_per_1k_conversations=per_1k,
        hosted_api=hosted_name,
        hosted_usd_per_1k_conversations=hosted_per_1k,
        hosted_monthly_usd=hosted_monthly,
        break_even_conversations_per_day=break_even,
    )


def token_price(spec: EnvironmentSpec, plan: ServingPlan, model: Model) -> float:
    """What one token served by `model` costs in USD: its GPUs' hourly price at the planned
    minimum replicas over the tokens an hour its planned traffic brings. The gateway charges
    a team's requests at this price, so a month's spend at planned traffic is the model's
    GPU cost at its minimum replicas, the figure cost.json prices.

    One price for prompt and completion tokens alike: the GPU-hours are paid whichever
    direction a token goes, and splitting them would need a prefill/decode cost share the
    plan does not measure (prefix caching and batching move it request by request).
    """
    traffic = model.traffic
    tokens_per_turn = traffic.prompt_tokens_per_turn + traffic.completion_tokens_per_turn
    tokens_per_hour = (
        traffic.conversations_per_day * traffic.turns_per_conversation * tokens_per_turn / 24
    )
    if tokens_per_hour <= 0:
        raise ValueError(f"model {model.name!r} plans no traffic, so its tokens have no price")
    return gpu_hour_usd(spec, model.pool) * plan.gpus_min / tokens_per_hour
