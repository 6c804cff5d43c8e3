"""components/pricing.py checked against prices worked out by hand.

Each expected dollar figure is written here from its catalog row (quoted beside it) and the
arithmetic: 730 h a month, GPUs, replicas, node-hours, conversations a month, hosted API
prices per million tokens. `test_catalog_rows_hold_the_quoted_prices` pins the quoted rows,
so a price update shows up as one failing test rather than as silently moved expectations.
The unit tests call the pricing functions in-process with hand-made inputs (mutmut counts
only those); the stack tests at the end compare a real plan's cost.json with a calculation
from the stack file and the catalog alone, never with the plan's own summary.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest
from conftest import stack_spec

from components import catalog, pricing
from components.spec import Environment, GpuPool, load_spec

DAYS = 365 / 12
GIB = 2**30

# (catalog file, row id, field) -> the figure the expectations below are computed from.
QUOTED = {
    ("instances", "g6e.xlarge", "on_demand_usd_per_hour"): 1.861,
    ("instances", "g6e.xlarge", "spot_usd_per_hour"): 0.80,
    ("instances", "g6e.2xlarge", "on_demand_usd_per_hour"): 2.24208,
    ("instances", "g6e.2xlarge", "spot_usd_per_hour"): 0.96,
    ("instances", "g6e.12xlarge", "on_demand_usd_per_hour"): 10.493,
    ("instances", "g6e.12xlarge", "gpu_count"): 4,
    ("instances", "m6i.xlarge", "on_demand_usd_per_hour"): 0.192,
    ("instances", "m6i.xlarge", "spot_usd_per_hour"): None,
    ("instances", "g2-standard-48", "on_demand_usd_per_hour"): 3.99845,
    ("instances", "g2-standard-48", "spot_usd_per_hour"): 1.59938,
    ("instances", "g2-standard-48", "gpu_count"): 4,
    ("services", "aws-eks-cluster", "usd"): 0.10,
    ("services", "aws-nat-gateway", "usd"): 0.045,
    ("services", "aws-public-ipv4", "usd"): 0.005,
    ("services", "aws-s3-standard", "usd"): 0.023,
    ("services", "aws-kms-key", "usd"): 1.00,
    ("services", "aws-ebs-gp3", "usd"): 0.08,
    ("services", "gcp-pd-balanced", "usd"): 0.10,
    ("instances", "e2-standard-4", "on_demand_usd_per_hour"): 0.134012,
    ("instances", "Standard_D4s_v5", "on_demand_usd_per_hour"): 0.192,
}
EC2 = "https://aws.amazon.com/ec2/pricing/on-demand/ 2026-11-23"


def test_catalog_rows_hold_the_quoted_prices():
    rows = {"instances": catalog.instances(), "services": catalog.services()}
    for (table, row_id, field), figure in QUOTED.items():
        assert getattr(rows[table][row_id], field) == figure, (table, row_id, field)


def test_a_month_is_730_hours_and_365_12_days():
    # The three clouds' price pages bill 730 h a month; pricing.DAYS_PER_MONTH feeds the
    # conversations a month, so both are user-visible through every line of cost.json.
    assert pricing.HOURS_PER_MONTH == 730
    assert pricing.DAYS_PER_MONTH == 365 / 12  # 30.4167


# --- the gateway: its volumes in the total, its pods as their share of the CPU nodes ---
# Objects as components/kubernetes/gateway builds them (the issue 16 contract): the
# Deployment llm-gateway and the Redis Deployment llm-gateway-redis by their component
# label, the CloudNativePG Cluster llm-gateway-db, the request-log claim.

COMPONENT = "app.kubernetes.io/component"
CNPG = "kubernetes:postgresql.cnpg.io/v1:Cluster"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
DEPLOY = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
K8S = "pulumi:providers:kubernetes"


def pods(name: str, component: str, cpu: str, memory: str, replicas: int | None = None) -> tuple:
    spec: dict = {"template": {"spec": {"containers": [
        {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return (DEPLOY, f"x-{name}", {"metadata": {"name": name, "labels": {COMPONENT: component}},
                                  "spec": spec})


def claim(name: str, size: str, mode: str) -> tuple:
    return (PVC, f"x-{name}", {"metadata": {"name": name, "labels": {COMPONENT: "gateway"}},
                               "spec": {"accessModes": [mode],
                                        "resources": {"requests": {"storage": size}}}})


CLUSTER_DB = (CNPG, "x-db", {"metadata": {"name": "llm-gateway-db"}, "spec": {
    "instances": 2, "storage": {"size": "10Gi"},
    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}}}})
GATEWAY_OBJECTS = [
    pods("llm-gateway", "gateway", "500m", "1Gi"),
    (HPA, "x-hpa", {"spec": {"scaleTargetRef": {"name": "llm-gateway"}, "minReplicas": 2}}),
    pods("llm-gateway-redis", "gateway-redis", "100m", "128Mi", replicas=1),
    CLUSTER_DB,
    claim("request-logs", "20Gi", "ReadWriteMany"),
    # Not the gateway's: a model server is priced by its GPU-hour annotation, not here.
    pods("assistant", "model-server", "4", "16Gi", replicas=1),
]
AWS_CLUSTER = [
    ("aws:eks/cluster:Cluster", "eks", {}),
    (K8S, "k8s", {}),
    ("aws:eks/nodeGroup:NodeGroup", "system", {"instanceTypes": ["m6i.xlarge"]}),
    ("aws:eks/nodeGroup:NodeGroup", "gpu", {"instanceTypes": ["g6e.xlarge"]}),
]


def costs(graph: list) -> list[tuple]:
    return [(c.name, c.part, c.kind, c.monthly_usd, c.in_total)
            for c in pricing.gateway_costs(graph)]


def test_the_gateway_on_eks_by_hand():
    # m6i.xlarge: 4 vCPU, 16 GiB, $0.192/h on demand (instances.yaml); the g6e.xlarge GPU
    # node is not where the gateway runs. A pod costs its dominant share of that node.
    node_month = 0.192 * 730  # $140.16
    assert costs(AWS_CLUSTER + GATEWAY_OBJECTS) == [
        # the HPA's 2 pods, max(0.5/4, 1/16) = 0.125 of a node each: $35.04
        ("llm-gateway", "gateway", "compute", round(2 * 0.125 * node_month, 2), False),
        # 1 pod, max(0.1/4, 0.125/16) = 0.025: $3.50
        ("llm-gateway-redis", "redis", "compute", round(0.025 * node_month, 2), False),
        # 2 instances, max(0.25/4, 0.5/16) = 0.0625: $17.52
        ("llm-gateway-db", "database", "compute", round(2 * 0.0625 * node_month, 2), False),
        # 2 instances x 10 GiB of gp3 at $0.08: $1.60, the only line added to the total
        ("llm-gateway-db", "database", "storage", 1.60, True),
        # a shared file system bills by its own terms
        ("request-logs", "gateway", "storage", 0.0, False),
    ]
    added = [i for i in pricing.price_graph(AWS_CLUSTER + GATEWAY_OBJECTS) if i.type == CNPG]
    assert [(i.name, i.quantity, i.unit, i.unit_usd, i.monthly_usd) for i in added] == [
        ("llm-gateway-db", 20, "GiB-month", 0.08, 1.60)]
    assert "aws-ebs-gp3, https://aws.amazon.com/ebs/pricing/ 2026-12-02" in added[0].basis


def test_a_gateway_pod_costs_its_dominant_resource():
    # 0.1 of 4 vCPU but 8 of 16 GiB: half a node, $70.08 a month; without an HPA, the
    # Deployment's own replicas (3), and none stated is 1.
    graph = [*AWS_CLUSTER, pods("llm-gateway", "gateway", "100m", "8Gi", replicas=3),
             pods("llm-gateway-redis", "gateway-redis", "1000m", "0.5Gi")]
    assert costs(graph) == [
        ("llm-gateway", "gateway", "compute", round(3 * 0.5 * 0.192 * 730, 2), False),
        ("llm-gateway-redis", "redis", "compute", round(0.25 * 0.192 * 730, 2), False)]


def test_a_read_write_once_claim_of_the_gateway_is_block_storage():
    graph = [*AWS_CLUSTER, claim("scratch", "5Gi", "ReadWriteOnce")]
    assert costs(graph) == [("scratch", "gateway", "storage", 0.40, True)]  # 5 x $0.08
    (item,) = pricing.price_graph(graph)[-1:]
    assert (item.type, item.quantity, item.monthly_usd) == (PVC, 5, 0.40)


def test_the_gateway_on_gke_and_aks():
    gke = [("gcp:container/cluster:Cluster", "gke", {}), (K8S, "k8s", {}),
           ("gcp:container/nodePool:NodePool", "sys", {"nodeConfig": {
               "machineType": "e2-standard-4"}}), CLUSTER_DB]
    # e2-standard-4: 4 vCPU, 16 GiB, $0.134012/h; pd-balanced $0.10 per GiB-month.
    assert costs(gke) == [
        ("llm-gateway-db", "database", "compute", round(2 * 0.0625 * 0.134012 * 730, 2), False),
        ("llm-gateway-db", "database", "storage", 2.00, True)]
    aks = [("azure-native:containerservice:ManagedCluster", "aks", {}), (K8S, "k8s", {}),
           ("azure-native:containerservice:AgentPool", "sys", {"vmSize": "Standard_D4s_v5"}),
           CLUSTER_DB]
    found = pricing.gateway_costs(aks)
    assert [(c.kind, c.monthly_usd, c.in_total) for c in found] == [
        ("compute", round(2 * 0.0625 * 0.192 * 730, 2), False), ("storage", 0.0, False)]
    assert found[1].basis == "20 GiB: azure bills disks per size tier, not per GiB: no catalog rate"
    assert [i for i in pricing.price_graph(aks) if i.type == CNPG] == []


@pytest.mark.parametrize("cluster", [
    [],  # on-prem alone: no cloud in the graph
    AWS_CLUSTER + [(K8S, "onprem-k8s", {})],  # a hybrid: the models' cluster is on-prem
], ids=["onprem", "hybrid"])
def test_the_gateway_on_prem_is_priced_zero_with_the_reason(cluster):
    found = pricing.gateway_costs(cluster + GATEWAY_OBJECTS)
    assert {(c.monthly_usd, c.in_total) for c in found} == {(0.0, False)}
    assert [c.basis for c in found] == [
        "2 pod(s) x 0.5 vCPU, 1 GiB: no CPU node price (an on-prem cluster: the spec prices "
        "GPU-hours only)",
        "1 pod(s) x 0.1 vCPU, 0.125 GiB: no CPU node price (an on-prem cluster: the spec "
        "prices GPU-hours only)",
        "2 pod(s) x 0.25 vCPU, 0.5 GiB: no CPU node price (an on-prem cluster: the spec "
        "prices GPU-hours only)",
        "20 GiB: an on-prem cluster: the spec has no storage rate",
        "20 GiB ReadWriteMany: billed by the file service behind its StorageClass, not "
        "priced here",
    ]
    assert [i for i in pricing.price_graph(cluster + GATEWAY_OBJECTS) if i.type == CNPG] == []


@pytest.mark.parametrize(("text", "value"), [
    ("500m", 0.5), ("2", 2.0), (4, 4.0), ("1Gi", GIB), ("512Mi", GIB / 2), ("10G", 1e10),
    ("1.5Ki", 1536.0), ("1Ti", 2.0**40), (None, None), ("", None), ("lots", None), (True, None),
])
def test_kubernetes_quantities(text, value):
    assert pricing.quantity(text) == value


# --- GPU workloads (Deployments, StatefulSets and Rollouts carrying the GPU-hour annotation) ---

RATE = "llm-platform.dev/gpu-hour-usd"
MODEL = "llm-platform.dev/model"


def workload(replicas: int | None, containers: list | None, rate: str | None = "2.4",
             labels: dict | None = None) -> dict:
    spec: dict = {"template": {"spec": {"containers": containers}}}
    if replicas is not None:
        spec["replicas"] = replicas
    annotations = {RATE: rate} if rate is not None else {}
    return {"metadata": {"annotations": annotations, "labels": labels}, "spec": spec}


def gpus(n: int | str, key: str = "nvidia.com/gpu") -> dict:
    return {"name": "c", "resources": {"limits": {key: n, "cpu": "4"}}}


@pytest.mark.parametrize("kind", ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet",
                                  # a model with a rollout block: its Rollout's replicas
                                  "kubernetes:argoproj.io/v1alpha1:Rollout"])
def test_a_gpu_workload_costs_replicas_x_gpus_x_730_h_x_its_rate(kind):
    # 3 replicas x (2 NVIDIA + 1 AMD GPUs in two containers) x 730 h x $2.40 = $15,768.00.
    inputs = workload(3, [gpus("2"), gpus(1, "amd.com/gpu"), {"name": "sidecar"}],
                      labels={MODEL: "analyst"})
    (item,) = pricing.price_resource(kind, "analyst", inputs)
    assert item.to_json() == {
        "name": "analyst", "type": kind, "quantity": 3 * 3 * 730, "unit": "GPU-hour",
        "unit_usd": 2.4, "monthly_usd": 15768.0,
        "basis": "3 replica(s) x 3 GPU x 730 h x $2.4/GPU-h", "model": "analyst", "pool": None,
    }


def test_a_gpu_workload_without_replicas_runs_one_and_rounds_to_cents():
    # 1 replica x 1 GPU x 730 h x $1.2347 = $901.331 -> $901.33 (the Deployment default is 1).
    (item,) = pricing.price_resource(
        "kubernetes:apps/v1:Deployment", "bot", workload(None, [gpus(1)], rate="1.2347"))
    assert (item.quantity, item.monthly_usd, item.model) == (730, 901.33, None)
    assert item.basis == "1 replica(s) x 1 GPU x 730 h x $1.2347/GPU-h"


@pytest.mark.parametrize("inputs", [
    workload(2, [gpus(1)], rate=None),  # no rate: owned GPUs outside the cost report
    workload(2, [{"name": "cpu", "resources": {"limits": {"cpu": "2"}}}]),  # no GPU limit
    workload(2, [{"name": "cpu", "resources": None}, {"name": "cpu2"}]),
    workload(2, None),
    {"metadata": None, "spec": None},
    {},
], ids=["no-rate", "no-gpu-limit", "no-resources", "no-containers", "null-fields", "empty"])
def test_a_workload_without_a_rate_or_gpus_costs_nothing(inputs):
    assert pricing.price_resource("kubernetes:apps/v1:Deployment", "w", inputs) == []


def test_a_gpu_pod_that_is_not_a_workload_kind_is_not_priced():
    # A bare Pod or a Job with the annotation is not in the report's workload kinds.
    for kind in ("kubernetes:core/v1:Pod", "kubernetes:batch/v1:Job"):
        assert pricing.price_resource(kind, "w", workload(1, [gpus(1)])) == []


def test_resources_no_cloud_prices_cost_nothing():
    assert pricing.price_resource("aws:iam/role:Role", "r", {"name": "x"}) == []
    assert pricing.price_resource("random:index/randomId:RandomId", "r", {}) == []


# --- services priced per hour, per month, per GiB stored ---

NAT = {
    "name": "nat", "type": "aws:ec2/natGateway:NatGateway", "quantity": 730,
    "unit": "gateway-hour", "unit_usd": 0.045, "monthly_usd": 32.85,
    "basis": "730 gateway-hour x $0.045 (aws-nat-gateway, "
             "https://aws.amazon.com/vpc/pricing/ 2026-11-23)",
    "model": None, "pool": None,
}
KEY = {
    "name": "key", "type": "aws:kms/key:Key", "quantity": 1, "unit": "key-month",
    "unit_usd": 1.0, "monthly_usd": 1.0,
    "basis": "1 key-month x $1 (aws-kms-key, https://aws.amazon.com/kms/pricing/ 2026-11-23)",
    "model": None, "pool": None,
}


def test_an_always_on_service_is_730_hours_and_a_monthly_one_a_single_unit():
    # services.yaml aws-nat-gateway: $0.045 per gateway-hour; aws-kms-key: $1.00 a key-month.
    # Once through the AWS price table, once through the factories themselves: the table is
    # built at import, before a test can change what the factories return.
    for make, type_, name, expected in [
        (pricing.always_on("aws-nat-gateway"), "aws:ec2/natGateway:NatGateway", "nat", NAT),
        (pricing.per_month("aws-kms-key"), "aws:kms/key:Key", "key", KEY),
    ]:
        assert [i.to_json() for i in pricing.price_resource(type_, name, {})] == [expected]
        assert [i.to_json() for i in make(type_, name, {"tags": {}})] == [expected]


def test_a_bucket_costs_its_tagged_gib_and_nothing_without_the_tag():
    # services.yaml aws-s3-standard: $0.023 per GB-month; 333 GiB -> $7.659 -> $7.66.
    tags = {"llm-platform-expected-gib": "333"}
    (item,) = pricing.price_resource("aws:s3/bucket:Bucket", "b", {"tags": tags})
    assert (item.quantity, item.unit_usd, item.monthly_usd) == (333.0, 0.023, 7.66)
    assert pricing.price_resource("aws:s3/bucket:Bucket", "b", {"tags": {}}) == []
    assert pricing.price_resource("aws:s3/bucket:Bucket", "b", {"tags": None}) == []
    # The factory reads the size from the key it is given (GCP buckets carry labels).
    price = pricing.stored("aws-s3-standard", "labels")
    inputs = {"labels": {"llm-platform-expected-gib": "1000"}, "tags": tags}
    (item,) = price("gcp:storage/bucket:Bucket", "b", inputs)
    assert item.to_json() == {
        "name": "b", "type": "gcp:storage/bucket:Bucket", "quantity": 1000.0,
        "unit": "GB-month", "unit_usd": 0.023, "monthly_usd": 23.0,
        "basis": "1000 GB-month x $0.023 (aws-s3-standard, "
                 "https://aws.amazon.com/s3/pricing/ 2026-11-23)",
        "model": None, "pool": None,
    }
    assert price("t", "b", {"labels": None, "tags": tags}) == []
    assert price("t", "b", {"labels": {"other": "5"}}) == []


def test_service_rounds_to_cents_and_formats_the_quantity_short():
    # 12.5 h x $0.045 = $0.5625 -> $0.56.
    item = pricing.service("t", "n", "aws-nat-gateway", 12.5)
    assert item.monthly_usd == 0.56
    assert item.basis.startswith("12.5 gateway-hour x $0.045 (aws-nat-gateway, ")


# --- node pools ---

@pytest.mark.parametrize(("types", "spot", "tags", "default_nodes", "expected"), [
    # g6e.xlarge on-demand $1.861 x 2 nodes x 730 h = $2,717.06.
    (["g6e.xlarge"], False, {}, 2, (1460.0, 1.861, 2717.06,
     f"1460 node-h x $1.861 (g6e.xlarge on-demand, {EC2})")),
    # The dearest type prices the pool: g6e.2xlarge on-demand $2.24208 x 200 node-h = $448.42.
    (["g6e.xlarge", "g6e.2xlarge", "not-in-catalog"], False,
     {"llm-platform-node-hours": "200", "llm-platform-pool": "train"}, 3,
     (200.0, 2.24208, 448.42, f"200 node-h x $2.24208 (g6e.2xlarge on-demand, {EC2})")),
    # Spot: g6e.2xlarge $0.96 over g6e.xlarge $0.80, 200 node-h = $192.00.
    (["g6e.2xlarge", "g6e.xlarge"], True, {"llm-platform-node-hours": "200"}, 0,
     (200.0, 0.96, 192.0, f"200 node-h x $0.96 (g6e.2xlarge spot, {EC2})")),
    # No spot price in the row (m6i.xlarge): spot capacity is priced on-demand, $0.192.
    (["m6i.xlarge"], True, {}, 1, (730.0, 0.192, 140.16,
     f"730 node-h x $0.192 (m6i.xlarge spot, {EC2})")),
    # Half a node on average (desired 0.5) prices 365 node-h.
    (["g6e.xlarge"], True, {}, 0.5, (365.0, 0.80, 292.0,
     f"365 node-h x $0.8 (g6e.xlarge spot, {EC2})")),
    # One type listed twice is one line at its price.
    (["g6e.xlarge", "g6e.xlarge"], False, {}, 1, (730.0, 1.861, 1358.53,
     f"730 node-h x $1.861 (g6e.xlarge on-demand, {EC2})")),
], ids=["on-demand-default-hours", "dearest-on-demand-tagged-hours", "dearest-spot",
        "spot-without-spot-price", "fractional-nodes", "same-type-twice"])
def test_a_node_pool_costs_its_node_hours_at_its_dearest_type(types, spot, tags, default_nodes,
                                                              expected):
    item = pricing.nodes("aws:eks/nodeGroup:NodeGroup", "ng", types, spot, tags, default_nodes)
    assert (item.quantity, item.unit_usd, item.monthly_usd, item.basis) == expected
    assert (item.name, item.type, item.unit, item.pool, item.model) == (
        "ng", "aws:eks/nodeGroup:NodeGroup", "node-hour", tags.get("llm-platform-pool"), None)


def test_two_types_at_one_price_price_the_pool_at_the_first_listed():
    # m6i.xlarge and Standard_D4s_v5 both cost $0.192 an hour on demand: the rows are never
    # compared with each other (they do not order), and 730 h x $0.192 = $140.16.
    item = pricing.nodes("t", "ng", ["m6i.xlarge", "Standard_D4s_v5"], False, {}, 1)
    assert (item.monthly_usd, item.basis) == (140.16, f"730 node-h x $0.192 (m6i.xlarge on-demand, {EC2})")


def test_a_node_pool_of_unknown_types_is_refused():
    with pytest.raises(ValueError, match=r"^ng: no catalog price for instance types \['x1', 'y2'\]$"):
        pricing.nodes("t", "ng", ["x1", "y2"], False, {}, 1)


def test_an_eks_node_group_reads_its_desired_size_and_capacity_type():
    # 3 desired g6e.xlarge nodes on spot ($0.80): 2,190 node-h = $1,752.00.
    inputs = {"instanceTypes": ["g6e.xlarge"], "capacityType": "SPOT",
              "scalingConfig": {"desiredSize": 3}, "tags": {"llm-platform-pool": "l40s"}}
    (item,) = pricing.price_resource("aws:eks/nodeGroup:NodeGroup", "ng", inputs)
    assert (item.quantity, item.monthly_usd, item.pool) == (2190.0, 1752.0, "l40s")


def pool(**over) -> GpuPool:
    raw = {"name": "p", "gpu": "L40S", "gpus_per_node": 4, "min_nodes": 1, "max_nodes": 8}
    return GpuPool.model_validate({**raw, **over})


@pytest.mark.parametrize(("over", "gpus_min", "steady", "hours"), [
    ({}, 0, 1, 730),  # the floor: min_nodes 1
    ({}, 4, 1, 730),  # 4 GPUs fill one 4-GPU node exactly
    ({}, 5, 2, 1460),  # a fifth GPU needs a second node
    ({}, 9, 3, 2190),  # ceil(9 / 4) = 3
    ({"min_nodes": 3}, 5, 3, 2190),  # the floor is above what the replicas need
    ({"min_nodes": 0}, 0, 0, 0),  # a pool that may scale to zero and holds no replica
    ({"min_nodes": 0, "node_hours_per_month": 200.4}, 9, 3, 200),  # stated hours win, rounded
    ({"min_nodes": 0, "node_hours_per_month": 200.6}, 0, 0, 201),
    ({"min_nodes": 0, "node_hours_per_month": 0}, 4, 1, 0),  # a stated 0 is not "unset"
])
def test_steady_nodes_and_node_hours(over, gpus_min, steady, hours):
    p = pool(**over)
    assert pricing.steady_nodes(p, gpus_min) == steady
    assert pricing.node_hours(p, gpus_min) == hours


def test_pool_tags_carry_the_name_purpose_and_node_hours():
    # These tag keys are what the policy pack and the cost report read off a cloud resource.
    assert pricing.pool_tags(pool(name="train", purpose="training"), 200) == {
        "llm-platform-pool": "train",
        "llm-platform-purpose": "training",
        "llm-platform-node-hours": "200",
    }


# --- the GPU-hour rate a workload is annotated with ---

def spec_with_pools(stack: str, *pools: GpuPool):
    return load_spec(stack_spec(stack)).spec.model_copy(update={"gpu_pools": list(pools)})


@pytest.mark.parametrize(("instance", "capacity", "expected"), [
    ("g6e.xlarge", "on-demand", 1.861),  # instances.yaml: $1.861/h, 1 GPU
    ("g6e.xlarge", "spot", 0.80),  # instances.yaml: spot $0.80/h
    ("g6e.12xlarge", "on-demand", 10.493 / 4),  # $10.493/h over 4 GPUs = $2.62325
    ("g2-standard-48", "on-demand", 0.999613),  # $3.99845/h / 4 = $0.99961250 -> 6 decimals
    ("g2-standard-48", "spot", 0.399845),  # spot $1.59938/h / 4
])
def test_a_cloud_gpu_hour_is_the_instance_price_over_its_gpus(instance, capacity, expected):
    stack = "gcp" if instance.startswith("g2") else "aws"
    gpu = "L4" if stack == "gcp" else "L40S"
    count = catalog.instances()[instance].gpu_count
    spec = spec_with_pools(stack, pool(name="x", gpu=gpu, gpus_per_node=count,
                                       instance_type=instance, capacity=capacity))
    assert pricing.gpu_hour_usd(spec, "x") == expected


def test_an_onprem_gpu_hour_is_the_amortised_rate_and_without_one_it_is_refused():
    local = load_spec(stack_spec("local")).spec  # onprem.gpu_hour_usd: 1.10
    assert pricing.gpu_hour_usd(local, "l40s") == 1.10
    with pytest.raises(ValueError, match="pool 'l40s' has no instance_type and the spec no onprem rate"):
        pricing.gpu_hour_usd(local.model_copy(update={"onprem": None}), "l40s")


# --- the artifact bucket's expected size ---

def env_with_weights(stack: str, *weights_tp: tuple[float, int]) -> Environment:
    """The stack's environment with each model's weights (GiB per GPU) and TP set by hand."""
    env = load_spec(stack_spec(stack))
    plans = {
        name: replace(plan, tensor_parallel=tp, budget=replace(plan.budget, weights_gib=gib))
        for (name, plan), (gib, tp) in zip(env.plans.items(), weights_tp, strict=True)
    }
    return replace(env, plans=plans)


@pytest.mark.parametrize(("stack", "weights_tp", "expected"), [
    ("local", [(14.96, 1)], 45),  # 3 versions x 14.96 GiB = 44.88 -> 45
    ("local", [(16.5, 2)], 99),  # 3 x 16.5 GiB x 2 GPUs = 99
    ("onprem-mixed", [(14.2, 1), (32.9, 2)], 240),  # 3 x (14.2 + 65.8) = 240
    ("onprem-mixed", [(0.1, 1), (0.2, 2)], 2),  # 3 x 0.5 = 1.5 -> 2
    ("local", [(0.0, 1)], 1),  # never a zero-sized bucket
])
def test_the_bucket_holds_three_versions_of_every_models_weights(stack, weights_tp, expected):
    assert pricing.expected_artifact_gib(env_with_weights(stack, *weights_tp)) == expected


def test_a_stated_bucket_size_wins():
    assert pricing.expected_artifact_gib(load_spec(stack_spec("aws"))) == 500  # artifacts.expected_gib


# --- economics per model ---

def test_economics_against_a_hosted_api():
    # $5,256 a month for 1,500 conversations/day of 5 turns x (3,000 in + 600 out) tokens,
    # against $2.50 / $10.00 per million tokens (the onprem-mixed analyst's gpt-4o row).
    econ = pricing.model_economics(5256.0, 2190.0, 1500, 5, 3000, 600, ("gpt-4o", 2.50, 10.00))
    conversations = 1500 * 365 / 12  # 45,625 a month
    per_conv = 5 * (3000 * 2.50 + 600 * 10.00) / 1e6  # $0.0675
    assert econ.to_json() == {
        "monthly_usd": 5256.0,
        "gpu_hours_per_month": 2190.0,
        "conversations_per_month": 45625.0,
        "usd_per_1k_conversations": 5256 / conversations * 1000,  # 115.2 exactly
        "hosted_api": "gpt-4o",
        "hosted_usd_per_1k_conversations": 67.5,
        "hosted_monthly_usd": round(per_conv * conversations, 2),  # 3079.69
        "break_even_conversations_per_day": round(5256 / per_conv / DAYS, 1),  # 2560.0
    }
    assert (econ.usd_per_1k_conversations, econ.hosted_monthly_usd,
            econ.break_even_conversations_per_day) == (115.2, 3079.69, 2560.0)


def test_economics_rounding():
    # 1,000.016 USD; 7/day x 1 turn x (1 in + 1 out) at $1.23456 / $0 per million tokens.
    econ = pricing.model_economics(1000.016, 1.5, 7, 1, 1, 1, ("api", 1.23456, 0.0))
    assert econ.monthly_usd == 1000.02
    assert econ.conversations_per_month == 212.9  # 7 x 30.4167 = 212.9167
    assert econ.usd_per_1k_conversations == 4696.7483  # 4,696.74834
    assert econ.hosted_usd_per_1k_conversations == 0.0012  # 1.23456e-6 x 1000
    assert econ.hosted_monthly_usd == 0.0  # 212.9 x $1.23456e-6 = $0.00026
    # 1000.016 / 1.23456e-6 / 30.4167 = 26,630,733.505 conversations a day
    assert econ.break_even_conversations_per_day == 26630733.5


def test_economics_of_under_one_conversation_a_month():
    # 0.01 conversations/day = 0.304 a month: $10 over it is $32,876.7123 per 1,000.
    econ = pricing.model_economics(10.0, 730.0, 0.01, 1, 100, 100, None)
    assert econ.conversations_per_month == 0.3
    assert econ.usd_per_1k_conversations == round(10 / (0.01 * DAYS) * 1000, 4) == 32876.7123


def test_economics_without_traffic_or_hosted_api():
    econ = pricing.model_economics(803.0, 730.0, 0, 4, 1200, 250, None)
    assert econ.to_json() == {
        "monthly_usd": 803.0, "gpu_hours_per_month": 730.0, "conversations_per_month": 0.0,
        "usd_per_1k_conversations": None, "hosted_api": None,
        "hosted_usd_per_1k_conversations": None, "hosted_monthly_usd": None,
        "break_even_conversations_per_day": None,
    }


def test_a_free_hosted_api_never_breaks_even():
    econ = pricing.model_economics(803.0, 730.0, 100, 4, 1200, 250, ("free", 0.0, 0.0))
    assert econ.break_even_conversations_per_day == math.inf
    assert (econ.hosted_usd_per_1k_conversations, econ.hosted_monthly_usd) == (0.0, 0.0)


# --- the gateway's price of a token: GPU $/h at the minimum replicas over planned tokens/h ---

def test_a_token_at_planned_traffic_pays_the_models_gpus_for_the_month():
    """local: assistant on the on-prem L40S pool at $1.10 a GPU-hour, one replica of TP1 at
    its minimum (Little's law: 30000 x 4 / 86400 requests/s x ~4.8 s = ~6.6 in flight, under
    the replica's sequences). Its traffic: 30000 conversations x 4 turns x (1200 + 250)
    tokens = 174,000,000 tokens a day, 7,250,000 an hour."""
    env = load_spec(stack_spec("local"))
    model = env.spec.models[0]
    plan = env.plans["assistant"]
    assert plan.gpus_min == 1
    price = pricing.token_price(env.spec, plan, model)
    assert price == pytest.approx(1.10 / 7_250_000)  # $1.5172e-7 a token, $0.1517 a million
    tokens_a_month = 174_000_000 * DAYS
    gpu_month = 1.10 * 1 * 730  # $803.00
    assert tokens_a_month * price == pytest.approx(gpu_month)
    assert gpu_month == pytest.approx(803.0)


def test_a_token_of_a_tensor_parallel_model_pays_all_its_gpus():
    """onprem-mixed: analyst, Llama-3.3-70B in fp8 on H100s at $2.40 a GPU-hour, TP2 at one
    replica; 1500 conversations x 5 turns x (3000 + 600) tokens / 24 h = 1,125,000 tokens an
    hour. (Its engine, Triton, gets no gateway route; the price is the arithmetic alone.)"""
    env = load_spec(stack_spec("onprem-mixed"))
    model = env.spec.models[1]
    plan = env.plans["analyst"]
    assert (plan.tensor_parallel, plan.replicas_min) == (2, 1)
    assert pricing.token_price(env.spec, plan, model) == pytest.approx(2.40 * 2 / 1_125_000)


def test_a_model_without_planned_traffic_has_no_token_price():
    env = load_spec(stack_spec("local"))
    model = env.spec.models[0]
    idle = model.model_copy(update={"traffic": model.traffic.model_copy(
        update={"conversations_per_day": 0.0})})
    with pytest.raises(ValueError, match="model 'assistant' plans no traffic"):
        pricing.token_price(env.spec, env.plans["assistant"], idle)


# --- whole stacks: a real plan's cost.json against the stack file and the catalog ---
#
# The factors a plan's cost rests on are worked out here from the stack file, the catalog
# rows and the sizing rule the README documents, never read from the plan's summary:
# - tensor parallelism: the smallest degree whose per-GPU share of the engine's memory
#   (gpu_memory_utilization, 0.9 by default, x the GPU's memory) holds the weights, one
#   max_context request's KV cache and the engine's own overhead, and whose prefill of one
#   prompt takes at most 50 % of the TTFT p95 SLO at 40 % of the GPU's dense FLOPS;
# - minimum replicas: the average requests in flight (Little's law: requests a second x the
#   latency of one) over the sequences a replica holds, rounded up, at least 1. A replica
#   holds at least max_context // (prompt + completion tokens) sequences, since its KV cache
#   holds one max_context request.

BF16, FP8 = 2, 1  # bytes per weight or KV element


def weights_bytes(params_b: float, vocab: int, hidden: int, per_weight: int) -> float:
    """Linear layers at `per_weight` bytes; embeddings and lm_head (untied) stay bf16 as
    vLLM keeps them when it quantizes (and as the RedHatAI FP8 checkpoints ship them)."""
    embed = 2 * vocab * hidden
    return (params_b * 1e9 - embed) * per_weight + embed * BF16


def overhead_gib(tp: int, hidden: int, intermediate: int, vocab: int, gpu_gib: float) -> float:
    """What vLLM's profiler holds besides weights and KV, per GPU (vLLM pull 10511: 1.79 GiB
    outside torch at TP1, 3.58 at TP2; its activation peak is 3 MLP-wide and 3 hidden-wide
    bf16 buffers per batched token plus 3.4 fp32 copies of 256 sequences' logits). vLLM
    v0.33.0 batches 8192 tokens on GPUs of 70 GiB and more, else 2048
    (EngineArgs.get_batch_defaults, vllm/engine/arg_utils.py)."""
    batched = 8192 if gpu_gib >= 70 else 2048
    activations = batched * (3 * intermediate / tp + 3 * hidden) * BF16 + 256 * vocab * 4 * 3.4
    return 1.79 * (1 + math.log2(tp)) + activations / GIB


def min_replicas(conversations_per_day: float, turns: float, prompt: int, completion: int,
                 max_context: int, latency_s: float) -> int:
    in_flight = conversations_per_day * turns / 86400 * latency_s
    fewest_sequences = max_context // (prompt + completion)
    # Any replica holds at least fewest_sequences, so this bound is the rule's answer when it is 1.
    bound = math.ceil(in_flight / fewest_sequences)
    assert bound == 1, (in_flight, fewest_sequences)
    return 1


def llama_8b_on_l40s_at_16k() -> tuple[int, int]:
    """TP and minimum replicas of assistant in the local and aws stacks: Llama-3.1-8B
    (models.yaml: 8.03 B params, 32 layers, 8 KV heads x 128, hidden 4096, MLP 14336,
    vocab 128256) on an L40S (gpus.yaml: 44.99 GiB, 864 GB/s, 362.05 bf16 TFLOPS), bf16,
    max_context 16384, TTFT p95 800 ms, 30,000 conversations/day of 4 turns x (1200 + 250)."""
    weights = weights_bytes(8.03, 128256, 4096, BF16) / GIB  # 14.96 GiB
    kv = 2 * 32 * 8 * 128 * BF16 * 16384 / GIB  # 2.0 GiB for one 16k request
    assert weights + kv + overhead_gib(1, 4096, 14336, 128256, 44.99) < 0.9 * 44.99  # 20.0 < 40.5
    prefill_s = 2 * 8.03e9 * 1200 / (362.05e12 * 0.4)  # 0.133 s
    assert prefill_s <= 0.5 * 0.800
    latency_s = prefill_s + 250 * weights * GIB / 864e9  # + 250 tokens x 18.6 ms = 4.78 s
    return 1, min_replicas(30000, 4, 1200, 250, 16384, latency_s)  # 6.6 in flight, >= 11 per replica


def test_local_stack_cost_by_hand(planned):
    # stacks/Pulumi.local.yaml: assistant on the l40s pool of owned GPUs at
    # onprem.gpu_hour_usd $1.10; nothing else in the stack is priced.
    tp, replicas = llama_8b_on_l40s_at_16k()
    monthly = replicas * tp * 730 * 1.10  # $803.00
    cost = planned["local"].cost
    assert cost["monthly_usd"] == pytest.approx(monthly) == 803.0
    assert [(i["type"], i["quantity"], i["unit_usd"]) for i in cost["resources"]] == [
        ("kubernetes:apps/v1:Deployment", replicas * tp * 730, 1.10)]
    assert cost["budget_used_pct"] == round(100 * monthly / 6000, 1)  # budget.monthly_usd 6000
    # hosted_api gpt-4o-mini: $0.15 in / $0.60 out per million tokens.
    per_conv = 4 * (1200 * 0.15 + 250 * 0.60) / 1e6  # $0.00132
    assert cost["models"]["assistant"] == {
        "monthly_usd": 803.0,
        "gpu_hours_per_month": 730,
        "conversations_per_month": 30000 * DAYS,  # 912,500
        "usd_per_1k_conversations": pytest.approx(803 / (30000 * DAYS) * 1000, abs=1e-4),  # 0.88
        "hosted_api": "gpt-4o-mini",
        "hosted_usd_per_1k_conversations": pytest.approx(per_conv * 1000),  # 1.32
        "hosted_monthly_usd": pytest.approx(per_conv * 30000 * DAYS),  # 1,204.50
        "break_even_conversations_per_day": pytest.approx(803 / per_conv / DAYS, abs=0.05),  # 20,000
    }


def test_onprem_mixed_stack_cost_by_hand(planned):
    # stacks/Pulumi.onprem-mixed.yaml: owned GPUs at onprem.gpu_hour_usd $2.40.
    # support-bot: Qwen2.5-7B (models.yaml: 7.62 B params, 28 layers, 4 KV heads x 128,
    # hidden 3584, MLP 18944, vocab 152064) on an L4 (gpus.yaml: 22.49 GiB, 300 GB/s, 121 bf16
    # TFLOPS), bf16 weights, fp8 KV, max_context 8192, TTFT 1000 ms.
    bot_weights = weights_bytes(7.62, 152064, 3584, BF16) / GIB  # 14.19 GiB
    bot_kv = 2 * 28 * 4 * 128 * FP8 * 8192 / GIB  # 0.22 GiB
    assert bot_weights + bot_kv + overhead_gib(1, 3584, 18944, 152064, 22.49) < 0.9 * 22.49
    bot_prefill = 2 * 7.62e9 * 900 / (121e12 * 0.4)  # 0.28 s
    assert bot_prefill <= 0.5 * 1.000
    bot_tp = 1
    # 8,000 conversations/day x 3 turns, 200 tokens x 50.8 ms: 2.9 in flight, >= 7 per replica.
    bot_replicas = min_replicas(8000, 3, 900, 200, 8192,
                                bot_prefill + 200 * bot_weights * GIB / 300e9)
    # analyst: Llama-3.3-70B (models.yaml: 70.6 B params, 80 layers, 8 KV heads x 128, hidden
    # 8192, MLP 28672, vocab 128256), quantization fp8, on H100-80GB (gpus.yaml: 79.65 GiB,
    # 3350 GB/s, 1979 fp8 TFLOPS), 8 per node, bf16 KV, max_context 32768, TTFT 2000 ms.
    weights = weights_bytes(70.6, 128256, 8192, FP8) / GIB  # 67.7 GiB in all
    kv = 2 * 80 * 8 * 128 * BF16 * 32768 / GIB  # 10 GiB for one 32k request
    assert weights + kv > 0.9 * 79.65  # TP1: 77.7 GiB > 71.7 before any overhead
    assert weights / 2 + kv / 2 + overhead_gib(2, 8192, 28672, 128256, 79.65) < 0.9 * 79.65
    prefill = 2 * 70.6e9 * 3000 / (2 * 1979e12 * 0.4)  # 0.27 s on 2 GPUs
    assert prefill <= 0.5 * 2.000
    analyst_tp = 2
    # 1,500 conversations/day x 5 turns, 600 tokens x 10.9 ms: 0.6 in flight, >= 9 per replica.
    analyst_replicas = min_replicas(1500, 5, 3000, 600, 32768,
                                    prefill + 600 * weights / 2 * GIB / 3350e9)

    cost = planned["onprem-mixed"].cost
    analyst_usd = analyst_replicas * analyst_tp * 730 * 2.40  # $3,504.00
    bot_usd = bot_replicas * bot_tp * 730 * 2.40  # $1,752.00
    assert cost["monthly_usd"] == pytest.approx(analyst_usd + bot_usd) == 5256.0
    analyst = cost["models"]["analyst"]
    assert (analyst["monthly_usd"], analyst["gpu_hours_per_month"]) == (3504.0, 2 * 730)
    conversations = 1500 * DAYS  # 45,625 a month
    assert analyst["usd_per_1k_conversations"] == pytest.approx(3504 / conversations * 1000)  # 76.8
    # hosted_api gpt-4o: $2.50 in / $10.00 out per million: 5 x (3000 in + 600 out) a conversation.
    per_conv = 5 * (3000 * 2.50 + 600 * 10.00) / 1e6  # $0.0675
    assert analyst["hosted_usd_per_1k_conversations"] == pytest.approx(per_conv * 1000)  # 67.5
    assert analyst["break_even_conversations_per_day"] == pytest.approx(
        3504 / per_conv / DAYS, abs=0.05)  # 1,706.7
    bot = cost["models"]["support-bot"]
    assert (bot["monthly_usd"], bot["gpu_hours_per_month"], bot["hosted_api"]) == (1752.0, 730, None)
    assert bot["usd_per_1k_conversations"] == pytest.approx(1752 / (8000 * DAYS) * 1000, abs=1e-4)


def test_aws_stack_cost_by_hand(planned):
    """stacks/Pulumi.aws.yaml in us-east-1, each line from its catalog row."""
    tp, replicas = llama_8b_on_l40s_at_16k()
    # l40s: g6e.xlarge has 1 L40S; nodes up = max(min_nodes 1, ceil(replicas x TP / 1)) = 1.
    l40s_nodes = max(1, math.ceil(replicas * tp / 1))
    # EKS 1.35 bills the standard-support rate until 2027-03-27 (kubernetes_versions.yaml eks-1.35),
    # then aws-eks-cluster-extended at $0.60 (the upgrade policy's default is EXTENDED).
    eks_usd = 0.10 if catalog.plan_date() < date(2027, 3, 27) else 0.60
    expected = sorted([
        # instances.yaml g6e.xlarge: on-demand $1.861/h ($1,358.53 a month)
        ("aws:eks/nodeGroup:NodeGroup", "l40s", l40s_nodes * 730, 1.861),
        # train: spot, node_hours_per_month 200, at the dearer of g6e.xlarge ($0.80) and
        # its extra type g6e.2xlarge ($0.96): $192.00
        ("aws:eks/nodeGroup:NodeGroup", "train", 200, 0.96),
        # aws.system_instance_type m6i.xlarge x system_nodes 2, on-demand $0.192/h: $280.32
        ("aws:eks/nodeGroup:NodeGroup", None, 2 * 730, 0.192),
        ("aws:eks/cluster:Cluster", None, 730, eks_usd),  # services.yaml aws-eks-cluster: $73.00
        # nat: per-az over the default zones us-east-1a, b, c: 3 NAT gateways at $0.045/h
        # (aws-nat-gateway) and their 3 Elastic IPs at $0.005/h (aws-public-ipv4)
        *[("aws:ec2/natGateway:NatGateway", None, 730, 0.045)] * 3,
        *[("aws:ec2/eip:Eip", None, 730, 0.005)] * 3,
        # artifacts.expected_gib 500 at $0.023 per GB-month (aws-s3-standard): $11.50
        ("aws:s3/bucket:Bucket", None, 500, 0.023),
        # its access logs' bucket, components/aws/bucket.py ACCESS_LOG_EXPECTED_GIB 5 at the
        # same rate: $0.11
        ("aws:s3/bucket:Bucket", None, 5, 0.023),
        # customer-managed keys at $1.00 a month (aws-kms-key): the cluster's Secrets, the
        # artifact bucket, the budget's SNS topic (and the enforcer) and the VPC flow logs
        *[("aws:kms/key:Key", None, 1, 1.00)] * 4,
        # the gateway's CloudNativePG database: 2 instances x 10 GiB (the spec's defaults) of
        # gp3 at $0.08 per GiB-month (aws-ebs-gp3): $1.60
        ("kubernetes:postgresql.cnpg.io/v1:Cluster", None, 2 * 10, 0.08),
    ], key=str)
    cost = planned["aws"].cost
    got = sorted(((i["type"], i["pool"], i["quantity"], i["unit_usd"]) for i in cost["resources"]),
                 key=str)
    assert got == expected
    for item in cost["resources"]:
        assert item["monthly_usd"] == round(item["quantity"] * item["unit_usd"], 2), item["name"]
    monthly = sum(round(q * usd, 2) for _, _, q, usd in expected)
    assert cost["monthly_usd"] == pytest.approx(monthly)
    if eks_usd == 0.10:
        assert monthly == pytest.approx(2030.56)
    # assistant carries the whole l40s pool: 730 node-h x 1 GPU, $1,358.53 a month.
    assistant = cost["models"]["assistant"]
    assert (assistant["monthly_usd"], assistant["gpu_hours_per_month"]) == (1358.53, 730)
    per_conv = 4 * (1200 * 0.15 + 250 * 0.60) / 1e6  # gpt-4o-mini, as in the local stack
    assert assistant["break_even_conversations_per_day"] == pytest.approx(
        1358.53 / per_conv / DAYS, abs=0.05)  # 33,836.4


def test_aws_stack_gateway_by_hand(planned):
    """The gateway block of stacks/Pulumi.aws.yaml, as cost.json and plan.json show it."""
    gateway = planned["aws"].cost["gateway"]
    # ceiling: budget.monthly_usd 6000 x hard_cap_pct 110 %; budgets 2000 + 600.
    assert (gateway["ceiling_usd"], gateway["teams_budget_usd"]) == (6600.0, 2600.0)
    assert (gateway["teams_over_ceiling"], gateway["teams_without_budget"]) == (False, [])
    assert gateway["teams"] == [
        {"name": "support-bot", "models": ["assistant"], "rpm": 600, "tpm": 500000,
         "max_parallel_requests": 64, "monthly_budget_usd": 2000.0},
        {"name": "internal-tools", "models": ["assistant"], "rpm": 120, "tpm": 150000,
         "max_parallel_requests": 16, "monthly_budget_usd": 600.0},
    ]
    tp, replicas = llama_8b_on_l40s_at_16k()
    # a token: the l40s GPU-hour ($1.861 / 1 GPU) x TP x min replicas over the planned
    # 30,000 conversations x 4 turns x 1,450 tokens a day / 24 h = 7,250,000 tokens/h.
    per_million = round(1.861 * tp * replicas / (30000 * 4 * 1450 / 24) * 1e6, 4)  # 0.2567
    assert gateway["routes"] == [{
        # backpressure: max-num-seqs 130 (the plan's) x max replicas 1
        "model": "assistant", "max_parallel_requests": 130 * 1,
        "usd_per_1m_input": per_million, "usd_per_1m_output": per_million,
        "fallback": "assistant-hosted", "fallback_upstream": "openai/gpt-4o-mini",
        "fallback_usd_per_1m_input": 0.15, "fallback_usd_per_1m_output": 0.60,
    }]
    node_month = 0.192 * 730  # m6i.xlarge, the system group
    assert [(c["name"], c["kind"], c["monthly_usd"], c["in_total"]) for c in gateway["costs"]] == [
        ("llm-gateway", "compute", round(2 * 0.125 * node_month, 2), False),  # replicas.min 2
        ("llm-gateway-redis", "compute", round(0.025 * node_month, 2), False),
        ("request-logs", "storage", 0.0, False),
        ("llm-gateway-db", "compute", round(2 * 0.0625 * node_month, 2), False),
        ("llm-gateway-db", "storage", 1.60, True),
    ]
    assert (gateway["monthly_usd"], gateway["added_to_total_usd"]) == (57.66, 1.60)
    plan = planned["aws"].plan["gateway"]
    assert plan == {k: v for k, v in gateway.items() if k != "costs"}


def test_a_cloud_without_a_catalog_cpu_node_prices_the_pods_zero_and_says_why():
    # The system group runs a type the catalog does not list: its pods have no node price,
    # and its volumes still have the cloud's block rate.
    graph = [*AWS_CLUSTER[:2], ("aws:eks/nodeGroup:NodeGroup", "sys", {"instanceTypes": ["x9"]}),
             CLUSTER_DB]
    found = pricing.gateway_costs(graph)
    assert [(c.kind, c.monthly_usd, c.in_total, c.basis) for c in found] == [
        ("compute", 0.0, False, "2 pod(s) x 0.25 vCPU, 0.5 GiB: no CPU node price (no CPU-only "
         "catalog instance type in the graph's node pools)"),
        ("storage", 1.60, True, found[1].basis)]
