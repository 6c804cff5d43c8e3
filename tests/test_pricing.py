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

import pytest
from conftest import stack_spec

from components import catalog, pricing
from components.spec import Environment, GpuPool, load_spec

HOURS = 730  # AWS, GCP and Azure price pages bill a month as 8760 h / 12
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


# --- GPU workloads (Deployments and StatefulSets carrying the GPU-hour annotation) ---

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


@pytest.mark.parametrize("kind", ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"])
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

def test_an_always_on_service_is_730_hours_of_its_catalog_price():
    # services.yaml aws-nat-gateway: $0.045 per gateway-hour, us-east-1.
    (item,) = pricing.price_resource("aws:ec2/natGateway:NatGateway", "nat", {})
    assert item.to_json() == {
        "name": "nat", "type": "aws:ec2/natGateway:NatGateway", "quantity": 730,
        "unit": "gateway-hour", "unit_usd": 0.045, "monthly_usd": 32.85,
        "basis": "730 gateway-hour x $0.045 (aws-nat-gateway, "
                 "https://aws.amazon.com/vpc/pricing/ 2026-11-23)",
        "model": None, "pool": None,
    }


def test_a_monthly_service_is_one_unit_of_its_catalog_price():
    # services.yaml aws-kms-key: $1.00 per key-month.
    (item,) = pricing.price_resource("aws:kms/key:Key", "key", {})
    assert (item.quantity, item.unit, item.monthly_usd) == (1, "key-month", 1.0)
    assert item.basis == "1 key-month x $1 (aws-kms-key, https://aws.amazon.com/kms/pricing/ 2026-11-23)"


def test_a_bucket_costs_its_tagged_gib_and_nothing_without_the_tag():
    # services.yaml aws-s3-standard: $0.023 per GB-month; 333 GiB -> $7.659 -> $7.66.
    tags = {"llm-platform-expected-gib": "333"}
    (item,) = pricing.price_resource("aws:s3/bucket:Bucket", "b", {"tags": tags})
    assert (item.quantity, item.unit_usd, item.monthly_usd) == (333.0, 0.023, 7.66)
    assert pricing.price_resource("aws:s3/bucket:Bucket", "b", {"tags": {}}) == []
    assert pricing.price_resource("aws:s3/bucket:Bucket", "b", {"tags": None}) == []


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
], ids=["on-demand-default-hours", "dearest-on-demand-tagged-hours", "dearest-spot",
        "spot-without-spot-price", "fractional-nodes"])
def test_a_node_pool_costs_its_node_hours_at_its_dearest_type(types, spot, tags, default_nodes,
                                                              expected):
    item = pricing.nodes("aws:eks/nodeGroup:NodeGroup", "ng", types, spot, tags, default_nodes)
    assert (item.quantity, item.unit_usd, item.monthly_usd, item.basis) == expected
    assert (item.unit, item.pool, item.model) == ("node-hour", tags.get("llm-platform-pool"), None)


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
    # 1,000.006 USD; 7/day x 1 turn x (1 in + 1 out) at $1.23456 / $0 per million tokens.
    econ = pricing.model_economics(1000.006, 1.5, 7, 1, 1, 1, ("api", 1.23456, 0.0))
    assert econ.monthly_usd == 1000.01
    assert econ.conversations_per_month == 212.9  # 7 x 30.4167 = 212.9167
    assert econ.usd_per_1k_conversations == 4696.7014  # 4,696.70137
    assert econ.hosted_usd_per_1k_conversations == 0.0012  # 1.23456e-6 x 1000
    assert econ.hosted_monthly_usd == 0.0  # 212.9 x $1.23456e-6 = $0.00026
    # 1000.006 / 1.23456e-6 / 30.4167 = 26,630,467.20 conversations a day
    assert econ.break_even_conversations_per_day == 26630467.2


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
